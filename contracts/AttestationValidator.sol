// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {BLS12381} from "./BLS12381.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";

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
/// `thresholdBps` and `registryBlock` are signed: the policy's quorum and the registry snapshot.
struct AttestationData {
    bytes32 taskId;
    bytes32 policyId;
    address policyClient;
    uint256 chainId;
    Intent intent;
    bool allowed;
    bytes32 policyDataHash;
    uint64 expiration;
    uint16 thresholdBps;
    uint64 registryBlock;
    bytes32[] signerIds;
    bytes signature;
}

/// A model output attested by an operator quorum (core/attestation/inference-attestation.ts), as the
/// chain receives it. The tolerances are the IEEE-754 binary64 bits of non-negative numbers, which
/// order like the numbers: a relying contract bounds them as unsigned integers. `signerIds` as above.
struct InferenceAttestationData {
    bytes32 requestId;
    bytes32 modelSha256;
    bytes32 inputHash;
    bytes32 outputHash;
    uint256 chainId;
    uint64 expiration;
    uint64 absoluteTolerance;
    uint64 relativeTolerance;
    uint16 thresholdBps;
    uint64 registryBlock;
    bytes32[] signerIds;
    bytes signature;
}

/// On-chain AttestationValidator: verifies aggregate BLS attestations against the OperatorRegistry
/// as it stood at the attestation's snapshot block, under the quorum of the relying contract's own
/// policy, and marks them used once, for their policy client only.
contract AttestationValidator {
    bytes public constant SIGNATURE_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    /// Leads the digest of intent attestations (core/attestation/attestation-digest.ts).
    bytes32 public constant INTENT_ATTESTATION_TYPEHASH = keccak256("Proofgate.IntentAttestation.v2");
    uint256 public constant BPS_DENOMINATOR = 10_000;
    /// Leads the digest of inference attestations (core/attestation/inference-attestation.ts).
    bytes32 public constant INFERENCE_ATTESTATION_TYPEHASH = keccak256("Proofgate.InferenceAttestation.v1");

    OperatorRegistry public immutable registry;
    /// No policy may ask for less than this share of stake.
    uint16 public immutable minThresholdBps;
    mapping(bytes32 => bool) public consumed;
    /// Inference attestations used, by keccak256(abi.encode(digest, consumer)): once per relying contract.
    mapping(bytes32 => bool) public inferenceConsumed;

    event AttestationConsumed(bytes32 indexed digest, address indexed policyClient, bytes32 taskId);
    event InferenceAttestationConsumed(bytes32 indexed digest, address indexed consumer, bytes32 requestId);

    error InvalidThreshold();
    error ThresholdMismatch(uint16 attested, uint16 policy);
    error ThresholdTooLow(uint16 attested, uint16 required);
    error WrongCaller();
    error WrongChain();
    error NotAllowed();
    error Expired();
    error SnapshotNotFinal(uint64 registryBlock);
    error AlreadyConsumed(bytes32 digest);
    error NoSigners();
    error SignersNotSorted();
    error InactiveSigner(bytes32 id);
    error QuorumNotMet(uint256 signedStake, uint256 totalStake);
    error InvalidSignature();

    constructor(OperatorRegistry registry_, uint16 minThresholdBps_) {
        if (minThresholdBps_ == 0 || minThresholdBps_ > BPS_DENOMINATOR) revert InvalidThreshold();
        registry = registry_;
        minThresholdBps = minThresholdBps_;
    }

    /// keccak256(abi.encode(from, to, value, data, chainId)).
    function intentHash(Intent calldata intent) public pure returns (bytes32) {
        return keccak256(abi.encode(intent.from, intent.to, intent.value, intent.data, intent.chainId));
    }

    /// The digest operators sign; the same encoding as core/attestation/attestation-digest.ts. Every
    /// field is static, so the two halves concatenated are exactly abi.encode of all twelve.
    function digestOf(AttestationData calldata a) public view returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(INTENT_ATTESTATION_TYPEHASH, a.taskId, a.policyId, a.policyClient, a.chainId, intentHash(a.intent)),
                abi.encode(a.allowed, a.policyDataHash, a.expiration, a.thresholdBps, address(registry), a.registryBlock)
            )
        );
    }

    /// hash_to_curve G2 under any DST, exposed so off-chain code can check interoperability.
    function hashToG2(bytes calldata message, bytes calldata dst) external view returns (bytes memory) {
        return BLS12381.hashToG2(message, dst);
    }

    /// Checks an attestation as `consume` does, except the caller and single use, under the quorum
    /// the relying party's policy asks (`policyThresholdBps`, which the attestation must have been
    /// signed with); returns its digest. Reverts with the reason when it does not hold.
    function verify(AttestationData calldata a, uint16 policyThresholdBps) public view returns (bytes32 digest) {
        if (policyThresholdBps < minThresholdBps || policyThresholdBps > BPS_DENOMINATOR) revert InvalidThreshold();
        if (a.thresholdBps != policyThresholdBps) revert ThresholdMismatch(a.thresholdBps, policyThresholdBps);
        if (a.chainId != block.chainid || a.intent.chainId != block.chainid) revert WrongChain();
        if (!a.allowed) revert NotAllowed();
        if (block.timestamp > a.expiration) revert Expired();
        digest = digestOf(a);
        verifyQuorum(digest, a.registryBlock, policyThresholdBps, a.signerIds, a.signature);
    }

    /// Verifies an attestation for the calling protected contract, which must be its policy client
    /// (so nobody else can burn it), and marks it used.
    function consume(AttestationData calldata a, uint16 policyThresholdBps) external returns (bytes32 digest) {
        if (msg.sender != a.policyClient) revert WrongCaller();
        digest = verify(a, policyThresholdBps);
        if (consumed[digest]) revert AlreadyConsumed(digest);
        consumed[digest] = true;
        emit AttestationConsumed(digest, a.policyClient, a.taskId);
    }

    /// The digest operators sign for a model output; the same encoding as core/attestation's
    /// computeInferenceDigest: keccak256(abi.encode(typehash, requestId, modelSha256, inputHash,
    /// outputHash, chainId, expiration, absoluteTolerance, relativeTolerance, thresholdBps, registry,
    /// registryBlock)). Every field is static, so the two halves concatenated are that encoding.
    function inferenceDigestOf(InferenceAttestationData calldata a) public view returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(INFERENCE_ATTESTATION_TYPEHASH, a.requestId, a.modelSha256, a.inputHash, a.outputHash, a.chainId),
                abi.encode(a.expiration, a.absoluteTolerance, a.relativeTolerance, a.thresholdBps, address(registry), a.registryBlock)
            )
        );
    }

    /// Checks an inference attestation as `consumeInference` does, except single use, under the quorum
    /// the relying contract requires (`requiredThresholdBps`; the attestation must have been signed
    /// with at least it, and its signers must hold the quorum it was signed with); returns its digest.
    /// What the output is, and how loose its agreement may be, is the relying contract's to check.
    function verifyInference(InferenceAttestationData calldata a, uint16 requiredThresholdBps) public view returns (bytes32 digest) {
        if (requiredThresholdBps < minThresholdBps || requiredThresholdBps > BPS_DENOMINATOR) revert InvalidThreshold();
        if (a.thresholdBps < requiredThresholdBps) revert ThresholdTooLow(a.thresholdBps, requiredThresholdBps);
        if (a.thresholdBps > BPS_DENOMINATOR) revert InvalidThreshold();
        if (a.chainId != block.chainid) revert WrongChain();
        if (block.timestamp > a.expiration) revert Expired();
        digest = inferenceDigestOf(a);
        verifyQuorum(digest, a.registryBlock, a.thresholdBps, a.signerIds, a.signature);
    }

    /// Verifies an inference attestation and marks it used for the calling contract: each relying
    /// contract may act on it once, and nobody can use it up for another.
    function consumeInference(InferenceAttestationData calldata a, uint16 requiredThresholdBps) external returns (bytes32 digest) {
        digest = verifyInference(a, requiredThresholdBps);
        bytes32 key = keccak256(abi.encode(digest, msg.sender));
        if (inferenceConsumed[key]) revert AlreadyConsumed(digest);
        inferenceConsumed[key] = true;
        emit InferenceAttestationConsumed(digest, msg.sender, a.requestId);
    }

    /// The check every kind of attestation shares: `signerIds` (strictly ascending) held positive
    /// stake in the registry at `registryBlock`, together at least `thresholdBps` of the positive
    /// total stake then, and `signature` is their aggregate BLS signature over `digest`.
    function verifyQuorum(
        bytes32 digest,
        uint64 registryBlock,
        uint16 thresholdBps,
        bytes32[] calldata signerIds,
        bytes calldata signature
    ) public view {
        // Operators sign only under sealed blocks, so a transaction always runs after its snapshot's
        // block; a call at the head (eth_call) runs in that sealed block itself. A later block has no snapshot yet.
        if (registryBlock > block.number) revert SnapshotNotFinal(registryBlock);
        if (signerIds.length == 0) revert NoSigners();
        if (signature.length != 256 || BLS12381.isZero(signature)) revert InvalidSignature();
        bytes memory aggregateKey;
        uint256 signedStake;
        for (uint256 i = 0; i < signerIds.length; i++) {
            bytes32 id = signerIds[i];
            if (i > 0 && id <= signerIds[i - 1]) revert SignersNotSorted();
            uint256 stake = registry.stakeAt(id, registryBlock);
            // Zero stake is no membership: such a key never adds to a quorum.
            if (stake == 0) revert InactiveSigner(id);
            signedStake += stake;
            bytes memory key = registry.publicKeyOf(id);
            // Registered keys passed the subgroup check at registration, so plain addition suffices.
            aggregateKey = i == 0 ? key : BLS12381.g1Add(aggregateKey, key);
        }
        uint256 totalStake = registry.totalStakeAt(registryBlock);
        if (totalStake == 0 || signedStake * BPS_DENOMINATOR < totalStake * thresholdBps) {
            revert QuorumNotMet(signedStake, totalStake);
        }
        // An identity aggregate key would pair to 1 with the identity; never accept it.
        if (BLS12381.isZero(aggregateKey)) revert InvalidSignature();
        bytes memory message = BLS12381.hashToG2(abi.encodePacked(digest), SIGNATURE_DST);
        if (!BLS12381.pairingCheck(abi.encodePacked(aggregateKey, message, BLS12381.NEG_G1, signature))) {
            revert InvalidSignature();
        }
    }
}

/// Example protected contract: pays out ether only for an intent that a valid, unused
/// attestation under its policy allows, with the intent matching the call exactly.
contract ProtectedVault {
    AttestationValidator public immutable validator;
    bytes32 public immutable policyId;
    /// The quorum the policy asks (part of the policy's content, so of its id).
    uint16 public immutable policyThresholdBps;

    event Withdrawn(address indexed to, uint256 amount, bytes32 digest);

    error WrongPolicy();
    error IntentMismatch();
    error TransferFailed();

    constructor(AttestationValidator validator_, bytes32 policyId_, uint16 policyThresholdBps_) payable {
        validator = validator_;
        policyId = policyId_;
        policyThresholdBps = policyThresholdBps_;
    }

    receive() external payable {}

    /// Sends `amount` wei to `to` when `a` attests the intent {msg.sender -> to, amount, no data}.
    function withdraw(address payable to, uint256 amount, AttestationData calldata a) external {
        if (a.policyId != policyId) revert WrongPolicy();
        Intent calldata intent = a.intent;
        if (intent.from != msg.sender || intent.to != to || intent.value != amount || intent.data.length != 0) {
            revert IntentMismatch();
        }
        bytes32 digest = validator.consume(a, policyThresholdBps);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
        emit Withdrawn(to, amount, digest);
    }
}
