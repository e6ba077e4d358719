// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IAgoraRewards
/// @notice The rewards reserve: AGORA earned by use, distributed by epoch. Time is cut into epochs of
/// `epochLength()` seconds from `firstEpochStart()`. After an epoch ends, anyone can compute from the
/// chain's own records (sales, consumed orders, finalized jobs) what each account earned in it, by the
/// formula the README documents, and the Merkle root of those amounts; the DAO funds the epoch with
/// that root by proposal (`fundEpoch`, owner = timelock), and each account then claims its amount
/// with a proof. Leaves are OpenZeppelin's standard Merkle tree leaves,
/// `keccak256(bytes.concat(keccak256(abi.encode(account, amount))))`, pairs hashed sorted.
interface IAgoraRewards {
    /// @notice The epoch is already funded.
    /// @param epoch The epoch.
    error AgoraRewards__EpochAlreadyFunded(uint256 epoch);
    /// @notice The epoch has not been funded.
    /// @param epoch The epoch.
    error AgoraRewards__EpochNotFunded(uint256 epoch);
    /// @notice The epoch has not ended yet, so its usage is not final.
    /// @param epoch The epoch.
    /// @param endsAt When it ends (unix seconds).
    error AgoraRewards__EpochNotEnded(uint256 epoch, uint256 endsAt);
    /// @notice A funded epoch needs a non-zero root and a non-zero total.
    error AgoraRewards__EmptyEpoch();
    /// @notice The reserve's unallocated balance does not cover the epoch's total.
    /// @param requested The epoch's total.
    /// @param available The unallocated balance.
    error AgoraRewards__InsufficientReserve(uint256 requested, uint256 available);
    /// @notice The account already claimed this epoch.
    /// @param epoch The epoch.
    /// @param account The account.
    error AgoraRewards__AlreadyClaimed(uint256 epoch, address account);
    /// @notice The proof does not show `amount` for `account` under the epoch's root.
    /// @param epoch The epoch.
    /// @param account The account.
    /// @param amount The amount claimed.
    error AgoraRewards__InvalidProof(uint256 epoch, address account, uint256 amount);
    /// @notice Claims would exceed what the epoch was funded with (a root whose leaves sum to more
    /// than its declared total).
    /// @param epoch The epoch.
    /// @param remaining What is left of its total.
    /// @param amount The amount claimed.
    error AgoraRewards__EpochOverdrawn(uint256 epoch, uint256 remaining, uint256 amount);
    /// @notice An epoch length of zero.
    error AgoraRewards__ZeroEpochLength();

    /// @notice The DAO funded an epoch.
    /// @param epoch The epoch.
    /// @param root The Merkle root of (account, amount) leaves.
    /// @param total The sum of the leaves' amounts, set aside from the reserve.
    event EpochFunded(uint256 indexed epoch, bytes32 root, uint256 total);

    /// @notice An account claimed its reward for an epoch.
    /// @param epoch The epoch.
    /// @param account Who earned it (and received it).
    /// @param amount The amount.
    event RewardClaimed(uint256 indexed epoch, address indexed account, uint256 amount);

    /// @notice Sets an ended epoch's root and total; only the owner (the DAO's timelock).
    /// @param epoch The epoch.
    /// @param root The Merkle root.
    /// @param total The sum of the leaves' amounts.
    function fundEpoch(uint256 epoch, bytes32 root, uint256 total) external;

    /// @notice Pays `account` its `amount` for `epoch`; anyone may send it, the tokens go to `account`.
    /// @param epoch The epoch.
    /// @param account The account.
    /// @param amount Its amount, as in the leaf.
    /// @param proof The Merkle proof.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external;

    /// @notice Whether `account` claimed `epoch`.
    function isClaimed(uint256 epoch, address account) external view returns (bool);

    /// @notice A funded epoch's root, total and what has been claimed of it (zeros if unfunded).
    function epoch(uint256 epoch_) external view returns (bytes32 root, uint256 total, uint256 claimed);

    /// @notice The seconds `[start, end)` epoch `epoch_` covers.
    function epochWindow(uint256 epoch_) external view returns (uint64 start, uint64 end);

    /// @notice The reserve's balance not yet set aside for a funded epoch.
    function unallocated() external view returns (uint256);

    /// @notice The AGORA token.
    function token() external view returns (address);

    /// @notice When epoch 0 starts (unix seconds).
    function firstEpochStart() external view returns (uint64);

    /// @notice Seconds per epoch.
    function epochLength() external view returns (uint64);
}
