// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Script, console} from "forge-std/Script.sol";
import {ProtocolDeployer} from "./ProtocolDeployer.sol";

/// @notice Deploys the protocol to a local anvil from its first development account (scripts/dev.sh).
contract DeployLocal is Script {
    function run() external {
        uint256 key = vm.deriveKey("test test test test test test test test test test test junk", 0);
        vm.startBroadcast(key);
        ProtocolDeployer.Protocol memory p = ProtocolDeployer.deploy(
            ProtocolDeployer.Settings({
                deployer: vm.addr(key),
                agoraSupply: 100_000_000 ether,
                timelockDelay: 1,
                votingDelay: 1,
                votingPeriod: 50,
                quorumPercent: 4,
                feeBps: 250,
                minStake: 1 ether,
                challengeWindow: 1 days,
                exitCooldown: 7 days,
                disputeBond: 0.1 ether
            })
        );
        vm.stopBroadcast();
        console.log("AssetRegistry ", address(p.registry));
        console.log("Marketplace   ", address(p.marketplace));
        console.log("ComputeMarket ", address(p.compute));
        console.log("AgoraGovernor ", address(p.governor));
        console.log("AgoraTimelock ", address(p.timelock));
    }
}
