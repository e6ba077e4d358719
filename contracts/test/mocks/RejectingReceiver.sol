// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A contract that refuses every ETH transfer (e.g. a split recipient without a `receive`).
contract RejectingReceiver {
    receive() external payable {
        revert();
    }
}
