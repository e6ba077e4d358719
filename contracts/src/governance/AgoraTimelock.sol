// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title AgoraTimelock
/// @notice The DAO's timelock: it owns every protocol parameter (marketplace fee and recipient, curation,
/// compute-market parameters and dispute rulings) and holds the treasury. Only the governor proposes.
contract AgoraTimelock is TimelockController {
    /// @param minDelay Seconds between queueing and executing a proposal.
    /// @param proposers Who may schedule (the governor).
    /// @param executors Who may execute (address(0) = anyone).
    /// @param admin Temporary admin used to wire roles at deployment, then renounced; or address(0).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
