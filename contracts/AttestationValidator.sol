// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// The transaction someone wants to execute; hashed as
/// keccak256(abi.encode(from, to, value, data, chainId)) exactly as core/attestation/intent-hash.ts.
struct Intent {
    address from;
    address to;
    uint256 value;
    bytes data;
    uint256 chainId;
}

/// An operator quorum's attestation as the chain receives it. Off-chain operator ids map to
/// `keccak256(bytes(id))`; `signerIds` must be strictly ascending so each signer counts once.
/// `signature` is the aggregate BLS signature as an uncompressed 256-byte EIP-2537 G2 point.
struct AttestationData {
    bytes32 taskId;
    bytes32 policyId;
    address policyClient;
    uint256 chainId;
    Intent intent;
    bool allowed;
    bytes32 policyDataHash;
    uint64 expiration;
    bytes32[] signerIds;
    bytes signature;
}

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

/// On-chain AttestationValidator: a stake-weighted operator registry (keys admitted with a proof
/// of possession) and single-use verification of aggregate BLS attestations for protected contracts.
contract AttestationValidator {
    bytes public constant SIGNATURE_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    bytes public constant POP_DST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    uint256 public constant BPS_DENOMINATOR = 10_000;

    struct Operator {
        bytes publicKey; // 128-byte EIP-2537 G1 point
        uint96 stake;
        bool active;
    }

    address public owner;
    uint16 public thresholdBps;
    uint256 public totalActiveStake;
    mapping(bytes32 => Operator) private operators;
    mapping(bytes32 => bool) public consumed;
    // keccak256 of every key ever registered: one key under two ids would count its stake twice.
    mapping(bytes32 => bool) private registeredKeys;

    event OperatorRegistered(bytes32 indexed id, uint96 stake);
    event OperatorDeactivated(bytes32 indexed id);
    event ThresholdChanged(uint16 thresholdBps);
    event AttestationConsumed(bytes32 indexed digest, address indexed policyClient, bytes32 taskId);

    error NotOwner();
    error InvalidThreshold();
    error OperatorExists(bytes32 id);
    error KeyAlreadyRegistered();
    error UnknownOperator(bytes32 id);
    error InvalidPublicKey();
    error InvalidProofOfPossession();
    error WrongCaller();
    error WrongChain();
    error NotAllowed();
    error Expired();
    error AlreadyConsumed(bytes32 digest);
    error NoSigners();
    error SignersNotSorted();
    error InactiveSigner(bytes32 id);
    error QuorumNotMet(uint256 signedStake, uint256 totalStake);
    error InvalidSignature();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor(uint16 thresholdBps_) {
        owner = msg.sender;
        _setThreshold(thresholdBps_);
    }

    /// Registers an operator after checking its proof of possession: a BLS signature under POP_DST
    /// over the key's compressed encoding. This is what makes same-message aggregation safe.
    function registerOperator(bytes32 id, bytes calldata publicKey, bytes calldata proofOfPossession, uint96 stake)
        external
        onlyOwner
    {
        if (operators[id].publicKey.length != 0) revert OperatorExists(id);
        if (publicKey.length != 128 || BLS12381.isZero(publicKey)) revert InvalidPublicKey();
        bytes32 keyHash = keccak256(publicKey);
        if (registeredKeys[keyHash]) revert KeyAlreadyRegistered();
        if (proofOfPossession.length != 256 || BLS12381.isZero(proofOfPossession)) revert InvalidProofOfPossession();
        bytes memory message = BLS12381.hashToG2(BLS12381.compressG1(publicKey), POP_DST);
        // The pairing precompile also rejects keys off the curve or outside the subgroup.
        if (!BLS12381.pairingCheck(abi.encodePacked(publicKey, message, BLS12381.NEG_G1, proofOfPossession))) {
            revert InvalidProofOfPossession();
        }
        registeredKeys[keyHash] = true;
        operators[id] = Operator({publicKey: publicKey, stake: stake, active: true});
        totalActiveStake += stake;
        emit OperatorRegistered(id, stake);
    }

    /// Removes an operator from signing and from the total stake; its id cannot be reused.
    function deactivateOperator(bytes32 id) external onlyOwner {
        Operator storage operator = operators[id];
        if (!operator.active) revert UnknownOperator(id);
        operator.active = false;
        totalActiveStake -= operator.stake;
        emit OperatorDeactivated(id);
    }

    function setThreshold(uint16 thresholdBps_) external onlyOwner {
        _setThreshold(thresholdBps_);
    }

    function operatorOf(bytes32 id) external view returns (bytes memory publicKey, uint96 stake, bool active) {
        Operator storage operator = operators[id];
        return (operator.publicKey, operator.stake, operator.active);
    }

    /// keccak256(abi.encode(from, to, value, data, chainId)).
    function intentHash(Intent calldata intent) public pure returns (bytes32) {
        return keccak256(abi.encode(intent.from, intent.to, intent.value, intent.data, intent.chainId));
    }

    /// The digest operators sign; same encoding as core/attestation/attestation-digest.ts.
    function digestOf(AttestationData calldata a) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                a.taskId,
                a.policyId,
                a.policyClient,
                a.chainId,
                intentHash(a.intent),
                a.allowed,
                a.policyDataHash,
                a.expiration
            )
        );
    }

    /// hash_to_curve G2 under any DST, exposed so off-chain code can check interoperability.
    function hashToG2(bytes calldata message, bytes calldata dst) external view returns (bytes memory) {
        return BLS12381.hashToG2(message, dst);
    }

    /// Verifies an attestation for the calling protected contract (which must be its policyClient)
    /// and marks it used: chain, verdict, expiry, single use, signer set, quorum and BLS signature.
    function consume(AttestationData calldata a) external returns (bytes32 digest) {
        if (msg.sender != a.policyClient) revert WrongCaller();
        if (a.chainId != block.chainid || a.intent.chainId != block.chainid) revert WrongChain();
        if (!a.allowed) revert NotAllowed();
        if (block.timestamp > a.expiration) revert Expired();
        digest = digestOf(a);
        if (consumed[digest]) revert AlreadyConsumed(digest);
        _verifyQuorumSignature(digest, a.signerIds, a.signature);
        consumed[digest] = true;
        emit AttestationConsumed(digest, a.policyClient, a.taskId);
    }

    function _verifyQuorumSignature(bytes32 digest, bytes32[] calldata signerIds, bytes calldata signature)
        private
        view
    {
        if (signerIds.length == 0) revert NoSigners();
        if (signature.length != 256 || BLS12381.isZero(signature)) revert InvalidSignature();
        bytes memory aggregateKey;
        uint256 signedStake;
        for (uint256 i = 0; i < signerIds.length; i++) {
            bytes32 id = signerIds[i];
            if (i > 0 && id <= signerIds[i - 1]) revert SignersNotSorted();
            Operator storage operator = operators[id];
            if (!operator.active) revert InactiveSigner(id);
            signedStake += operator.stake;
            // Registered keys passed the subgroup check at registration, so plain addition suffices.
            aggregateKey = i == 0 ? operator.publicKey : BLS12381.g1Add(aggregateKey, operator.publicKey);
        }
        if (signedStake * BPS_DENOMINATOR < totalActiveStake * thresholdBps) {
            revert QuorumNotMet(signedStake, totalActiveStake);
        }
        // An identity aggregate key would pair to 1 with the identity; never accept it.
        if (BLS12381.isZero(aggregateKey)) revert InvalidSignature();
        bytes memory message = BLS12381.hashToG2(abi.encodePacked(digest), SIGNATURE_DST);
        if (!BLS12381.pairingCheck(abi.encodePacked(aggregateKey, message, BLS12381.NEG_G1, signature))) {
            revert InvalidSignature();
        }
    }

    function _setThreshold(uint16 thresholdBps_) private {
        if (thresholdBps_ == 0 || thresholdBps_ > BPS_DENOMINATOR) revert InvalidThreshold();
        thresholdBps = thresholdBps_;
        emit ThresholdChanged(thresholdBps_);
    }
}

/// Example protected contract: pays out ether only for an intent that a valid, unused
/// attestation under its policy allows, with the intent matching the call exactly.
contract ProtectedVault {
    AttestationValidator public immutable validator;
    bytes32 public immutable policyId;

    event Withdrawn(address indexed to, uint256 amount, bytes32 digest);

    error WrongPolicy();
    error IntentMismatch();
    error TransferFailed();

    constructor(AttestationValidator validator_, bytes32 policyId_) payable {
        validator = validator_;
        policyId = policyId_;
    }

    receive() external payable {}

    /// Sends `amount` wei to `to` when `a` attests the intent {msg.sender -> to, amount, no data}.
    function withdraw(address payable to, uint256 amount, AttestationData calldata a) external {
        if (a.policyId != policyId) revert WrongPolicy();
        Intent calldata intent = a.intent;
        if (intent.from != msg.sender || intent.to != to || intent.value != amount || intent.data.length != 0) {
            revert IntentMismatch();
        }
        bytes32 digest = validator.consume(a);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
        emit Withdrawn(to, amount, digest);
    }
}
