// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {AgoraRewardsHandler} from "./handlers/AgoraRewardsHandler.sol";

/// @notice The rewards reserve over random funding and claims: no epoch pays more than its total, no
/// account claims an epoch twice, and every AGORA is accounted for (the reserve holds what it was given
/// less what was claimed, and never sets aside more than it holds).
contract AgoraRewardsInvariantTest is ProtocolFixture {
    AgoraRewardsHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory earners = new address[](5);
        for (uint256 i; i < earners.length; ++i) {
            earners[i] = makeAddr(string.concat("earner", vm.toString(i)));
        }
        handler = new AgoraRewardsHandler(rewards, deployer, earners);

        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = AgoraRewardsHandler.fundEpoch.selector;
        selectors[1] = AgoraRewardsHandler.claim.selector;
        selectors[2] = AgoraRewardsHandler.claimForged.selector;
        selectors[3] = AgoraRewardsHandler.donate.selector;
        selectors[4] = AgoraRewardsHandler.warp.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @dev After every call (the handler checks each claim against its epoch's total as it is paid):
    /// - the reserve's balance == reserve + sent in − claimed;
    /// - `unallocated()` (which would underflow otherwise) == balance − what funded epochs have not paid yet;
    /// - no claim was paid twice, beyond its epoch's total or on a forged leaf, and every refused claim
    ///   was refused for its reason.
    /// Each assertion names its property.
    function invariant_rewardsAreConserved() public view {
        uint256 balance = agora.balanceOf(address(rewards));
        assertEq(
            balance,
            REWARDS_RESERVE + handler.ghost_donated() - handler.ghost_claimed(),
            "balance != reserve + sent in - claimed"
        );
        uint256 outstanding = handler.ghost_outstanding();
        assertGe(balance, outstanding, "set aside more than held");
        assertEq(rewards.unallocated(), balance - outstanding, "unallocated != balance - outstanding");
        (uint256 doubleClaims, uint256 overdraws, uint256 forgeriesPaid, uint256 wrongRefusals) =
            handler.faults();
        assertEq(doubleClaims, 0, "an account claimed an epoch twice");
        assertEq(overdraws, 0, "a claim overdrew its epoch");
        assertEq(forgeriesPaid, 0, "a forged claim was paid");
        assertEq(wrongRefusals, 0, "a claim refused for the wrong reason");
    }

    /// @dev Once per run, after its last call, the properties that read every epoch and earner (a wrong
    /// total, payment or flag persists to the end of the run, so checking there finds it at a fraction of
    /// the cost of checking after every call):
    /// - each funded epoch's total is what it was funded with, and what it paid (as the contract and the
    ///   ghosts count it) is at most that total; together they are what the reserve still owes;
    /// - every earner's claimed flag in every funded epoch is whether it was paid, and it was paid at most
    ///   once; the earners hold exactly what was claimed.
    function afterInvariant() public view {
        uint256[] memory epochs = handler.epochs();
        address[] memory earners = handler.earners();
        uint256 outstanding;
        for (uint256 e; e < epochs.length; ++e) {
            (, uint256 total, uint256 claimed) = rewards.epoch(epochs[e]);
            assertEq(total, handler.ghost_funded(epochs[e]), "epoch total != funded");
            assertLe(claimed, total, "epoch paid more than its total");
            assertEq(claimed, handler.ghost_paid(epochs[e]), "epoch claimed != paid");
            outstanding += total - claimed;
            for (uint256 i; i < earners.length; ++i) {
                uint256 paid = handler.ghost_claimsPaid(epochs[e], earners[i]);
                assertLe(paid, 1, "claimed twice");
                assertEq(rewards.isClaimed(epochs[e], earners[i]), paid == 1, "isClaimed != paid");
            }
        }
        assertEq(outstanding, handler.ghost_outstanding(), "outstanding != epochs' unpaid totals");
        uint256 earned;
        for (uint256 i; i < earners.length; ++i) {
            earned += agora.balanceOf(earners[i]);
        }
        assertEq(earned, handler.ghost_claimed(), "earners != claimed");
    }
}
