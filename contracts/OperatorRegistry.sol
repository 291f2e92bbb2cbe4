// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {BLS12381} from "./BLS12381.sol";

/// The source of truth for operators: their BLS keys (admitted only with a proof of possession),
/// their stakes, and so their membership (an operator is a member at a block when its stake there is
/// positive). Every stake change is checkpointed by block, so the gateway, the off-chain library and
/// AttestationValidator all judge an attestation against the registry as it stood at the block the
/// attestation names, however stakes move afterwards.
///
/// Operators are named by a string (the gateway's operator id, e.g. "operator-1"); on chain an
/// operator is keyed by keccak256(bytes(name)). Keys and names never change once registered.
contract OperatorRegistry {
    bytes public constant POP_DST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    uint256 private constant MAX_NAME_BYTES = 64;

    /// A value from `fromBlock` on (until the next checkpoint).
    struct Checkpoint {
        uint64 fromBlock;
        uint192 value;
    }

    struct Operator {
        string name;
        bytes publicKey; // 128-byte EIP-2537 G1 point
        Checkpoint[] stake;
    }

    address public owner;
    bytes32[] private operatorIds;
    mapping(bytes32 => Operator) private operators;
    // keccak256 of every key ever registered: one key under two names would count its stake twice.
    mapping(bytes32 => bool) private registeredKeys;
    Checkpoint[] private totalStake;

    event OperatorRegistered(bytes32 indexed id, string name, bytes publicKey);
    event StakeChanged(bytes32 indexed id, uint96 stake, uint256 totalStake);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error InvalidName();
    error OperatorExists(bytes32 id);
    error UnknownOperator(bytes32 id);
    error KeyAlreadyRegistered();
    error InvalidPublicKey();
    error InvalidProofOfPossession();
    error FutureBlock(uint64 blockNumber);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// Registers an operator with its stake after checking its proof of possession: a BLS signature
    /// under POP_DST over the key's compressed encoding. This is what makes same-message aggregation
    /// safe: without it a crafted key (a·G1 − pk_victim) would let one party sign "for" another.
    function registerOperator(string calldata name, bytes calldata publicKey, bytes calldata proofOfPossession, uint96 stake)
        external
        onlyOwner
    {
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_BYTES) revert InvalidName();
        bytes32 id = keccak256(bytes(name));
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
        Operator storage operator = operators[id];
        operator.name = name;
        operator.publicKey = publicKey;
        operatorIds.push(id);
        emit OperatorRegistered(id, name, publicKey);
        _setStake(id, stake);
    }

    /// Sets an operator's stake from this block on; zero takes it out of every later quorum.
    function setStake(bytes32 id, uint96 stake) external onlyOwner {
        if (operators[id].publicKey.length == 0) revert UnknownOperator(id);
        _setStake(id, stake);
    }

    /// The operator's stake at the end of `blockNumber` (zero before it registered).
    function stakeAt(bytes32 id, uint64 blockNumber) public view returns (uint96) {
        if (blockNumber > block.number) revert FutureBlock(blockNumber);
        return uint96(_valueAt(operators[id].stake, blockNumber));
    }

    /// The sum of all stakes at the end of `blockNumber`.
    function totalStakeAt(uint64 blockNumber) public view returns (uint256) {
        if (blockNumber > block.number) revert FutureBlock(blockNumber);
        return _valueAt(totalStake, blockNumber);
    }

    /// The operator's key as a 128-byte EIP-2537 G1 point (empty when unknown).
    function publicKeyOf(bytes32 id) external view returns (bytes memory) {
        return operators[id].publicKey;
    }

    /// The operator's name (empty when unknown).
    function nameOf(bytes32 id) external view returns (string memory) {
        return operators[id].name;
    }

    /// How many operators were ever registered.
    function operatorCount() external view returns (uint256) {
        return operatorIds.length;
    }

    /// The members at the end of `blockNumber` (positive stake), in registration order: names,
    /// 48-byte compressed keys (what off-chain BLS libraries take) and stakes.
    function snapshotAt(uint64 blockNumber)
        external
        view
        returns (string[] memory names, bytes[] memory publicKeys, uint256[] memory stakes)
    {
        if (blockNumber > block.number) revert FutureBlock(blockNumber);
        uint256 count;
        for (uint256 i = 0; i < operatorIds.length; i++) {
            if (_valueAt(operators[operatorIds[i]].stake, blockNumber) > 0) count++;
        }
        names = new string[](count);
        publicKeys = new bytes[](count);
        stakes = new uint256[](count);
        uint256 j;
        for (uint256 i = 0; i < operatorIds.length; i++) {
            Operator storage operator = operators[operatorIds[i]];
            uint256 stake = _valueAt(operator.stake, blockNumber);
            if (stake == 0) continue;
            names[j] = operator.name;
            publicKeys[j] = BLS12381.compressG1(operator.publicKey);
            stakes[j] = stake;
            j++;
        }
    }

    function _setStake(bytes32 id, uint96 stake) private {
        Checkpoint[] storage history = operators[id].stake;
        uint256 previous = history.length == 0 ? 0 : history[history.length - 1].value;
        uint256 total = (totalStake.length == 0 ? 0 : totalStake[totalStake.length - 1].value) - previous + stake;
        _push(history, stake);
        _push(totalStake, total);
        emit StakeChanged(id, stake, total);
    }

    /// Records `value` from this block on; a second change in the same block replaces the first.
    function _push(Checkpoint[] storage history, uint256 value) private {
        uint64 current = uint64(block.number);
        uint256 length = history.length;
        if (length > 0 && history[length - 1].fromBlock == current) {
            history[length - 1].value = uint192(value);
        } else {
            history.push(Checkpoint({fromBlock: current, value: uint192(value)}));
        }
    }

    /// The value of the last checkpoint at or before `blockNumber` (binary search), or zero.
    function _valueAt(Checkpoint[] storage history, uint64 blockNumber) private view returns (uint256) {
        uint256 low = 0;
        uint256 high = history.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (history[mid].fromBlock > blockNumber) high = mid;
            else low = mid + 1;
        }
        return low == 0 ? 0 : history[low - 1].value;
    }
}
