// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {VestingWalletCliff} from "@openzeppelin/contracts/finance/VestingWalletCliff.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {AgoraVestingWallet} from "../../src/governance/AgoraVestingWallet.sol";

/// @notice Carol's vesting wallet from the fixture's allocation: VESTED AGORA over a year from the
/// deployment, nothing before a 90-day cliff.
contract AgoraVestingWalletTest is ProtocolFixture {
    uint64 internal constant DURATION = 365 days;
    uint64 internal constant CLIFF = 90 days;

    uint64 internal start;

    function setUp() public override {
        super.setUp();
        start = uint64(carolVesting.start());
    }

    function test_constructor_setsSchedule() public view {
        assertEq(carolVesting.owner(), carol);
        assertEq(carolVesting.duration(), DURATION);
        assertEq(carolVesting.cliff(), start + CLIFF);
        assertEq(carolVesting.end(), start + DURATION);
        assertEq(agora.balanceOf(address(carolVesting)), VESTED);
    }

    function test_release_nothingBeforeTheCliff() public {
        vm.warp(start + CLIFF - 1);
        assertEq(carolVesting.vestedAmount(address(agora), uint64(block.timestamp)), 0);
        assertEq(carolVesting.releasable(address(agora)), 0);
        carolVesting.release(address(agora));
        assertEq(agora.balanceOf(carol), 0);
        assertEq(agora.balanceOf(address(carolVesting)), VESTED);
    }

    function test_release_atTheCliffPaysTheTimeElapsedSinceStart() public {
        vm.warp(start + CLIFF);
        uint256 due = VESTED * CLIFF / DURATION;
        assertGt(due, 0);
        assertEq(carolVesting.releasable(address(agora)), due);
        carolVesting.release(address(agora));
        assertEq(agora.balanceOf(carol), due);
    }

    function testFuzz_release_linearAfterTheCliff(uint64 elapsed) public {
        elapsed = uint64(bound(elapsed, CLIFF, DURATION));
        vm.warp(start + elapsed);
        uint256 due = VESTED * elapsed / DURATION;
        assertEq(carolVesting.vestedAmount(address(agora), uint64(block.timestamp)), due);
        // Anyone may trigger the release; the tokens go to carol.
        vm.prank(bob);
        carolVesting.release(address(agora));
        assertEq(agora.balanceOf(carol), due);
        assertEq(agora.balanceOf(bob), 0);
        assertEq(agora.balanceOf(address(carolVesting)), VESTED - due);
        assertEq(carolVesting.releasable(address(agora)), 0);
    }

    function testFuzz_release_inStepsAddsUpToTheSchedule(uint64 first, uint64 second) public {
        first = uint64(bound(first, 0, DURATION));
        second = uint64(bound(second, first, DURATION + 30 days));
        vm.warp(start + first);
        carolVesting.release(address(agora));
        vm.warp(start + second);
        carolVesting.release(address(agora));
        assertEq(agora.balanceOf(carol), carolVesting.vestedAmount(address(agora), uint64(block.timestamp)));
        assertEq(agora.balanceOf(carol) + agora.balanceOf(address(carolVesting)), VESTED);
    }

    function test_release_everythingAtStartPlusDuration() public {
        vm.warp(start + DURATION - 1);
        assertLt(carolVesting.releasable(address(agora)), VESTED);
        vm.warp(start + DURATION);
        assertEq(carolVesting.releasable(address(agora)), VESTED);
        carolVesting.release(address(agora));
        assertEq(agora.balanceOf(carol), VESTED);
        assertEq(agora.balanceOf(address(carolVesting)), 0);
        vm.warp(start + 2 * DURATION);
        assertEq(carolVesting.releasable(address(agora)), 0);
    }

    function test_vestedTokens_voteOnlyOnceReleasedAndDelegated() public {
        vm.prank(carol);
        agora.delegate(carol);
        assertEq(agora.getVotes(carol), 0);
        vm.warp(start + DURATION);
        carolVesting.release(address(agora));
        assertEq(agora.getVotes(carol), VESTED);
    }

    function test_constructor_revertsWhenCliffExceedsDuration() public {
        vm.expectRevert(
            abi.encodeWithSelector(VestingWalletCliff.InvalidCliffDuration.selector, 2 days, 1 days)
        );
        new AgoraVestingWallet(carol, start, 1 days, 2 days);
    }
}
