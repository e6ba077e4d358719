// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAgoraRewards} from "../interfaces/IAgoraRewards.sol";

/// @title AgoraRewards
/// @notice The AGORA rewards reserve, paid out by epoch through Merkle claims ({IAgoraRewards}). Owned
/// by the DAO's timelock, which funds each ended epoch by proposal. Whatever the roots say, the
/// reserve never pays more than it holds: an epoch's total is set aside when it is funded, and no
/// epoch pays out beyond its total.
contract AgoraRewards is IAgoraRewards, Ownable {
    using SafeERC20 for IERC20;

    struct Epoch {
        bytes32 root;
        uint256 total;
        uint256 claimed;
    }

    IERC20 private immutable _token;
    uint64 private immutable _firstEpochStart;
    uint64 private immutable _epochLength;

    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => mapping(address account => bool)) private _claimed;
    /// @dev Funded but not yet claimed, over all epochs.
    uint256 private _outstanding;

    /// @param token_ The AGORA token.
    /// @param owner_ Who funds epochs (the DAO's timelock).
    /// @param firstEpochStart_ When epoch 0 starts (unix seconds).
    /// @param epochLength_ Seconds per epoch.
    constructor(IERC20 token_, address owner_, uint64 firstEpochStart_, uint64 epochLength_) Ownable(owner_) {
        if (epochLength_ == 0) revert AgoraRewards__ZeroEpochLength();
        _token = token_;
        _firstEpochStart = firstEpochStart_;
        _epochLength = epochLength_;
    }

    /// @inheritdoc IAgoraRewards
    function fundEpoch(uint256 epoch_, bytes32 root, uint256 total) external onlyOwner {
        if (_epochs[epoch_].root != bytes32(0)) revert AgoraRewards__EpochAlreadyFunded(epoch_);
        if (root == bytes32(0) || total == 0) revert AgoraRewards__EmptyEpoch();
        (, uint64 end) = epochWindow(epoch_);
        if (block.timestamp < end) revert AgoraRewards__EpochNotEnded(epoch_, end);
        uint256 available = unallocated();
        if (total > available) revert AgoraRewards__InsufficientReserve(total, available);
        _epochs[epoch_] = Epoch({root: root, total: total, claimed: 0});
        _outstanding += total;
        emit EpochFunded(epoch_, root, total);
    }

    /// @inheritdoc IAgoraRewards
    function claim(uint256 epoch_, address account, uint256 amount, bytes32[] calldata proof) external {
        Epoch storage e = _epochs[epoch_];
        if (e.root == bytes32(0)) revert AgoraRewards__EpochNotFunded(epoch_);
        if (_claimed[epoch_][account]) revert AgoraRewards__AlreadyClaimed(epoch_, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) {
            revert AgoraRewards__InvalidProof(epoch_, account, amount);
        }
        uint256 remaining = e.total - e.claimed;
        if (amount > remaining) revert AgoraRewards__EpochOverdrawn(epoch_, remaining, amount);
        _claimed[epoch_][account] = true;
        e.claimed += amount;
        _outstanding -= amount;
        emit RewardClaimed(epoch_, account, amount);
        _token.safeTransfer(account, amount);
    }

    /// @inheritdoc IAgoraRewards
    function isClaimed(uint256 epoch_, address account) external view returns (bool) {
        return _claimed[epoch_][account];
    }

    /// @inheritdoc IAgoraRewards
    function epoch(uint256 epoch_) external view returns (bytes32 root, uint256 total, uint256 claimed) {
        Epoch storage e = _epochs[epoch_];
        return (e.root, e.total, e.claimed);
    }

    /// @inheritdoc IAgoraRewards
    function epochWindow(uint256 epoch_) public view returns (uint64 start, uint64 end) {
        // Epochs past uint64 time never end; saturate rather than overflow.
        if (epoch_ >= type(uint64).max / _epochLength) return (type(uint64).max, type(uint64).max);
        uint256 s = uint256(_firstEpochStart) + epoch_ * _epochLength;
        if (s + _epochLength > type(uint64).max) return (type(uint64).max, type(uint64).max);
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint64(s), uint64(s + _epochLength));
    }

    /// @inheritdoc IAgoraRewards
    function unallocated() public view returns (uint256) {
        return _token.balanceOf(address(this)) - _outstanding;
    }

    /// @inheritdoc IAgoraRewards
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IAgoraRewards
    function firstEpochStart() external view returns (uint64) {
        return _firstEpochStart;
    }

    /// @inheritdoc IAgoraRewards
    function epochLength() external view returns (uint64) {
        return _epochLength;
    }
}
