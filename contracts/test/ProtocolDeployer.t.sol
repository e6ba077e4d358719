// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {ProtocolDeployer} from "../script/ProtocolDeployer.sol";
import {AgoraToken} from "../src/governance/AgoraToken.sol";

/// @notice The deployment mints exactly the declared allocation: the treasury to the timelock, the
/// reserve to the rewards contract, each vesting wallet its amount, each grant to its holder, and nothing
/// to the deployer it does not grant itself.
contract ProtocolDeployerTest is ProtocolFixture {
    function test_deploy_fixtureAllocation() public view {
        assertEq(agora.totalSupply(), TREASURY + REWARDS_RESERVE + VESTED + DEPLOYER_GRANT);
        assertEq(agora.balanceOf(deployer), DEPLOYER_GRANT);
        assertEq(agora.balanceOf(address(timelock)), TREASURY);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE);
        assertEq(agora.balanceOf(address(carolVesting)), VESTED);
        assertEq(agora.balanceOf(carol), 0);
        // The whole reserve is there to fund epochs; nothing is set aside yet.
        assertEq(rewards.unallocated(), REWARDS_RESERVE);
    }

    function test_deploy_wiresRewardsAndVesting() public view {
        assertEq(rewards.owner(), address(timelock));
        assertEq(rewards.token(), address(agora));
        assertEq(rewards.epochLength(), REWARDS_EPOCH_LENGTH);
        assertEq(carolVesting.owner(), carol);
        assertEq(carolVesting.duration(), 365 days);
        assertEq(carolVesting.cliff(), carolVesting.start() + 90 days);
        assertEq(governor.proposalGuardian(), address(timelock));
        assertEq(governor.lateQuorumVoteExtension(), VOTE_EXTENSION);
    }

    function test_deploy_withoutGrant_deployerHoldsNothing() public {
        ProtocolDeployer.Allocation memory allocation;
        allocation.treasury = TREASURY;
        allocation.rewardsReserve = REWARDS_RESERVE;
        allocation.vesting = new ProtocolDeployer.Vesting[](1);
        allocation.vesting[0] = ProtocolDeployer.Vesting({
            beneficiary: carol,
            amount: VESTED,
            start: uint64(block.timestamp),
            duration: 365 days,
            cliff: 90 days
        });
        ProtocolDeployer.Protocol memory p = _deploy(allocation);

        assertEq(p.agora.balanceOf(deployer), 0);
        assertEq(p.agora.totalSupply(), TREASURY + REWARDS_RESERVE + VESTED);
        assertEq(p.agora.balanceOf(address(p.timelock)), TREASURY);
        assertEq(p.agora.balanceOf(address(p.rewards)), REWARDS_RESERVE);
        assertEq(p.agora.balanceOf(address(p.vestingWallets[0])), VESTED);
    }

    function testFuzz_deploy_mintsExactlyTheAllocation(
        uint96 treasury,
        uint96 reserve,
        uint96[3] memory vested,
        uint96 grant,
        address grantee
    ) public {
        vm.assume(grantee != address(0));
        ProtocolDeployer.Allocation memory allocation;
        allocation.treasury = treasury;
        allocation.rewardsReserve = reserve;
        allocation.vesting = new ProtocolDeployer.Vesting[](vested.length);
        uint256 sum = uint256(treasury) + reserve;
        for (uint256 i; i < vested.length; ++i) {
            // Every line of the allocation carries something.
            uint256 amount = bound(vested[i], 1, type(uint96).max);
            allocation.vesting[i] = ProtocolDeployer.Vesting({
                beneficiary: makeAddr(string.concat("member", vm.toString(i))),
                amount: amount,
                start: uint64(block.timestamp),
                duration: 365 days,
                cliff: 0
            });
            sum += amount;
        }
        if (grant > 0) {
            allocation.grants = new AgoraToken.InitialBalance[](1);
            allocation.grants[0] = AgoraToken.InitialBalance(grantee, grant);
            sum += grant;
        }
        ProtocolDeployer.Protocol memory p = _deploy(allocation);
        vm.assume(
            grantee != address(p.timelock) && grantee != address(p.rewards)
                && grantee != address(p.vestingWallets[0]) && grantee != address(p.vestingWallets[1])
                && grantee != address(p.vestingWallets[2])
        );

        assertEq(p.agora.totalSupply(), sum);
        assertEq(p.agora.balanceOf(address(p.timelock)), treasury);
        assertEq(p.agora.balanceOf(address(p.rewards)), reserve);
        assertEq(p.rewards.unallocated(), reserve);
        for (uint256 i; i < vested.length; ++i) {
            assertEq(p.agora.balanceOf(address(p.vestingWallets[i])), allocation.vesting[i].amount);
            assertEq(p.vestingWallets[i].owner(), allocation.vesting[i].beneficiary);
        }
        assertEq(p.agora.balanceOf(grantee), grant);
        if (grantee != deployer) assertEq(p.agora.balanceOf(deployer), 0);
    }

    /// @dev Deploys a second protocol with the fixture's settings and `allocation`.
    function _deploy(ProtocolDeployer.Allocation memory allocation)
        internal
        returns (ProtocolDeployer.Protocol memory p)
    {
        vm.startPrank(deployer);
        p = ProtocolDeployer.deploy(
            ProtocolDeployer.Settings({
                deployer: deployer,
                allocation: allocation,
                timelockDelay: TIMELOCK_DELAY,
                votingDelay: VOTING_DELAY,
                votingPeriod: VOTING_PERIOD,
                quorumPercent: QUORUM_PERCENT,
                voteExtension: VOTE_EXTENSION,
                rewardsEpochStart: uint64(block.timestamp),
                rewardsEpochLength: REWARDS_EPOCH_LENGTH,
                feeBps: FEE_BPS,
                minStake: MIN_STAKE,
                challengeWindow: CHALLENGE_WINDOW,
                exitCooldown: EXIT_COOLDOWN,
                disputeBond: DISPUTE_BOND,
                rulingWindow: RULING_WINDOW,
                allowedCurrencies: new address[](0)
            })
        );
        vm.stopPrank();
    }
}
