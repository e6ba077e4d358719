// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AgoraToken} from "../src/governance/AgoraToken.sol";
import {AgoraTimelock} from "../src/governance/AgoraTimelock.sol";
import {AgoraGovernor} from "../src/governance/AgoraGovernor.sol";
import {AgoraRewards} from "../src/governance/AgoraRewards.sol";
import {AgoraVestingWallet} from "../src/governance/AgoraVestingWallet.sol";
import {AssetRegistry} from "../src/AssetRegistry.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {RevenueSplitter} from "../src/RevenueSplitter.sol";
import {ComputeMarket} from "../src/ComputeMarket.sol";

/// @notice Deploys and wires the whole protocol from the calling context (a test under `vm.startPrank`
/// or a script under `vm.startBroadcast`), in the same order and with the same roles as the Rust
/// deployer: the timelock ends up owning every parameter, the AGORA supply goes to the declared
/// allocation and the deployer keeps nothing it does not grant itself.
library ProtocolDeployer {
    /// @notice One vesting wallet of the allocation.
    struct Vesting {
        address beneficiary;
        uint256 amount;
        uint64 start;
        uint64 duration;
        uint64 cliff;
    }

    /// @notice The AGORA minted at deployment.
    struct Allocation {
        uint256 treasury;
        uint256 rewardsReserve;
        Vesting[] vesting;
        AgoraToken.InitialBalance[] grants;
    }

    struct Settings {
        address deployer;
        Allocation allocation;
        uint256 timelockDelay;
        uint48 votingDelay;
        uint32 votingPeriod;
        uint256 quorumPercent;
        uint48 voteExtension;
        uint64 rewardsEpochStart;
        uint64 rewardsEpochLength;
        uint16 feeBps;
        uint256 minStake;
        uint64 challengeWindow;
        uint64 exitCooldown;
        uint256 disputeBond;
        uint64 rulingWindow;
        address[] allowedCurrencies;
    }

    struct Protocol {
        AgoraToken agora;
        AgoraTimelock timelock;
        AgoraGovernor governor;
        AgoraRewards rewards;
        AgoraVestingWallet[] vestingWallets;
        AssetRegistry registry;
        AccessToken accessTokenImpl;
        Marketplace marketplace;
        RevenueSplitter splitter;
        ComputeMarket compute;
    }

    function deploy(Settings memory s) internal returns (Protocol memory p) {
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1);
        p.timelock = new AgoraTimelock(s.timelockDelay, none, anyone, s.deployer);
        Allocation memory a = s.allocation;
        p.vestingWallets = new AgoraVestingWallet[](a.vesting.length);
        // Treasury, each vesting wallet, the reserve (to the deployer, handed to the rewards contract
        // once it exists: its address depends on the token's), then the grants.
        uint256 lines =
            (a.treasury > 0 ? 1 : 0) + a.vesting.length + (a.rewardsReserve > 0 ? 1 : 0) + a.grants.length;
        AgoraToken.InitialBalance[] memory balances = new AgoraToken.InitialBalance[](lines);
        uint256 n;
        if (a.treasury > 0) balances[n++] = AgoraToken.InitialBalance(address(p.timelock), a.treasury);
        for (uint256 i = 0; i < a.vesting.length; ++i) {
            Vesting memory v = a.vesting[i];
            p.vestingWallets[i] = new AgoraVestingWallet(v.beneficiary, v.start, v.duration, v.cliff);
            balances[n++] = AgoraToken.InitialBalance(address(p.vestingWallets[i]), v.amount);
        }
        if (a.rewardsReserve > 0) balances[n++] = AgoraToken.InitialBalance(s.deployer, a.rewardsReserve);
        for (uint256 i = 0; i < a.grants.length; ++i) {
            balances[n++] = a.grants[i];
        }
        p.agora = new AgoraToken(balances);
        p.governor = new AgoraGovernor(
            p.agora,
            p.timelock,
            s.votingDelay,
            s.votingPeriod,
            0,
            s.quorumPercent,
            s.voteExtension,
            address(p.timelock)
        );
        p.rewards = new AgoraRewards(p.agora, address(p.timelock), s.rewardsEpochStart, s.rewardsEpochLength);
        if (a.rewardsReserve > 0) p.agora.transfer(address(p.rewards), a.rewardsReserve);
        p.timelock.grantRole(p.timelock.PROPOSER_ROLE(), address(p.governor));
        p.timelock.grantRole(p.timelock.CANCELLER_ROLE(), address(p.governor));
        p.timelock.renounceRole(p.timelock.DEFAULT_ADMIN_ROLE(), s.deployer);

        p.registry = new AssetRegistry(s.deployer);
        p.marketplace = new Marketplace(
            address(p.registry), address(p.timelock), address(p.timelock), s.feeBps, s.allowedCurrencies
        );
        p.splitter = RevenueSplitter(p.marketplace.splitter());
        p.compute = new ComputeMarket(
            address(p.registry),
            address(p.timelock),
            address(p.timelock),
            s.feeBps,
            s.minStake,
            s.challengeWindow,
            s.exitCooldown,
            s.disputeBond,
            s.rulingWindow
        );
        p.accessTokenImpl = new AccessToken(address(p.registry), address(p.marketplace), address(p.compute));
        p.registry.initialize(address(p.marketplace), address(p.compute), address(p.accessTokenImpl));
    }
}
