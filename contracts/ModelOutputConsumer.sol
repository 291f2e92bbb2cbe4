// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AttestationValidator, InferenceAttestationData} from "./AttestationValidator.sol";

/// Example relying contract: acts on a model's output only when a quorum of staked operators attested
/// it. It is handed the output as canonical tensor bytes (core/tensors: the preimage of the
/// attestation's outputHash), hashes them with the sha256 precompile and compares; checks that the
/// attestation is for its model, under its quorum and within its tolerance bounds, and uses it once
/// (AttestationValidator.consumeInference); then records the output for the input and emits the
/// first output tensor, decoded from the bytes it was given.
contract ModelOutputConsumer {
    AttestationValidator public immutable validator;
    /// sha256 of the ONNX bytes of the only model whose outputs this contract takes.
    bytes32 public immutable modelSha256;
    /// The share of operator stake (basis points) an attestation must hold.
    uint16 public immutable requiredThresholdBps;
    /// The loosest agreement accepted, as binary64 bits (0: operators' outputs were identical).
    uint64 public immutable maxAbsoluteTolerance;
    uint64 public immutable maxRelativeTolerance;

    /// The attested output hash accepted for each input hash.
    mapping(bytes32 => bytes32) public outputOf;

    event OutputAccepted(
        bytes32 indexed inputHash, bytes32 outputHash, bytes32 requestId, string firstOutputName, string firstOutputType, bytes firstOutputData
    );

    error WrongModel();
    error OutputMismatch(bytes32 attested, bytes32 received);
    error ToleranceTooLoose();
    error MalformedTensors();

    constructor(
        AttestationValidator validator_,
        bytes32 modelSha256_,
        uint16 requiredThresholdBps_,
        uint64 maxAbsoluteTolerance_,
        uint64 maxRelativeTolerance_
    ) {
        validator = validator_;
        modelSha256 = modelSha256_;
        requiredThresholdBps = requiredThresholdBps_;
        maxAbsoluteTolerance = maxAbsoluteTolerance_;
        maxRelativeTolerance = maxRelativeTolerance_;
    }

    /// Takes `outputs` (canonical tensor bytes) as the model's answer for `a.inputHash` when `a`
    /// attests exactly these bytes; reverts with the reason otherwise.
    function accept(bytes calldata outputs, InferenceAttestationData calldata a) external {
        if (a.modelSha256 != modelSha256) revert WrongModel();
        bytes32 received = sha256(outputs);
        if (received != a.outputHash) revert OutputMismatch(a.outputHash, received);
        if (a.absoluteTolerance > maxAbsoluteTolerance || a.relativeTolerance > maxRelativeTolerance) revert ToleranceTooLoose();
        validator.consumeInference(a, requiredThresholdBps);
        (string memory name, string memory elementType, bytes memory data) = firstTensor(outputs);
        outputOf[a.inputHash] = a.outputHash;
        emit OutputAccepted(a.inputHash, a.outputHash, a.requestId, name, elementType, data);
    }

    /// The first tensor of a canonical encoding: u32le(count), then per tensor u32le(len(name)) name
    /// u8(len(type)) type u32le(ndims) u64le(dim)… u64le(len(data)) data (little-endian element bytes).
    function firstTensor(bytes calldata t) public pure returns (string memory name, string memory elementType, bytes memory data) {
        if (_readLe(t, 0, 4) == 0) revert MalformedTensors();
        uint256 p = 4;
        uint256 n = _readLe(t, p, 4);
        p += 4;
        name = string(_slice(t, p, n));
        p += n;
        n = _readLe(t, p, 1);
        p += 1;
        elementType = string(_slice(t, p, n));
        p += n;
        p += 4 + 8 * _readLe(t, p, 4);
        n = _readLe(t, p, 8);
        p += 8;
        data = _slice(t, p, n);
    }

    function _slice(bytes calldata t, uint256 offset, uint256 length) private pure returns (bytes calldata) {
        if (offset > t.length || length > t.length - offset) revert MalformedTensors();
        return t[offset:offset + length];
    }

    function _readLe(bytes calldata t, uint256 offset, uint256 size) private pure returns (uint256 value) {
        bytes calldata word = _slice(t, offset, size);
        for (uint256 i = 0; i < size; i++) {
            value |= uint256(uint8(word[i])) << (8 * i);
        }
    }
}
