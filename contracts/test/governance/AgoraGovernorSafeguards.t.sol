// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {
    GovernorPreventLateQuorum
} from "@openzeppelin/contracts/governance/extensions/GovernorPreventLateQuorum.sol";
import {
    GovernorProposalGuardian
} from "@openzeppelin/contracts/governance/extensions/GovernorProposalGuardian.sol";
import {GovernanceFixture} from "../utils/GovernanceFixture.sol";

/// @notice OpenZeppelin's governor safeguards, each against the attack it stops: a treasury drain that
/// passed is cancelled by the proposal guardian; a whale's last-second quorum extends the vote so its
/// opponents can still vote; a proposal id reserved with `#proposer=` cannot be taken by front-running;
/// and proposals are enumerable and executable by id alone (GovernorStorage).
contract AgoraGovernorSafeguardsTest is GovernanceFixture {
    /// @dev 10 %: passes anything nobody opposes, and reaches quorum on its own.
    uint256 internal constant MALLORY_VOTES = 100_000 ether;
    /// @dev `cancel` is overloaded (GovernorStorage adds the id-only form): its selector, spelled out.
    bytes4 internal constant CANCEL_BY_ID = bytes4(keccak256("cancel(uint256)"));
    string internal constant DRAIN = "Pay the contributors";

    address internal mallory = makeAddr("mallory");
    address internal council = makeAddr("council");

    enum Stage {
        Pending,
        Active,
        Succeeded,
        Queued
    }

    function setUp() public override {
        super.setUp();
        _giveVotes(mallory, MALLORY_VOTES);
        vm.warp(block.timestamp + 1);
    }

    // ---------------------------------------------------------------- proposal guardian

    /// @dev Without a guardian the attack works: mallory's drain passes unopposed and empties the treasury.
    function test_drain_executesWhenNobodyCancels() public {
        uint256 proposalId = _drainAt(Stage.Queued);
        vm.warp(block.timestamp + TIMELOCK_DELAY);
        _execute(address(agora), _drainCall(), DRAIN);
        _assertState(proposalId, IGovernor.ProposalState.Executed);
        assertEq(agora.balanceOf(mallory), MALLORY_VOTES + TREASURY);
        assertEq(agora.balanceOf(address(timelock)), 0);
    }

    function test_guardian_timelockCancelsQueuedDrain() public {
        uint256 proposalId = _drainAt(Stage.Queued);
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(agora), _drainCall());
        bytes32 descriptionHash = keccak256(bytes(DRAIN));
        bytes32 operationId = timelock.hashOperationBatch(
            targets, values, calldatas, 0, bytes20(address(governor)) ^ descriptionHash
        );
        assertTrue(timelock.isOperationPending(operationId));

        vm.expectEmit(address(governor));
        emit IGovernor.ProposalCanceled(proposalId);
        vm.prank(address(timelock));
        governor.cancel(targets, values, calldatas, descriptionHash);
        _assertState(proposalId, IGovernor.ProposalState.Canceled);
        // The timelock's operation is gone too: nobody can execute it there either.
        assertFalse(timelock.isOperation(operationId));

        vm.warp(block.timestamp + TIMELOCK_DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGovernor.GovernorUnexpectedProposalState.selector,
                proposalId,
                IGovernor.ProposalState.Canceled,
                _bitmap(IGovernor.ProposalState.Queued)
            )
        );
        governor.execute(targets, values, calldatas, descriptionHash);
        vm.expectPartialRevert(TimelockController.TimelockUnexpectedOperationState.selector);
        timelock.executeBatch(targets, values, calldatas, 0, bytes20(address(governor)) ^ descriptionHash);
        assertEq(agora.balanceOf(address(timelock)), TREASURY);
    }

    /// @dev The default guardian is the timelock, so the DAO cancels by proposal: a proposal to cancel the
    /// drain, raised with it, voted by the deployer, runs before the drain does. Being a proposal itself it
    /// only wins if it is executed first; a dedicated guardian (below) needs no such race.
    function test_guardian_timelockCancelsDrainThroughAProposal() public {
        uint256 drainId = _propose(mallory, address(agora), _drainCall(), DRAIN);
        bytes memory cancelDrain = abi.encodeWithSelector(CANCEL_BY_ID, drainId);
        uint256 cancelId = _propose(alice, address(governor), cancelDrain, "Cancel the drain");

        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(mallory);
        governor.castVote(drainId, 1);
        vm.prank(mallory);
        governor.castVote(cancelId, 0);
        vm.prank(deployer);
        governor.castVote(cancelId, 1);
        vm.warp(governor.proposalDeadline(drainId) + 1);
        _queue(address(agora), _drainCall(), DRAIN);
        _queue(address(governor), cancelDrain, "Cancel the drain");
        vm.warp(block.timestamp + TIMELOCK_DELAY);

        vm.expectEmit(address(governor));
        emit IGovernor.ProposalCanceled(drainId);
        _execute(address(governor), cancelDrain, "Cancel the drain");
        _assertState(cancelId, IGovernor.ProposalState.Executed);
        _assertState(drainId, IGovernor.ProposalState.Canceled);
        vm.expectPartialRevert(IGovernor.GovernorUnexpectedProposalState.selector);
        _execute(address(agora), _drainCall(), DRAIN);
        assertEq(agora.balanceOf(address(timelock)), TREASURY);
    }

    function test_setProposalGuardian_viaProposal() public {
        bytes memory appoint = abi.encodeCall(governor.setProposalGuardian, (council));
        _passAndQueue(address(governor), appoint, "Appoint the council");
        vm.expectEmit(address(governor));
        emit GovernorProposalGuardian.ProposalGuardianSet(address(timelock), council);
        _execute(address(governor), appoint, "Appoint the council");
        assertEq(governor.proposalGuardian(), council);
    }

    function test_setProposalGuardian_revertsWhenCalledDirectly() public {
        address[3] memory callers = [mallory, deployer, council];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorOnlyExecutor.selector, callers[i]));
            vm.prank(callers[i]);
            governor.setProposalGuardian(callers[i]);
        }
        assertEq(governor.proposalGuardian(), address(timelock));
    }

    function testFuzz_guardian_councilCancelsAtAnyStage(uint8 stageSeed) public {
        _appointCouncil();
        Stage stage = Stage(bound(stageSeed, 0, 3));
        uint256 proposalId = _drainAt(stage);

        vm.prank(council);
        governor.cancel(proposalId);
        _assertState(proposalId, IGovernor.ProposalState.Canceled);
        vm.warp(block.timestamp + VOTING_PERIOD + TIMELOCK_DELAY);
        vm.expectPartialRevert(IGovernor.GovernorUnexpectedProposalState.selector);
        _execute(address(agora), _drainCall(), DRAIN);
        assertEq(agora.balanceOf(address(timelock)), TREASURY);
    }

    function testFuzz_cancel_revertsForAnyoneElse(address caller, uint8 stageSeed) public {
        _appointCouncil();
        Stage stage = Stage(bound(stageSeed, 0, 3));
        // The council may cancel anything; a proposer its own proposal while it is pending.
        vm.assume(caller != council && !(caller == mallory && stage == Stage.Pending));
        uint256 proposalId = _drainAt(stage);
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(agora), _drainCall());

        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorUnableToCancel.selector, proposalId, caller));
        vm.prank(caller);
        governor.cancel(targets, values, calldatas, keccak256(bytes(DRAIN)));
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorUnableToCancel.selector, proposalId, caller));
        vm.prank(caller);
        governor.cancel(proposalId);
    }

    function test_cancel_replacedGuardianAndProposerCannotCancelOnceVoting() public {
        _appointCouncil();
        uint256 proposalId = _drainAt(Stage.Active);
        address[2] memory callers = [address(timelock), mallory];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IGovernor.GovernorUnableToCancel.selector, proposalId, callers[i])
            );
            vm.prank(callers[i]);
            governor.cancel(proposalId);
        }
        _assertState(proposalId, IGovernor.ProposalState.Active);
    }

    // ---------------------------------------------------------------- late quorum

    /// @dev Mallory holds back until the very last second of the vote, then reaches quorum alone: the
    /// vote stays open for VOTE_EXTENSION more, long enough for the deployer to vote it down.
    function test_lateQuorum_whaleVotingAtDeadlineExtendsTheVote() public {
        uint256 proposalId = _propose(mallory, address(agora), _drainCall(), DRAIN);
        uint256 deadline = governor.proposalDeadline(proposalId);
        vm.warp(deadline);
        _assertState(proposalId, IGovernor.ProposalState.Active);

        vm.expectEmit(address(governor));
        // forge-lint: disable-next-line(unsafe-typecast) a timestamp a day from now fits in 64 bits
        emit GovernorPreventLateQuorum.ProposalExtended(proposalId, uint64(deadline + VOTE_EXTENSION));
        vm.prank(mallory);
        governor.castVote(proposalId, 1);
        assertEq(governor.proposalDeadline(proposalId), deadline + VOTE_EXTENSION);

        // Without the extension the drain would have succeeded here.
        vm.warp(deadline + 1);
        _assertState(proposalId, IGovernor.ProposalState.Active);
        vm.warp(deadline + VOTE_EXTENSION);
        vm.prank(deployer);
        governor.castVote(proposalId, 0);
        // Quorum was already reached: a later vote does not extend again.
        assertEq(governor.proposalDeadline(proposalId), deadline + VOTE_EXTENSION);

        vm.warp(deadline + VOTE_EXTENSION + 1);
        _assertState(proposalId, IGovernor.ProposalState.Defeated);
        vm.expectPartialRevert(IGovernor.GovernorUnexpectedProposalState.selector);
        _queue(address(agora), _drainCall(), DRAIN);
    }

    function test_lateQuorum_earlyQuorumKeepsTheDeadline() public {
        uint256 proposalId = _propose(mallory, address(agora), _drainCall(), DRAIN);
        uint256 deadline = governor.proposalDeadline(proposalId);
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(mallory);
        governor.castVote(proposalId, 1);
        assertEq(governor.proposalDeadline(proposalId), deadline);
    }

    function test_lateQuorum_votesBelowQuorumDoNotExtend() public {
        uint256 proposalId = _propose(mallory, address(agora), _drainCall(), DRAIN);
        uint256 deadline = governor.proposalDeadline(proposalId);
        vm.warp(deadline);
        vm.prank(carol);
        governor.castVote(proposalId, 1);
        assertEq(governor.proposalDeadline(proposalId), deadline);
        vm.warp(deadline + 1);
        _assertState(proposalId, IGovernor.ProposalState.Defeated);
    }

    function testFuzz_lateQuorum_deadlineIsAtLeastExtensionAfterQuorum(uint256 votedAt) public {
        uint256 proposalId = _propose(mallory, address(agora), _drainCall(), DRAIN);
        uint256 deadline = governor.proposalDeadline(proposalId);
        votedAt = bound(votedAt, governor.proposalSnapshot(proposalId) + 1, deadline);
        vm.warp(votedAt);
        vm.prank(mallory);
        governor.castVote(proposalId, 1);
        uint256 extended = votedAt + VOTE_EXTENSION > deadline ? votedAt + VOTE_EXTENSION : deadline;
        assertEq(governor.proposalDeadline(proposalId), extended);
        vm.warp(extended);
        _assertState(proposalId, IGovernor.ProposalState.Active);
        vm.warp(extended + 1);
        _assertState(proposalId, IGovernor.ProposalState.Succeeded);
    }

    // ---------------------------------------------------------------- front-running proposal ids

    /// @dev The attack: mallory copies alice's pending proposal, submits it first and cancels it. The id is
    /// spent, so alice can never propose it.
    function test_propose_frontRunnerTakesAnUnreservedId() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)));
        vm.prank(mallory);
        uint256 proposalId = governor.propose(targets, values, calldatas, "Zero fee");
        vm.prank(mallory);
        governor.cancel(proposalId);

        vm.expectRevert(
            abi.encodeWithSelector(
                IGovernor.GovernorUnexpectedProposalState.selector,
                proposalId,
                IGovernor.ProposalState.Canceled,
                bytes32(0)
            )
        );
        vm.prank(alice);
        governor.propose(targets, values, calldatas, "Zero fee");
    }

    function test_propose_reservedIdRevertsForFrontRunner() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)));
        string memory description = string.concat("Zero fee#proposer=", vm.toString(alice));

        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorRestrictedProposer.selector, mallory));
        vm.prank(mallory);
        governor.propose(targets, values, calldatas, description);

        vm.prank(alice);
        uint256 proposalId = governor.propose(targets, values, calldatas, description);
        assertEq(proposalId, governor.hashProposal(targets, values, calldatas, keccak256(bytes(description))));
        assertEq(governor.proposalProposer(proposalId), alice);
    }

    function testFuzz_propose_reservedIdRevertsForAnyoneElse(address proposer) public {
        vm.assume(proposer != alice);
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)));
        // The suffix reads the address in any letter case.
        string memory description = string.concat("Zero fee#proposer=", vm.toLowercase(vm.toString(alice)));
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorRestrictedProposer.selector, proposer));
        vm.prank(proposer);
        governor.propose(targets, values, calldatas, description);
    }

    // ---------------------------------------------------------------- proposals on chain

    function test_proposalDetailsAt_enumeratesProposals() public {
        bytes[3] memory data = [
            abi.encodeCall(marketplace.setProtocolFee, (0)),
            abi.encodeCall(marketplace.setProtocolFee, (100)),
            abi.encodeCall(marketplace.setFeeRecipient, (alice))
        ];
        string[3] memory descriptions = [string("Zero fee"), "One percent", "Fees to alice"];
        address[3] memory proposers = [alice, mallory, carol];
        uint256[3] memory ids;
        for (uint256 i; i < 3; ++i) {
            ids[i] = _propose(proposers[i], address(marketplace), data[i], descriptions[i]);
        }

        assertEq(governor.proposalCount(), 3);
        for (uint256 i; i < 3; ++i) {
            (
                uint256 proposalId,
                address[] memory targets,
                uint256[] memory values,
                bytes[] memory calldatas,
                bytes32 descriptionHash
            ) = governor.proposalDetailsAt(i);
            assertEq(proposalId, ids[i]);
            assertEq(targets.length, 1);
            assertEq(targets[0], address(marketplace));
            assertEq(values[0], 0);
            assertEq(calldatas[0], data[i]);
            assertEq(descriptionHash, keccak256(bytes(descriptions[i])));
            assertEq(governor.hashProposal(targets, values, calldatas, descriptionHash), ids[i]);
            assertEq(governor.proposalProposer(proposalId), proposers[i]);
        }
    }

    function test_queueAndExecute_byIdAlone() public {
        uint256 proposalId = _propose(
            alice, address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (500)), "Raise the fee"
        );
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(deployer);
        governor.castVote(proposalId, 1);
        vm.warp(governor.proposalDeadline(proposalId) + 1);

        governor.queue(proposalId);
        _assertState(proposalId, IGovernor.ProposalState.Queued);
        vm.warp(block.timestamp + TIMELOCK_DELAY);
        governor.execute(proposalId);
        _assertState(proposalId, IGovernor.ProposalState.Executed);
        assertEq(marketplace.protocolFeeBps(), 500);
    }

    function test_byId_revertsForUnknownProposal() public {
        uint256 unknown = 123;
        bytes memory nonexistent =
            abi.encodeWithSelector(IGovernor.GovernorNonexistentProposal.selector, unknown);
        vm.expectRevert(nonexistent);
        governor.queue(unknown);
        vm.expectRevert(nonexistent);
        governor.execute(unknown);
        vm.expectRevert(nonexistent);
        governor.cancel(unknown);
        vm.expectRevert(nonexistent);
        governor.proposalDetails(unknown);
    }

    // ---------------------------------------------------------------- helpers

    /// @dev Mallory's proposal to send herself the whole treasury, brought to `stage` (voted through by
    /// mallory alone, nobody opposing).
    function _drainAt(Stage stage) internal returns (uint256 proposalId) {
        proposalId = _propose(mallory, address(agora), _drainCall(), DRAIN);
        if (stage == Stage.Pending) return proposalId;
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        if (stage == Stage.Active) return proposalId;
        vm.prank(mallory);
        governor.castVote(proposalId, 1);
        vm.warp(governor.proposalDeadline(proposalId) + 1);
        _assertState(proposalId, IGovernor.ProposalState.Succeeded);
        if (stage == Stage.Succeeded) return proposalId;
        _queue(address(agora), _drainCall(), DRAIN);
        _assertState(proposalId, IGovernor.ProposalState.Queued);
    }

    function _drainCall() internal view returns (bytes memory) {
        return abi.encodeCall(IERC20.transfer, (mallory, TREASURY));
    }

    /// @dev The DAO makes `council` the proposal guardian.
    function _appointCouncil() internal {
        _passAndExecute(
            address(governor), abi.encodeCall(governor.setProposalGuardian, (council)), "Appoint the council"
        );
    }

    function _bitmap(IGovernor.ProposalState s) internal pure returns (bytes32) {
        return bytes32(uint256(1) << uint8(s));
    }
}
