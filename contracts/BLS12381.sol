// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// BLS12-381 over the EIP-2537 precompiles (Prague): point addition, pairing check and
/// RFC 9380 hash_to_curve to G2 (expand_message_xmd with SHA-256, hash_to_field via MODEXP,
/// then MAP_FP2_TO_G2, which clears the cofactor, twice and G2ADD).
library BLS12381 {
    address internal constant MODEXP = address(0x05);
    address internal constant G1ADD = address(0x0b);
    address internal constant G2ADD = address(0x0d);
    address internal constant PAIRING_CHECK = address(0x0f);
    address internal constant MAP_FP2_TO_G2 = address(0x11);

    // p as 64 bytes big-endian (16 zero bytes + 48), split into two words.
    uint256 internal constant P_HI = 0x000000000000000000000000000000001a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
    // (p - 1) / 2: a y coordinate above it sets the "lexicographically largest" flag of ZCash encoding.
    uint256 internal constant HALF_P_HI = 0x0d0088f51cbff34d258dd3db21a5d66b;
    uint256 internal constant HALF_P_LO = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;

    /// -G1 generator in EIP-2537 encoding: e(P, Q) * e(-G1, S) == 1 checks e(P, Q) == e(G1, S).
    bytes internal constant NEG_G1 =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f267816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca";

    /// A precompile call failed: invalid encoding, point off the curve or outside the subgroup.
    error PrecompileFailed(address precompile);

    function g1Add(bytes memory a, bytes memory b) internal view returns (bytes memory) {
        return callPrecompile(G1ADD, abi.encodePacked(a, b), 128);
    }

    function g2Add(bytes memory a, bytes memory b) internal view returns (bytes memory) {
        return callPrecompile(G2ADD, abi.encodePacked(a, b), 256);
    }

    /// True when the product of pairings of the concatenated (G1, G2) pairs is 1.
    function pairingCheck(bytes memory pairs) internal view returns (bool) {
        return abi.decode(callPrecompile(PAIRING_CHECK, pairs, 32), (uint256)) == 1;
    }

    /// hash_to_curve(message) for BLS12381G2_XMD:SHA-256_SSWU_RO_ with the given DST.
    function hashToG2(bytes memory message, bytes memory dst) internal view returns (bytes memory) {
        bytes memory uniform = expandMessageXmd(message, dst);
        bytes memory q0 = callPrecompile(
            MAP_FP2_TO_G2, abi.encodePacked(reduceModP(uniform, 0), reduceModP(uniform, 64)), 256
        );
        bytes memory q1 = callPrecompile(
            MAP_FP2_TO_G2, abi.encodePacked(reduceModP(uniform, 128), reduceModP(uniform, 192)), 256
        );
        return g2Add(q0, q1);
    }

    /// RFC 9380 expand_message_xmd with SHA-256 and len_in_bytes = 256 (2 Fp2 elements, L = 64).
    function expandMessageXmd(bytes memory message, bytes memory dst) internal pure returns (bytes memory out) {
        require(dst.length <= 255, "DST too long");
        bytes memory dstPrime = abi.encodePacked(dst, uint8(dst.length));
        // Z_pad (64 zero bytes) || msg || I2OSP(256, 2) || I2OSP(0, 1) || DST_prime
        bytes32 b0 = sha256(abi.encodePacked(bytes32(0), bytes32(0), message, uint16(256), uint8(0), dstPrime));
        bytes32 bi = sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        out = new bytes(256);
        assembly {
            mstore(add(out, 32), bi)
        }
        for (uint256 i = 2; i <= 8; i++) {
            bi = sha256(abi.encodePacked(b0 ^ bi, uint8(i), dstPrime));
            assembly {
                mstore(add(out, mul(i, 32)), bi)
            }
        }
    }

    /// OS2IP(data[offset:offset+64]) mod p, as a 64-byte EIP-2537 field element (MODEXP, e = 1).
    function reduceModP(bytes memory data, uint256 offset) internal view returns (bytes memory) {
        bytes32 hi;
        bytes32 lo;
        assembly {
            hi := mload(add(add(data, 32), offset))
            lo := mload(add(add(data, 64), offset))
        }
        return callPrecompile(
            MODEXP, abi.encodePacked(uint256(64), uint256(1), uint256(64), hi, lo, uint8(1), P_HI, P_LO), 64
        );
    }

    /// ZCash compressed encoding (48 bytes) of an EIP-2537 G1 point, as signed by a proof of possession.
    function compressG1(bytes memory point) internal pure returns (bytes memory) {
        uint256 xHi;
        uint256 xLo;
        uint256 yHi;
        uint256 yLo;
        assembly {
            xHi := mload(add(point, 32))
            xLo := mload(add(point, 64))
            yHi := mload(add(point, 96))
            yLo := mload(add(point, 128))
        }
        bool largestY = yHi > HALF_P_HI || (yHi == HALF_P_HI && yLo > HALF_P_LO);
        // The top three bits of x are free (p < 2^381): compression flag 0x80, sort flag 0x20.
        uint128 flags = uint128(largestY ? 0xa0 : 0x80) << 120;
        return abi.encodePacked(uint128(xHi) | flags, xLo);
    }

    function isZero(bytes memory data) internal pure returns (bool) {
        for (uint256 i = 0; i < data.length; i += 32) {
            bytes32 word;
            assembly {
                word := mload(add(add(data, 32), i))
            }
            if (word != bytes32(0)) return false;
        }
        return true;
    }

    function callPrecompile(address precompile, bytes memory input, uint256 outputLength)
        private
        view
        returns (bytes memory output)
    {
        bool ok;
        (ok, output) = precompile.staticcall(input);
        if (!ok || output.length != outputLength) revert PrecompileFailed(precompile);
    }
}
