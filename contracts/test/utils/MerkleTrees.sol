// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice Builds the rewards' Merkle trees in tests, the way {IAgoraRewards} reads them: OpenZeppelin's
/// standard leaves `keccak256(bytes.concat(keccak256(abi.encode(account, amount))))`, pairs hashed
/// sorted. Levels are built left to right; an odd node out moves up a level unhashed, so its proof is
/// one step shorter (MerkleProof verifies any such proof).
library MerkleTrees {
    /// @notice A tree needs at least one leaf.
    error MerkleTrees__NoLeaves();

    /// @dev The leaf of `account` earning `amount`.
    function leaf(address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
    }

    /// @dev The leaves of `accounts[i]` earning `amounts[i]`.
    function leaves(address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32[] memory result)
    {
        result = new bytes32[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            result[i] = leaf(accounts[i], amounts[i]);
        }
    }

    /// @dev The root over `nodes` (a single leaf is its own root).
    function root(bytes32[] memory nodes) internal pure returns (bytes32) {
        bytes32[] memory level = _copy(nodes);
        for (uint256 n = level.length; n > 1; n = (n + 1) / 2) {
            _hashLevel(level, n);
        }
        return level[0];
    }

    /// @dev The proof of `nodes[index]` under {root}.
    function proof(bytes32[] memory nodes, uint256 index) internal pure returns (bytes32[] memory result) {
        bytes32[] memory level = _copy(nodes);
        bytes32[] memory path = new bytes32[](256);
        uint256 length;
        for (uint256 n = level.length; n > 1; n = (n + 1) / 2) {
            uint256 sibling = index ^ 1;
            if (sibling < n) path[length++] = level[sibling];
            index /= 2;
            _hashLevel(level, n);
        }
        result = new bytes32[](length);
        for (uint256 i; i < length; ++i) {
            result[i] = path[i];
        }
    }

    /// @dev Sorted-pair hash, as OpenZeppelin's `Hashes.commutativeKeccak256`.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @dev Replaces the first `n` nodes of `level` by the next level up, in place (node `i` reads
    /// nodes `2i` and `2i + 1`, never one already overwritten).
    function _hashLevel(bytes32[] memory level, uint256 n) private pure {
        for (uint256 i; i < n / 2; ++i) {
            level[i] = hashPair(level[2 * i], level[2 * i + 1]);
        }
        if (n % 2 == 1) level[n / 2] = level[n - 1];
    }

    function _copy(bytes32[] memory nodes) private pure returns (bytes32[] memory copy) {
        if (nodes.length == 0) revert MerkleTrees__NoLeaves();
        copy = new bytes32[](nodes.length);
        for (uint256 i; i < nodes.length; ++i) {
            copy[i] = nodes[i];
        }
    }
}
