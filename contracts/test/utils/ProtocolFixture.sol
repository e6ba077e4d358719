// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {AgoraToken} from "../../src/governance/AgoraToken.sol";
import {AgoraTimelock} from "../../src/governance/AgoraTimelock.sol";
import {AgoraGovernor} from "../../src/governance/AgoraGovernor.sol";
import {AgoraRewards} from "../../src/governance/AgoraRewards.sol";
import {AgoraVestingWallet} from "../../src/governance/AgoraVestingWallet.sol";
import {AssetRegistry} from "../../src/AssetRegistry.sol";
import {AccessToken} from "../../src/AccessToken.sol";
import {Marketplace} from "../../src/Marketplace.sol";
import {RevenueSplitter} from "../../src/RevenueSplitter.sol";
import {ComputeMarket} from "../../src/ComputeMarket.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";
import {MockStablecoin} from "../mocks/MockStablecoin.sol";
import {ProtocolDeployer} from "../../script/ProtocolDeployer.sol";

/// @notice Deploys and wires the whole protocol the way the Rust deployer does, for every test suite.
abstract contract ProtocolFixture is Test {
    uint256 internal constant TIMELOCK_DELAY = 1 hours;
    uint48 internal constant VOTING_DELAY = 1 days;
    uint32 internal constant VOTING_PERIOD = 5 days;
    uint48 internal constant VOTE_EXTENSION = 1 days;
    uint64 internal constant REWARDS_EPOCH_LENGTH = 7 days;
    uint256 internal constant QUORUM_PERCENT = 4;
    uint16 internal constant FEE_BPS = 250;
    uint256 internal constant MIN_STAKE = 1 ether;
    uint64 internal constant CHALLENGE_WINDOW = 1 days;
    uint64 internal constant EXIT_COOLDOWN = 7 days;
    uint256 internal constant DISPUTE_BOND = 0.1 ether;
    uint64 internal constant RULING_WINDOW = 14 days;
    uint256 internal constant AGORA_SUPPLY = 1_000_000 ether;
    /// @dev The fixture's allocation: 40 % treasury, 20 % rewards reserve, 10 % vesting to carol,
    /// 30 % granted to the deployer (which the governance tests hand out to voters).
    uint256 internal constant TREASURY = 400_000 ether;
    uint256 internal constant REWARDS_RESERVE = 200_000 ether;
    uint256 internal constant VESTED = 100_000 ether;
    uint256 internal constant DEPLOYER_GRANT = 300_000 ether;

    address internal deployer = makeAddr("deployer");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal provider = makeAddr("provider");

    AgoraToken internal agora;
    AgoraTimelock internal timelock;
    AgoraGovernor internal governor;
    AgoraRewards internal rewards;
    AgoraVestingWallet internal carolVesting;
    AssetRegistry internal registry;
    AccessToken internal accessTokenImpl;
    Marketplace internal marketplace;
    RevenueSplitter internal splitter;
    ComputeMarket internal compute;
    MockStablecoin internal usd;

    function setUp() public virtual {
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
        allocation.grants = new AgoraToken.InitialBalance[](1);
        allocation.grants[0] = AgoraToken.InitialBalance(deployer, DEPLOYER_GRANT);
        vm.startPrank(deployer);
        ProtocolDeployer.Protocol memory p = ProtocolDeployer.deploy(
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
        (agora, timelock, governor, registry) = (p.agora, p.timelock, p.governor, p.registry);
        (rewards, carolVesting) = (p.rewards, p.vestingWallets[0]);
        (accessTokenImpl, marketplace, splitter, compute) =
        (p.accessTokenImpl, p.marketplace, p.splitter, p.compute);
        vm.stopPrank();

        usd = new MockStablecoin();
        vm.label(address(timelock), "timelock");
        // Created after the deployment, as on a live chain: the DAO allows it.
        _allowCurrency(address(usd));
    }

    /// @dev Puts `currency` on the DAO's allow-list, as the timelock.
    function _allowCurrency(address currency) internal {
        vm.prank(address(timelock));
        marketplace.allowCurrency(currency);
    }

    /// @dev Publish params for a public dataset sold at `price` of `currency`, all revenue to `owner`.
    function _params(address owner, address currency, uint80 price)
        internal
        pure
        returns (IAssetRegistry.PublishParams memory p)
    {
        p.owner = owner;
        p.kind = IAssetRegistry.AssetKind.Dataset;
        p.contentDigest = keccak256(abi.encode("content", owner, price));
        p.metadataCid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
        p.currency = currency;
        p.price = price;
    }

    /// @dev Publishes as `owner` and returns the asset id and its access token.
    function _publish(IAssetRegistry.PublishParams memory p)
        internal
        returns (uint256 assetId, AccessToken token)
    {
        vm.prank(p.owner);
        address tokenAddress;
        (assetId, tokenAddress) = registry.publish(p);
        token = AccessToken(tokenAddress);
    }
}
