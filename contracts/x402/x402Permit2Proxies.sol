// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Proofgate's own implementation of x402's two Permit2 payment proxies, written for the local chain
// so that @x402/evm's client and facilitator code runs unmodified against it.
//
// What it is compatible with: the ABI that @x402/evm 2.27.0 ships (x402ExactPermit2ProxyABI,
// x402UptoPermit2ProxyABI) and the behaviour of x402's `contracts/evm` proxies as of x402 commit
// 84ffb641 (2026-05-15; x402ExactPermit2Proxy / x402UptoPermit2Proxy / x402BasePermit2Proxy unchanged
// since 915d7930, 2026-04-14): the same selectors, witness structs, witness type strings and
// typehashes, events, custom errors, order of checks and EIP-2612 fallback. It is not x402's code
// and not x402's bytecode, so it cannot come out at x402's CREATE2 addresses;
// chain/permit2.ts puts its runtime code there with anvil_setCode. For that to be exact the runtime
// code must not depend on its constructor or deployment address: Permit2's address is a constant
// (x402 passes it to the constructor and keeps it as an immutable), there is no constructor and no
// persistent storage (the reentrancy lock is transient, EIP-1153).

/// @notice The part of Uniswap Permit2's SignatureTransfer that the proxies call.
interface ISignatureTransfer {
    struct TokenPermissions {
        address token;
        uint256 amount;
    }

    struct PermitTransferFrom {
        TokenPermissions permitted;
        uint256 nonce;
        uint256 deadline;
    }

    struct SignatureTransferDetails {
        address to;
        uint256 requestedAmount;
    }

    function permitWitnessTransferFrom(
        PermitTransferFrom calldata permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 witness,
        string calldata witnessTypeString,
        bytes calldata signature
    ) external;
}

/// @notice EIP-2612's permit, the only token call the proxies make themselves.
interface IEIP2612 {
    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;
}

/// @notice What both proxies share: the Permit2 spender role, the checks every settlement passes,
///         the optional EIP-2612 approval of Permit2, and a transient reentrancy lock.
abstract contract X402Permit2Spender {
    /// @notice Uniswap Permit2 at its canonical address (the same on every chain).
    ISignatureTransfer public constant PERMIT2 = ISignatureTransfer(0x000000000022D473030F116dDEE9F6B43aC78BA3);

    event Settled();
    event SettledWithPermit();
    event EIP2612PermitFailedWithReason(address indexed token, address indexed owner, string reason);
    event EIP2612PermitFailedWithPanic(address indexed token, address indexed owner, uint256 errorCode);
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    /// @dev Part of the ABI x402 publishes; never raised here, since Permit2's address is a constant.
    error InvalidPermit2Address();
    error InvalidDestination();
    error PaymentTooEarly();
    error InvalidOwner();
    error InvalidAmount();
    error Permit2612AmountMismatch();
    error ReentrancyGuardReentrantCall();

    /// @notice An EIP-2612 approval of Permit2 by the payer, sent along with the payment.
    struct EIP2612Permit {
        uint256 value;
        uint256 deadline;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    bool private transient entered;

    modifier nonReentrant() {
        if (entered) revert ReentrancyGuardReentrantCall();
        entered = true;
        _;
        entered = false;
    }

    /// @dev Moves `amount` of the permitted token from `owner` to `to` through Permit2, which checks
    ///      the owner's signature over the permit, this contract as spender, the witness and the nonce.
    function _transferWithWitness(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        address to,
        uint256 validAfter,
        bytes32 witnessHash,
        string memory witnessTypeString,
        bytes calldata signature
    ) internal {
        if (amount == 0) revert InvalidAmount();
        if (owner == address(0)) revert InvalidOwner();
        if (to == address(0)) revert InvalidDestination();
        if (block.timestamp < validAfter) revert PaymentTooEarly();
        PERMIT2.permitWitnessTransferFrom(
            permit,
            ISignatureTransfer.SignatureTransferDetails({to: to, requestedAmount: amount}),
            owner,
            witnessHash,
            witnessTypeString,
            signature
        );
    }

    /// @dev Tries the payer's EIP-2612 approval of Permit2. Its value must be the permitted amount; a
    ///      failing permit() (already used, unsupported) only logs, as the approval may already exist.
    function _approvePermit2(address token, address owner, EIP2612Permit calldata p, uint256 permitted) internal {
        if (p.value != permitted) revert Permit2612AmountMismatch();
        try IEIP2612(token).permit(owner, address(PERMIT2), p.value, p.deadline, p.v, p.r, p.s) {}
        catch Error(string memory reason) {
            emit EIP2612PermitFailedWithReason(token, owner, reason);
        } catch Panic(uint256 errorCode) {
            emit EIP2612PermitFailedWithPanic(token, owner, errorCode);
        } catch (bytes memory data) {
            emit EIP2612PermitFailedWithData(token, owner, data);
        }
    }
}

/// @notice x402 `exact` over Permit2: always transfers exactly the permitted amount to the payee the
///         payer signed (the witness), no earlier than the signed validAfter.
contract x402ExactPermit2Proxy is X402Permit2Spender {
    string public constant WITNESS_TYPE_STRING =
        "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)";
    bytes32 public constant WITNESS_TYPEHASH = keccak256("Witness(address to,uint256 validAfter)");

    struct Witness {
        address to;
        uint256 validAfter;
    }

    function settle(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external nonReentrant {
        _pay(permit, owner, witness, signature);
        emit Settled();
    }

    function settleWithPermit(
        EIP2612Permit calldata permit2612,
        ISignatureTransfer.PermitTransferFrom calldata permit,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external nonReentrant {
        _approvePermit2(permit.permitted.token, owner, permit2612, permit.permitted.amount);
        _pay(permit, owner, witness, signature);
        emit SettledWithPermit();
    }

    function _pay(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) private {
        bytes32 witnessHash = keccak256(abi.encode(WITNESS_TYPEHASH, witness.to, witness.validAfter));
        _transferWithWitness(
            permit, permit.permitted.amount, owner, witness.to, witness.validAfter, witnessHash, WITNESS_TYPE_STRING, signature
        );
    }
}

/// @notice x402 `upto` over Permit2: the payer signs a maximum; the facilitator named in the witness
///         (and only it) settles any amount up to that maximum.
contract x402UptoPermit2Proxy is X402Permit2Spender {
    string public constant WITNESS_TYPE_STRING =
        "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)";
    bytes32 public constant WITNESS_TYPEHASH = keccak256("Witness(address to,address facilitator,uint256 validAfter)");

    error UnauthorizedFacilitator();
    error AmountExceedsPermitted();

    struct Witness {
        address to;
        address facilitator;
        uint256 validAfter;
    }

    function settle(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external nonReentrant {
        _checkCaller(permit, amount, witness);
        _pay(permit, amount, owner, witness, signature);
        emit Settled();
    }

    function settleWithPermit(
        EIP2612Permit calldata permit2612,
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external nonReentrant {
        _checkCaller(permit, amount, witness);
        _approvePermit2(permit.permitted.token, owner, permit2612, permit.permitted.amount);
        _pay(permit, amount, owner, witness, signature);
        emit SettledWithPermit();
    }

    function _checkCaller(ISignatureTransfer.PermitTransferFrom calldata permit, uint256 amount, Witness calldata witness)
        private
        view
    {
        if (amount > permit.permitted.amount) revert AmountExceedsPermitted();
        if (msg.sender != witness.facilitator) revert UnauthorizedFacilitator();
    }

    function _pay(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) private {
        bytes32 witnessHash =
            keccak256(abi.encode(WITNESS_TYPEHASH, witness.to, witness.facilitator, witness.validAfter));
        _transferWithWitness(
            permit, amount, owner, witness.to, witness.validAfter, witnessHash, WITNESS_TYPE_STRING, signature
        );
    }
}
