// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IRevenueSplitter} from "../../src/interfaces/IRevenueSplitter.sol";

/// @notice A split recipient whose `receive` tries to release again; it records the re-entry's outcome
/// instead of reverting, so the test can check that the re-entry was refused and nothing extra was paid.
contract ReentrantReceiver {
    IRevenueSplitter private immutable _SPLITTER;
    uint256 public assetId;
    bool public reentered;
    bool public reentrySucceeded;
    bytes public reentryError;
    uint256 public received;

    constructor(IRevenueSplitter splitter_) {
        _SPLITTER = splitter_;
    }

    function arm(uint256 assetId_) external {
        assetId = assetId_;
    }

    receive() external payable {
        received += msg.value;
        if (reentered) return;
        reentered = true;
        (reentrySucceeded, reentryError) = address(_SPLITTER)
            .call(abi.encodeCall(IRevenueSplitter.release, (assetId, address(0), address(this))));
    }
}
