// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {GovernanceFixture} from "../utils/GovernanceFixture.sol";
import {MerkleTrees} from "../utils/MerkleTrees.sol";
import {AgoraRewards} from "../../src/governance/AgoraRewards.sol";
import {IAgoraRewards} from "../../src/interfaces/IAgoraRewards.sol";

/// @notice The rewards reserve: the DAO (its timelock) funds each ended epoch with a Merkle root and a
/// total; each account claims its leaf once; no epoch pays more than its total, and the reserve never
/// sets aside more than it holds.
contract AgoraRewardsTest is GovernanceFixture {
    uint256 internal constant TREE_TOTAL = 657 ether;

    address internal dave = makeAddr("dave");
    address internal erin = makeAddr("erin");
    address internal relayer = makeAddr("relayer");

    address[] internal accounts;
    uint256[] internal amounts;
    bytes32[] internal leaves;
    bytes32 internal root;

    function setUp() public override {
        super.setUp();
        // Five leaves: an odd count, so one node moves up a level unhashed.
        (accounts, amounts) = (new address[](5), new uint256[](5));
        (accounts[0], accounts[1], accounts[2], accounts[3], accounts[4]) = (alice, bob, carol, dave, erin);
        (amounts[0], amounts[1], amounts[2], amounts[3], amounts[4]) =
        (100 ether, 200 ether, 300 ether, 50 ether, 7 ether);
        leaves = MerkleTrees.leaves(accounts, amounts);
        root = MerkleTrees.root(leaves);
    }

    // ---------------------------------------------------------------- construction

    function test_constructor_setsParameters() public view {
        assertEq(rewards.token(), address(agora));
        assertEq(rewards.owner(), address(timelock));
        assertEq(rewards.epochLength(), REWARDS_EPOCH_LENGTH);
        assertEq(rewards.unallocated(), REWARDS_RESERVE);
    }

    function test_constructor_revertsOnZeroEpochLength() public {
        vm.expectRevert(IAgoraRewards.AgoraRewards__ZeroEpochLength.selector);
        new AgoraRewards(agora, address(timelock), 0, 0);
    }

    // ---------------------------------------------------------------- fundEpoch

    function test_fundEpoch_setsAsideTheTotal() public {
        _endEpoch(0);
        vm.expectEmit(address(rewards));
        emit IAgoraRewards.EpochFunded(0, root, TREE_TOTAL);
        vm.prank(address(timelock));
        rewards.fundEpoch(0, root, TREE_TOTAL);

        (bytes32 fundedRoot, uint256 total, uint256 claimed) = rewards.epoch(0);
        assertEq(fundedRoot, root);
        assertEq(total, TREE_TOTAL);
        assertEq(claimed, 0);
        assertEq(rewards.unallocated(), REWARDS_RESERVE - TREE_TOTAL);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE);
    }

    function test_fundEpoch_revertsWhenNotOwner() public {
        _endEpoch(0);
        address[4] memory callers = [deployer, alice, address(governor), address(this)];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, callers[i]));
            vm.prank(callers[i]);
            rewards.fundEpoch(0, root, TREE_TOTAL);
        }
    }

    function test_fundEpoch_revertsBeforeTheEpochEnds() public {
        (, uint64 end) = rewards.epochWindow(0);
        vm.warp(end - 1);
        vm.expectRevert(abi.encodeWithSelector(IAgoraRewards.AgoraRewards__EpochNotEnded.selector, 0, end));
        vm.prank(address(timelock));
        rewards.fundEpoch(0, root, TREE_TOTAL);

        vm.warp(end);
        (, uint64 nextEnd) = rewards.epochWindow(1);
        // Epoch 1 has just begun.
        vm.expectRevert(
            abi.encodeWithSelector(IAgoraRewards.AgoraRewards__EpochNotEnded.selector, 1, nextEnd)
        );
        vm.prank(address(timelock));
        rewards.fundEpoch(1, root, TREE_TOTAL);
        vm.prank(address(timelock));
        rewards.fundEpoch(0, root, TREE_TOTAL);
    }

    function testFuzz_fundEpoch_onlyOnceTheEpochEnded(uint256 epochId, uint256 fundedAt) public {
        epochId = bound(epochId, 0, 10_000);
        (, uint64 end) = rewards.epochWindow(epochId);
        fundedAt = bound(fundedAt, block.timestamp, uint256(end) + 365 days);
        vm.warp(fundedAt);
        if (fundedAt < end) {
            vm.expectRevert(
                abi.encodeWithSelector(IAgoraRewards.AgoraRewards__EpochNotEnded.selector, epochId, end)
            );
        }
        vm.prank(address(timelock));
        rewards.fundEpoch(epochId, root, TREE_TOTAL);
    }

    function test_fundEpoch_revertsWhenAlreadyFunded() public {
        _fund(0, root, TREE_TOTAL);
        vm.expectRevert(abi.encodeWithSelector(IAgoraRewards.AgoraRewards__EpochAlreadyFunded.selector, 0));
        vm.prank(address(timelock));
        rewards.fundEpoch(0, keccak256("another root"), 1 ether);
        assertEq(rewards.unallocated(), REWARDS_RESERVE - TREE_TOTAL);
    }

    function test_fundEpoch_revertsOnEmptyEpoch() public {
        _endEpoch(0);
        vm.startPrank(address(timelock));
        vm.expectRevert(IAgoraRewards.AgoraRewards__EmptyEpoch.selector);
        rewards.fundEpoch(0, bytes32(0), TREE_TOTAL);
        vm.expectRevert(IAgoraRewards.AgoraRewards__EmptyEpoch.selector);
        rewards.fundEpoch(0, root, 0);
        vm.stopPrank();
    }

    function test_fundEpoch_revertsBeyondUnallocatedReserve() public {
        _endEpoch(1);
        vm.startPrank(address(timelock));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAgoraRewards.AgoraRewards__InsufficientReserve.selector, REWARDS_RESERVE + 1, REWARDS_RESERVE
            )
        );
        rewards.fundEpoch(0, root, REWARDS_RESERVE + 1);

        // What one epoch sets aside, the next cannot have.
        rewards.fundEpoch(0, root, REWARDS_RESERVE - 1000 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAgoraRewards.AgoraRewards__InsufficientReserve.selector, 1000 ether + 1, 1000 ether
            )
        );
        rewards.fundEpoch(1, root, 1000 ether + 1);
        rewards.fundEpoch(1, root, 1000 ether);
        vm.stopPrank();
        assertEq(rewards.unallocated(), 0);

        // Claims pay out of what was set aside: they free nothing for a new epoch.
        rewards.claim(1, carol, 300 ether, MerkleTrees.proof(leaves, 2));
        assertEq(rewards.unallocated(), 0);
    }

    function test_fundEpoch_tokensSentToTheReserveCanBeAllocated() public {
        vm.prank(deployer);
        assertTrue(agora.transfer(address(rewards), 1000 ether));
        assertEq(rewards.unallocated(), REWARDS_RESERVE + 1000 ether);
        _fund(0, root, REWARDS_RESERVE + 1000 ether);
        assertEq(rewards.unallocated(), 0);
    }

    function test_fundEpoch_hugeEpochNeverEnds() public {
        vm.warp(type(uint64).max - 1);
        uint256[3] memory huge = [type(uint256).max, uint256(type(uint64).max), 2 ** 128];
        for (uint256 i; i < huge.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IAgoraRewards.AgoraRewards__EpochNotEnded.selector, huge[i], type(uint64).max
                )
            );
            vm.prank(address(timelock));
            rewards.fundEpoch(huge[i], root, TREE_TOTAL);
        }
    }

    /// @dev The way it happens in production: a proposal funds the ended epoch, then accounts claim.
    function test_fundEpoch_viaProposal_thenClaim() public {
        _endEpoch(0);
        uint256 proposalId = _passAndExecute(
            address(rewards), abi.encodeCall(rewards.fundEpoch, (0, root, TREE_TOTAL)), "Fund rewards epoch 0"
        );
        _assertState(proposalId, IGovernor.ProposalState.Executed);
        (bytes32 fundedRoot, uint256 total,) = rewards.epoch(0);
        assertEq(fundedRoot, root);
        assertEq(total, TREE_TOTAL);

        rewards.claim(0, dave, 50 ether, MerkleTrees.proof(leaves, 3));
        assertEq(agora.balanceOf(dave), 50 ether);
    }

    // ---------------------------------------------------------------- claim

    function test_claim_relayedPaysTheAccount() public {
        _fund(0, root, TREE_TOTAL);
        uint256 aliceBefore = agora.balanceOf(alice);
        bytes32[] memory proof = MerkleTrees.proof(leaves, 0);

        vm.expectEmit(address(rewards));
        emit IAgoraRewards.RewardClaimed(0, alice, 100 ether);
        vm.prank(relayer);
        rewards.claim(0, alice, 100 ether, proof);

        assertEq(agora.balanceOf(alice) - aliceBefore, 100 ether);
        assertEq(agora.balanceOf(relayer), 0);
        assertTrue(rewards.isClaimed(0, alice));
        assertFalse(rewards.isClaimed(0, bob));
        (,, uint256 claimed) = rewards.epoch(0);
        assertEq(claimed, 100 ether);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE - 100 ether);
        assertEq(rewards.unallocated(), REWARDS_RESERVE - TREE_TOTAL);
    }

    function test_claim_everyLeafOnce() public {
        _fund(0, root, TREE_TOTAL);
        for (uint256 i; i < accounts.length; ++i) {
            uint256 before = agora.balanceOf(accounts[i]);
            rewards.claim(0, accounts[i], amounts[i], MerkleTrees.proof(leaves, i));
            assertEq(agora.balanceOf(accounts[i]) - before, amounts[i]);
        }
        (,, uint256 claimed) = rewards.epoch(0);
        assertEq(claimed, TREE_TOTAL);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE - TREE_TOTAL);
    }

    function test_claim_singleLeafTreeNeedsNoProof() public {
        bytes32 leaf = MerkleTrees.leaf(dave, 5 ether);
        _fund(0, leaf, 5 ether);
        rewards.claim(0, dave, 5 ether, new bytes32[](0));
        assertEq(agora.balanceOf(dave), 5 ether);
    }

    function test_claim_revertsWhenClaimedTwice() public {
        _fund(0, root, TREE_TOTAL);
        bytes32[] memory proof = MerkleTrees.proof(leaves, 1);
        rewards.claim(0, bob, 200 ether, proof);
        vm.expectRevert(abi.encodeWithSelector(IAgoraRewards.AgoraRewards__AlreadyClaimed.selector, 0, bob));
        vm.prank(bob);
        rewards.claim(0, bob, 200 ether, proof);
        assertEq(agora.balanceOf(bob), 200 ether);
    }

    function test_claim_revertsOnWrongProofAmountOrAccount() public {
        _fund(0, root, TREE_TOTAL);
        bytes32[] memory aliceProof = MerkleTrees.proof(leaves, 0);

        // Bob's proof for alice's leaf.
        _expectInvalidProof(0, alice, 100 ether);
        rewards.claim(0, alice, 100 ether, MerkleTrees.proof(leaves, 1));
        // Alice's proof for more than her amount.
        _expectInvalidProof(0, alice, 101 ether);
        rewards.claim(0, alice, 101 ether, aliceProof);
        // Alice's proof and amount for another account.
        _expectInvalidProof(0, bob, 100 ether);
        rewards.claim(0, bob, 100 ether, aliceProof);
        // No proof at all.
        _expectInvalidProof(0, alice, 100 ether);
        rewards.claim(0, alice, 100 ether, new bytes32[](0));
        // A proof one level short.
        bytes32[] memory shortened = new bytes32[](aliceProof.length - 1);
        for (uint256 i; i < shortened.length; ++i) {
            shortened[i] = aliceProof[i + 1];
        }
        _expectInvalidProof(0, alice, 100 ether);
        rewards.claim(0, alice, 100 ether, shortened);

        assertFalse(rewards.isClaimed(0, alice));
        rewards.claim(0, alice, 100 ether, aliceProof);
    }

    function testFuzz_claim_revertsOnAnyOtherAmount(uint256 amount) public {
        vm.assume(amount != 100 ether);
        _fund(0, root, TREE_TOTAL);
        _expectInvalidProof(0, alice, amount);
        rewards.claim(0, alice, amount, MerkleTrees.proof(leaves, 0));
    }

    function test_claim_revertsOnAnotherEpochsProof() public {
        _fund(0, root, TREE_TOTAL);
        uint256[] memory other = new uint256[](5);
        (other[0], other[1], other[2], other[3], other[4]) = (1 ether, 2 ether, 3 ether, 4 ether, 5 ether);
        bytes32[] memory otherLeaves = MerkleTrees.leaves(accounts, other);
        _fund(1, MerkleTrees.root(otherLeaves), 15 ether);

        _expectInvalidProof(1, alice, 100 ether);
        rewards.claim(1, alice, 100 ether, MerkleTrees.proof(leaves, 0));
        // Each epoch is claimed on its own.
        rewards.claim(0, alice, 100 ether, MerkleTrees.proof(leaves, 0));
        rewards.claim(1, alice, 1 ether, MerkleTrees.proof(otherLeaves, 0));
        assertTrue(rewards.isClaimed(0, alice) && rewards.isClaimed(1, alice));
    }

    function test_claim_revertsWhenEpochNotFunded() public {
        _endEpoch(0);
        vm.expectRevert(abi.encodeWithSelector(IAgoraRewards.AgoraRewards__EpochNotFunded.selector, 0));
        rewards.claim(0, alice, 100 ether, MerkleTrees.proof(leaves, 0));
    }

    /// @dev A root whose leaves sum to 657 funded with a total of 400: claims are paid first come, first
    /// served up to 400 and no further, and the other epochs' funds are untouched.
    function test_claim_overcommittedRootCannotPayMoreThanItsTotal() public {
        uint256 total = 400 ether;
        _fund(0, root, total);
        _fund(1, root, TREE_TOTAL);

        rewards.claim(0, carol, 300 ether, MerkleTrees.proof(leaves, 2));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAgoraRewards.AgoraRewards__EpochOverdrawn.selector, 0, 100 ether, 200 ether
            )
        );
        rewards.claim(0, bob, 200 ether, MerkleTrees.proof(leaves, 1));
        rewards.claim(0, alice, 100 ether, MerkleTrees.proof(leaves, 0));
        vm.expectRevert(
            abi.encodeWithSelector(IAgoraRewards.AgoraRewards__EpochOverdrawn.selector, 0, 0, 50 ether)
        );
        rewards.claim(0, dave, 50 ether, MerkleTrees.proof(leaves, 3));
        (,, uint256 claimed) = rewards.epoch(0);
        assertEq(claimed, total);
        assertFalse(rewards.isClaimed(0, bob));

        for (uint256 i; i < accounts.length; ++i) {
            rewards.claim(1, accounts[i], amounts[i], MerkleTrees.proof(leaves, i));
        }
        (,, claimed) = rewards.epoch(1);
        assertEq(claimed, TREE_TOTAL);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE - total - TREE_TOTAL);
        assertEq(rewards.unallocated(), REWARDS_RESERVE - total - TREE_TOTAL);
    }

    function testFuzz_claim_paysEachLeafExactlyOnce(uint256 seed, uint8 size) public {
        uint256 n = bound(size, 1, 24);
        address[] memory earners = new address[](n);
        uint256[] memory earned = new uint256[](n);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            earners[i] = address(uint160(uint256(keccak256(abi.encode(seed, i)))) | 1);
            earned[i] = bound(uint256(keccak256(abi.encode(seed, i, "amount"))), 1, 1000 ether);
            total += earned[i];
        }
        bytes32[] memory tree = MerkleTrees.leaves(earners, earned);
        _fund(0, MerkleTrees.root(tree), total);

        // In an order set by the seed, each relayed by someone else.
        uint256 offset = seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 i = (k + offset) % n;
            vm.prank(relayer);
            rewards.claim(0, earners[i], earned[i], MerkleTrees.proof(tree, i));
            assertEq(agora.balanceOf(earners[i]), earned[i]);
        }
        uint256 again = (seed >> 128) % n;
        vm.expectRevert(
            abi.encodeWithSelector(IAgoraRewards.AgoraRewards__AlreadyClaimed.selector, 0, earners[again])
        );
        rewards.claim(0, earners[again], earned[again], MerkleTrees.proof(tree, again));

        (,, uint256 claimed) = rewards.epoch(0);
        assertEq(claimed, total);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE - total);
        assertEq(rewards.unallocated(), REWARDS_RESERVE - total);
    }

    // ---------------------------------------------------------------- epochWindow

    function test_epochWindow_cutsTimeIntoEpochs() public view {
        uint64 first = rewards.firstEpochStart();
        (uint64 start, uint64 end) = rewards.epochWindow(0);
        assertEq(start, first);
        assertEq(end, first + REWARDS_EPOCH_LENGTH);
        (start, end) = rewards.epochWindow(1);
        assertEq(start, first + REWARDS_EPOCH_LENGTH);
        assertEq(end, first + 2 * REWARDS_EPOCH_LENGTH);
        (start, end) = rewards.epochWindow(52);
        assertEq(start, first + 52 * REWARDS_EPOCH_LENGTH);
        assertEq(end, first + 53 * REWARDS_EPOCH_LENGTH);
    }

    function test_epochWindow_saturatesForHugeEpochs() public view {
        uint256[5] memory huge = [
            type(uint256).max,
            2 ** 200,
            uint256(type(uint64).max) + 1,
            uint256(type(uint64).max),
            uint256(type(uint64).max / REWARDS_EPOCH_LENGTH)
        ];
        for (uint256 i; i < huge.length; ++i) {
            (uint64 start, uint64 end) = rewards.epochWindow(huge[i]);
            assertEq(start, type(uint64).max);
            assertEq(end, type(uint64).max);
        }
    }

    function test_epochWindow_lastEpochsBeforeTheEndOfTime() public {
        AgoraRewards secondly = new AgoraRewards(agora, address(this), 0, 1);
        (uint64 start, uint64 end) = secondly.epochWindow(type(uint64).max - 1);
        assertEq(start, type(uint64).max - 1);
        assertEq(end, type(uint64).max);
        (start, end) = secondly.epochWindow(type(uint64).max);
        assertEq(start, type(uint64).max);
        assertEq(end, type(uint64).max);

        // Epoch 0 ends 3 seconds before the end of uint64 time; epoch 1 would end after it.
        AgoraRewards late = new AgoraRewards(agora, address(this), type(uint64).max - 10, 7);
        (start, end) = late.epochWindow(0);
        assertEq(start, type(uint64).max - 10);
        assertEq(end, type(uint64).max - 3);
        (start, end) = late.epochWindow(1);
        assertEq(start, type(uint64).max);
        assertEq(end, type(uint64).max);
    }

    /// @dev For any schedule and any epoch number: no revert, and the window is exact whenever it fits in
    /// uint64 time, saturated otherwise.
    function testFuzz_epochWindow_exactOrSaturated(uint64 first, uint64 length, uint256 epochId) public {
        length = uint64(bound(length, 1, type(uint64).max));
        // Half the runs near the last epochs that fit.
        if (epochId % 2 == 0) epochId = bound(epochId, 0, uint256(type(uint64).max / length) + 1);
        AgoraRewards schedule = new AgoraRewards(agora, address(this), first, length);
        (uint64 start, uint64 end) = schedule.epochWindow(epochId);

        bool fits = epochId < type(uint64).max && uint256(first) + (epochId + 1) * length <= type(uint64).max;
        if (fits) {
            assertEq(start, uint256(first) + epochId * length);
            assertEq(end, uint256(start) + length);
        } else {
            assertEq(start, type(uint64).max);
            assertEq(end, type(uint64).max);
        }
    }

    // ---------------------------------------------------------------- helpers

    /// @dev Waits until `epochId` has ended.
    function _endEpoch(uint256 epochId) internal {
        (, uint64 end) = rewards.epochWindow(epochId);
        if (block.timestamp < end) vm.warp(end);
    }

    /// @dev Funds `epochId` as the DAO's timelock, once it has ended.
    function _fund(uint256 epochId, bytes32 root_, uint256 total) internal {
        _endEpoch(epochId);
        vm.prank(address(timelock));
        rewards.fundEpoch(epochId, root_, total);
    }

    function _expectInvalidProof(uint256 epochId, address account, uint256 amount) internal {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAgoraRewards.AgoraRewards__InvalidProof.selector, epochId, account, amount
            )
        );
    }
}
