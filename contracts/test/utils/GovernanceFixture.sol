// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {ProtocolFixture} from "./ProtocolFixture.sol";

/// @notice The protocol with voters: the deployer hands part of its grant to alice (enough for quorum
/// on her own) and carol (not enough), and everyone delegates to themselves. Helpers walk a proposal
/// through the governor's timestamp clock.
abstract contract GovernanceFixture is ProtocolFixture {
    uint256 internal constant ALICE_VOTES = 50_000 ether; // 5%: above quorum on its own
    uint256 internal constant CAROL_VOTES = 10_000 ether; // 1%: below quorum
    /// @dev What the deployer keeps of its grant, and votes with.
    uint256 internal constant DEPLOYER_VOTES = DEPLOYER_GRANT - ALICE_VOTES - CAROL_VOTES;
    /// @dev 4 % of the supply.
    uint256 internal constant QUORUM = AGORA_SUPPLY * QUORUM_PERCENT / 100;

    function setUp() public virtual override {
        super.setUp();
        vm.startPrank(deployer);
        assertTrue(agora.transfer(alice, ALICE_VOTES));
        assertTrue(agora.transfer(carol, CAROL_VOTES));
        agora.delegate(deployer);
        vm.stopPrank();
        vm.prank(alice);
        agora.delegate(alice);
        vm.prank(carol);
        agora.delegate(carol);
        // A proposal's snapshot is in the past of its votes: let the delegations settle.
        vm.warp(block.timestamp + 1);
    }

    /// @dev Moves `amount` of the deployer's grant to `account`, which delegates to itself.
    function _giveVotes(address account, uint256 amount) internal {
        vm.prank(deployer);
        assertTrue(agora.transfer(account, amount));
        vm.prank(account);
        agora.delegate(account);
    }

    /// @dev Proposes the single call `target.data` as `proposer`.
    function _propose(address proposer, address target, bytes memory data, string memory description)
        internal
        returns (uint256 proposalId)
    {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _single(target, data);
        vm.prank(proposer);
        proposalId = governor.propose(targets, values, calldatas, description);
    }

    /// @dev Proposes as alice, votes it through with the deployer's weight, queues and executes.
    function _passAndExecute(address target, bytes memory data, string memory description)
        internal
        returns (uint256 proposalId)
    {
        proposalId = _passAndQueue(target, data, description);
        _execute(target, data, description);
    }

    /// @dev Proposes as alice, votes it through with the deployer's weight, queues it and waits out the
    /// timelock delay; the next call may execute it.
    function _passAndQueue(address target, bytes memory data, string memory description)
        internal
        returns (uint256 proposalId)
    {
        proposalId = _propose(alice, target, data, description);
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(deployer);
        governor.castVote(proposalId, 1);
        vm.warp(governor.proposalDeadline(proposalId) + 1);
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Succeeded));
        _queue(target, data, description);
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Queued));
        vm.warp(block.timestamp + TIMELOCK_DELAY);
    }

    function _queue(address target, bytes memory data, string memory description) internal {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _single(target, data);
        governor.queue(targets, values, calldatas, keccak256(bytes(description)));
    }

    function _execute(address target, bytes memory data, string memory description) internal {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _single(target, data);
        governor.execute(targets, values, calldatas, keccak256(bytes(description)));
    }

    function _single(address target, bytes memory data)
        internal
        pure
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        targets[0] = target;
        calldatas[0] = data;
    }

    function _assertState(uint256 proposalId, IGovernor.ProposalState expected) internal view {
        assertEq(uint8(governor.state(proposalId)), uint8(expected), "proposal state");
    }
}
