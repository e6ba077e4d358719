// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";
import {GovernanceFixture} from "../utils/GovernanceFixture.sol";
import {AccessToken} from "../../src/AccessToken.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {IComputeMarket} from "../../src/interfaces/IComputeMarket.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";

contract AgoraGovernorTest is GovernanceFixture {
    string internal constant REASON_CID = "bafkreidelistreasondelistreasondelistreasondelistreasondel";

    // ---------------------------------------------------------------- wiring

    function test_constructor_setsSettings() public view {
        assertEq(governor.name(), "AgoraGovernor");
        assertEq(governor.votingDelay(), VOTING_DELAY);
        assertEq(governor.votingPeriod(), VOTING_PERIOD);
        assertEq(governor.proposalThreshold(), 0);
        assertEq(governor.quorumNumerator(), QUORUM_PERCENT);
        assertEq(address(governor.token()), address(agora));
        assertEq(governor.timelock(), address(timelock));
        assertEq(timelock.getMinDelay(), TIMELOCK_DELAY);
        assertEq(governor.quorum(block.timestamp - 1), QUORUM);
        assertEq(governor.lateQuorumVoteExtension(), VOTE_EXTENSION);
        assertEq(governor.proposalGuardian(), address(timelock));
        assertEq(governor.proposalCount(), 0);
    }

    function test_clock_isTheTokensTimestampClock() public {
        vm.warp(1_700_000_000);
        vm.roll(42);
        assertEq(governor.clock(), 1_700_000_000);
        assertEq(governor.CLOCK_MODE(), "mode=timestamp");
        // Quorum is read at a past second, like votes.
        assertEq(governor.quorum(block.timestamp - 1), QUORUM);
        vm.expectRevert(
            abi.encodeWithSelector(Votes.ERC5805FutureLookup.selector, block.timestamp, block.timestamp)
        );
        governor.quorum(block.timestamp);
    }

    function test_propose_countsDelayAndPeriodInSeconds() public {
        uint256 proposalId = _propose(
            alice, address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)), "Zero fee"
        );
        assertEq(governor.proposalSnapshot(proposalId), block.timestamp + VOTING_DELAY);
        assertEq(governor.proposalDeadline(proposalId), block.timestamp + VOTING_DELAY + VOTING_PERIOD);
        // Blocks do not move the clock: only seconds do.
        vm.roll(block.number + VOTING_DELAY + 1);
        _assertState(proposalId, IGovernor.ProposalState.Pending);
        vm.warp(block.timestamp + VOTING_DELAY);
        _assertState(proposalId, IGovernor.ProposalState.Pending);
        vm.warp(block.timestamp + 1);
        _assertState(proposalId, IGovernor.ProposalState.Active);
    }

    function test_timelock_deployerHoldsNoRole() public view {
        assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer));
        assertFalse(timelock.hasRole(timelock.PROPOSER_ROLE(), deployer));
        assertFalse(timelock.hasRole(timelock.CANCELLER_ROLE(), deployer));
        // The timelock administers itself; only the governor proposes and cancels; anyone executes.
        assertTrue(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(timelock)));
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(governor)));
        assertTrue(timelock.hasRole(timelock.CANCELLER_ROLE(), address(governor)));
        assertTrue(timelock.hasRole(timelock.EXECUTOR_ROLE(), address(0)));
        assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(governor)));
    }

    function test_protocol_ownedAndPaidToTimelock() public view {
        assertEq(marketplace.owner(), address(timelock));
        assertEq(marketplace.feeRecipient(), address(timelock));
        assertEq(compute.owner(), address(timelock));
        assertEq(compute.feeRecipient(), address(timelock));
        assertEq(rewards.owner(), address(timelock));
    }

    function test_timelockOwnedFunctions_revertWhenCalledDirectly() public {
        address[3] memory callers = [deployer, alice, address(governor)];
        IComputeMarket.Params memory p = compute.params();
        for (uint256 i; i < callers.length; ++i) {
            address caller = callers[i];
            bytes memory unauthorized =
                abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller);
            vm.startPrank(caller);
            vm.expectRevert(unauthorized);
            marketplace.setProtocolFee(500);
            vm.expectRevert(unauthorized);
            marketplace.setFeeRecipient(caller);
            vm.expectRevert(unauthorized);
            marketplace.delist(1, REASON_CID);
            vm.expectRevert(unauthorized);
            marketplace.relist(1, REASON_CID);
            vm.expectRevert(unauthorized);
            compute.setParams(p);
            vm.expectRevert(unauthorized);
            compute.setFeeRecipient(caller);
            vm.expectRevert(unauthorized);
            compute.ruleDispute(1, true, 0);
            vm.expectRevert(unauthorized);
            rewards.fundEpoch(0, keccak256("root"), 1 ether);
            vm.expectRevert(
                abi.encodeWithSelector(TimelockController.TimelockUnauthorizedCaller.selector, caller)
            );
            timelock.updateDelay(0);
            vm.stopPrank();
        }
    }

    function test_timelock_scheduleRevertsForNonProposer() public {
        bytes32 proposerRole = timelock.PROPOSER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, deployer, proposerRole
            )
        );
        vm.prank(deployer);
        timelock.schedule(
            address(marketplace),
            0,
            abi.encodeCall(marketplace.setProtocolFee, (0)),
            bytes32(0),
            bytes32(0),
            TIMELOCK_DELAY
        );
    }

    function test_timelock_grantRoleRevertsForDeployer() public {
        bytes32 adminRole = timelock.DEFAULT_ADMIN_ROLE();
        bytes32 proposerRole = timelock.PROPOSER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, deployer, adminRole
            )
        );
        vm.prank(deployer);
        timelock.grantRole(proposerRole, deployer);
    }

    // ---------------------------------------------------------------- proposals

    function test_setProtocolFee_viaProposal_nextPurchasePaysNewFee() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1 ether));
        uint256 proposalId = _passAndExecute(
            address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (500)), "Raise the fee to 5%"
        );
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Executed));
        assertEq(marketplace.protocolFeeBps(), 500);

        vm.deal(bob, 1 ether);
        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(assetId, bob, address(0), 1, 0, 1 ether, 0.05 ether);
        vm.prank(bob);
        marketplace.buy{value: 1 ether}(assetId, 1, address(0), 1 ether);
        assertEq(splitter.accruedFees(address(0)), 0.05 ether);
        assertEq(splitter.releasable(assetId, address(0), alice), 0.95 ether);

        // The treasury (the timelock) receives the fees.
        splitter.releaseFees(address(0));
        assertEq(address(timelock).balance, 0.05 ether);
    }

    function test_delist_viaProposal_blocksPurchases() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1 ether));
        bytes memory delist = abi.encodeCall(marketplace.delist, (assetId, REASON_CID));
        _passAndQueue(address(marketplace), delist, "Delist asset 1");
        vm.expectEmit(address(marketplace));
        emit IMarketplace.AssetDelisted(assetId, REASON_CID);
        _execute(address(marketplace), delist, "Delist asset 1");
        assertTrue(marketplace.getListing(assetId).delisted);
        assertEq(registry.ownerOf(assetId), alice); // curation never touches ownership

        vm.deal(bob, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__Delisted.selector, assetId));
        vm.prank(bob);
        marketplace.buy{value: 1 ether}(assetId, 1, address(0), 1 ether);

        bytes memory relist = abi.encodeCall(marketplace.relist, (assetId, REASON_CID));
        _passAndQueue(address(marketplace), relist, "Relist asset 1");
        vm.expectEmit(address(marketplace));
        emit IMarketplace.AssetRelisted(assetId, REASON_CID);
        _execute(address(marketplace), relist, "Relist asset 1");
        vm.prank(bob);
        marketplace.buy{value: 1 ether}(assetId, 1, address(0), 1 ether);
    }

    function test_ruleDispute_viaProposal() public {
        uint256 jobId = _disputedJob(0.2 ether);
        uint256 bobBefore = bob.balance;
        bytes memory rule = abi.encodeCall(compute.ruleDispute, (jobId, true, 0.5 ether));
        _passAndQueue(address(compute), rule, "Rule job 1");
        vm.expectEmit(address(compute));
        emit IComputeMarket.DisputeRuled(jobId, true, 0.5 ether);
        _execute(address(compute), rule, "Rule job 1");
        assertEq(compute.claimable(bob, address(0)), 0.2 ether);
        vm.prank(bob);
        compute.claim(address(0));
        assertEq(bob.balance - bobBefore, 0.2 ether);
        assertEq(compute.getProvider(provider).stake, MIN_STAKE - 0.5 ether);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.RuledAgainstProvider));

        // The slash lands in the treasury.
        compute.releaseFees(address(0));
        assertEq(address(timelock).balance, 0.5 ether);
    }

    function test_state_defeatedWithoutQuorum() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)));
        string memory description = "Zero fee, carol alone";
        vm.prank(carol);
        uint256 proposalId = governor.propose(targets, values, calldatas, description);
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Pending));
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Active));
        vm.prank(carol);
        governor.castVote(proposalId, 1);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);

        (, uint256 forVotes,) = governor.proposalVotes(proposalId);
        assertEq(forVotes, CAROL_VOTES);
        assertLt(forVotes, governor.quorum(governor.proposalSnapshot(proposalId)));
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Defeated));
        vm.expectRevert(
            abi.encodeWithSelector(
                IGovernor.GovernorUnexpectedProposalState.selector,
                proposalId,
                IGovernor.ProposalState.Defeated,
                bytes32(2 ** uint256(IGovernor.ProposalState.Succeeded))
            )
        );
        governor.queue(targets, values, calldatas, keccak256(bytes(description)));
    }

    function test_state_defeatedWhenMajorityAgainst() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)));
        vm.prank(alice);
        uint256 proposalId = governor.propose(targets, values, calldatas, "Zero fee");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(alice);
        governor.castVote(proposalId, 1);
        vm.prank(deployer);
        governor.castVote(proposalId, 0);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Defeated));
    }

    function test_castVote_countsVotesFromSnapshot() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)));
        vm.prank(alice);
        uint256 proposalId = governor.propose(targets, values, calldatas, "Zero fee");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        // Tokens moved after the snapshot do not vote.
        vm.prank(deployer);
        assertTrue(agora.transfer(bob, 100_000 ether));
        vm.prank(bob);
        agora.delegate(bob);
        vm.prank(bob);
        governor.castVote(proposalId, 1);
        vm.prank(alice);
        governor.castVote(proposalId, 2);
        (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes) = governor.proposalVotes(proposalId);
        assertEq(againstVotes, 0);
        assertEq(forVotes, 0);
        assertEq(abstainVotes, ALICE_VOTES);
    }

    function test_execute_revertsBeforeTimelockDelay() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (500)));
        bytes32 descriptionHash = keccak256("Early");
        vm.prank(alice);
        uint256 proposalId = governor.propose(targets, values, calldatas, "Early");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(alice);
        governor.castVote(proposalId, 1);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        governor.queue(targets, values, calldatas, descriptionHash);
        assertEq(uint8(governor.state(proposalId)), uint8(IGovernor.ProposalState.Queued));

        vm.warp(block.timestamp + TIMELOCK_DELAY - 1);
        vm.expectPartialRevert(TimelockController.TimelockUnexpectedOperationState.selector);
        governor.execute(targets, values, calldatas, descriptionHash);

        vm.warp(block.timestamp + 1);
        governor.execute(targets, values, calldatas, descriptionHash);
        assertEq(marketplace.protocolFeeBps(), 500);
    }

    // ---------------------------------------------------------------- helpers

    function _disputedJob(uint128 price) internal returns (uint256 jobId) {
        (uint256 datasetId, AccessToken datasetToken) = _publish(_params(alice, address(0), 1 ether));
        IAssetRegistry.PublishParams memory algo = _params(alice, address(0), 0);
        algo.kind = IAssetRegistry.AssetKind.Algorithm;
        algo.contentDigest = keccak256("algorithm");
        (uint256 algorithmId,) = _publish(algo);
        vm.prank(alice);
        datasetToken.grant(bob, 1);

        vm.deal(provider, MIN_STAKE);
        vm.prank(provider);
        compute.registerProvider{value: MIN_STAKE}("https://provider.example", address(0), price);
        vm.deal(bob, price);
        vm.prank(bob);
        jobId = compute.openJob{value: price}(
            IComputeMarket.OpenJobParams({
                datasetId: datasetId,
                algorithmId: algorithmId,
                provider: provider,
                specCid: "bafkreispec",
                currency: address(0),
                maxPayment: price,
                deadline: uint64(block.timestamp + 1 days)
            })
        );
        vm.prank(provider);
        compute.postResult(jobId, "bafkreiresult", keccak256("output"));
        vm.deal(carol, DISPUTE_BOND);
        vm.prank(carol);
        compute.dispute{value: DISPUTE_BOND}(jobId, "bafkreireason");
    }
}
