// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AgoraToken} from "../src/governance/AgoraToken.sol";
import {AgoraTimelock} from "../src/governance/AgoraTimelock.sol";
import {AgoraGovernor} from "../src/governance/AgoraGovernor.sol";
import {AssetRegistry} from "../src/AssetRegistry.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {RevenueSplitter} from "../src/RevenueSplitter.sol";
import {ComputeMarket} from "../src/ComputeMarket.sol";

/// @notice Deploys and wires the whole protocol from the calling context (a test under `vm.startPrank`
/// or a script under `vm.startBroadcast`), in the same order and with the same roles as the Rust
/// deployer: the timelock ends up owning every parameter and the deployer keeps nothing.
library ProtocolDeployer {
    struct Settings {
        address deployer;
        uint256 agoraSupply;
        uint256 timelockDelay;
        uint48 votingDelay;
        uint32 votingPeriod;
        uint256 quorumPercent;
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
        AssetRegistry registry;
        AccessToken accessTokenImpl;
        Marketplace marketplace;
        RevenueSplitter splitter;
        ComputeMarket compute;
    }

    function deploy(Settings memory s) internal returns (Protocol memory p) {
        p.agora = new AgoraToken(s.deployer, s.agoraSupply);
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1);
        p.timelock = new AgoraTimelock(s.timelockDelay, none, anyone, s.deployer);
        p.governor = new AgoraGovernor(p.agora, p.timelock, s.votingDelay, s.votingPeriod, 0, s.quorumPercent);
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
