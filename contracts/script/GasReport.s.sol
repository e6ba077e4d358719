// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Script, console} from "forge-std/Script.sol";
import {ProtocolDeployer} from "./ProtocolDeployer.sol";
import {AgoraToken} from "../src/governance/AgoraToken.sol";
import {IAssetRegistry} from "../src/interfaces/IAssetRegistry.sol";
import {IMarketplace} from "../src/interfaces/IMarketplace.sol";
import {IComputeMarket} from "../src/interfaces/IComputeMarket.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {MockStablecoin} from "../test/mocks/MockStablecoin.sol";

/// @notice Sends every user flow the gas report covers as real transactions to a local chain.
/// `scripts/gas-report.sh` runs it against a fresh anvil and reads each labelled transaction's
/// `gasUsed` from the broadcast receipts (so figures include the 21,000 base and calldata, as
/// Ocean's per-transaction figures do). Keys are anvil's well-known development accounts.
contract GasReport is Script {
    string internal constant MNEMONIC = "test test test test test test test test test test test junk";
    string internal constant CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

    uint256 internal _sent;
    string internal _labels;

    uint256 internal deployerKey;
    uint256 internal aliceKey;
    uint256 internal bobKey;
    uint256 internal carolKey;
    uint256 internal providerKey;
    ProtocolDeployer.Protocol internal p;
    MockStablecoin internal usd;

    function run() external {
        deployerKey = vm.deriveKey(MNEMONIC, 0);
        aliceKey = vm.deriveKey(MNEMONIC, 1);
        bobKey = vm.deriveKey(MNEMONIC, 2);
        carolKey = vm.deriveKey(MNEMONIC, 3);
        providerKey = vm.deriveKey(MNEMONIC, 4);
        address deployer = vm.addr(deployerKey);

        _as(deployerKey);
        // Before the protocol, so the deployment allows it as a chain's stablecoin would be.
        usd = new MockStablecoin();
        address[] memory currencies = new address[](1);
        currencies[0] = address(usd);
        // The deployer is granted the supply, to hand out to the flows' voters.
        ProtocolDeployer.Allocation memory allocation;
        allocation.grants = new AgoraToken.InitialBalance[](1);
        allocation.grants[0] = AgoraToken.InitialBalance(deployer, 1_000_000 ether);
        p = ProtocolDeployer.deploy(
            ProtocolDeployer.Settings({
                deployer: deployer,
                allocation: allocation,
                timelockDelay: 1,
                votingDelay: 1,
                votingPeriod: 5,
                quorumPercent: 4,
                voteExtension: 1,
                rewardsEpochStart: uint64(block.timestamp),
                rewardsEpochLength: 7 days,
                feeBps: 250,
                minStake: 1 ether,
                challengeWindow: 1,
                exitCooldown: 1,
                disputeBond: 0.1 ether,
                rulingWindow: 14 days,
                allowedCurrencies: currencies
            })
        );
        usd.mint(vm.addr(bobKey), 1_000_000e6);
        usd.mint(vm.addr(carolKey), 1_000_000e6);
        p.agora.transfer(vm.addr(aliceKey), 100_000 ether);
        vm.stopBroadcast();
        _sent = vm.getNonce(deployer); // only the deployer has sent transactions so far

        _publishFlows();
        (uint256 usdAsset, AccessToken usdToken) = _publishAsset(address(usd), 5e6);
        (uint256 ethAsset,) = _publishAsset(address(0), 0.01 ether);

        // A first sale of each asset by carol, so the measured purchases are not the asset's first.
        _as(carolKey);
        usd.approve(address(p.marketplace), type(uint256).max);
        p.marketplace.buy(usdAsset, 1, address(usd), 5e6);
        p.marketplace.buy{value: 0.01 ether}(ethAsset, 1, address(0), 0.01 ether);
        vm.stopBroadcast();
        _sent += 3;

        _buyFlows(usdAsset, ethAsset);
        _as(bobKey);
        _label("consume (single use)");
        usdToken.consume(vm.addr(providerKey));
        vm.stopBroadcast();

        _as(vm.deriveKey(MNEMONIC, 1));
        _label("release (ERC-20, one recipient)");
        p.splitter.release(usdAsset, address(usd), vm.addr(aliceKey));
        vm.stopBroadcast();

        _computeFlows(ethAsset);
        _voteFlow();
        console.log("GAS_LABELS", _labels);
    }

    function _publishFlows() internal {
        IAssetRegistry.PublishParams memory params = _params(address(0), 0.01 ether);
        _as(aliceKey);
        p.registry.publish(params); // the registry's first asset: not measured
        _sent += 1;
        _label("publish (one recipient)");
        p.registry.publish(params);
        address[] memory recipients = new address[](3);
        recipients[0] = vm.addr(bobKey);
        recipients[1] = vm.addr(carolKey);
        recipients[2] = vm.addr(aliceKey);
        _sortAddresses(recipients);
        uint16[] memory bps = new uint16[](3);
        (bps[0], bps[1], bps[2]) = (5000, 3000, 2000);
        params.splitRecipients = recipients;
        params.splitBps = bps;
        _label("publish (three recipients)");
        p.registry.publish(params);
        vm.stopBroadcast();
    }

    function _publishAsset(address currency, uint80 price) internal returns (uint256 id, AccessToken token) {
        _as(aliceKey);
        address tokenAddress;
        (id, tokenAddress) = p.registry.publish(_params(currency, price));
        vm.stopBroadcast();
        _sent += 1;
        token = AccessToken(tokenAddress);
    }

    function _buyFlows(uint256 usdAsset, uint256 ethAsset) internal {
        address bob = vm.addr(bobKey);
        address provider = vm.addr(providerKey);
        _as(bobKey);
        _label("buy 1 (ERC-20 with permit)");
        p.marketplace.buyWithPermit(usdAsset, 1, address(usd), 5e6, _permit(bobKey, bob, 5e6));
        _label("buy 1 (ETH)");
        p.marketplace.buy{value: 0.01 ether}(ethAsset, 1, address(0), 0.01 ether);
        _label("buy-and-consume (ERC-20 with permit)");
        p.marketplace
            .buyAndConsumeWithPermit(usdAsset, provider, address(usd), 5e6, _permit(bobKey, bob, 5e6));
        _label("buy-and-consume (ETH)");
        p.marketplace.buyAndConsume{value: 0.01 ether}(ethAsset, provider, address(0), 0.01 ether);
        _label("buy 1 (ERC-20 with permit, again)");
        p.marketplace.buyWithPermit(usdAsset, 1, address(usd), 5e6, _permit(bobKey, bob, 5e6));
        vm.stopBroadcast();

        // Ocean's shape: a separate approve, then the purchase, by a buyer new to the asset.
        uint256 daveKey = vm.deriveKey(MNEMONIC, 5);
        _as(deployerKey);
        usd.mint(vm.addr(daveKey), 1_000e6);
        vm.stopBroadcast();
        _sent += 1;
        _as(daveKey);
        _label("approve (ERC-20)");
        usd.approve(address(p.marketplace), 5e6);
        _label("buy 1 (ERC-20 after approve)");
        p.marketplace.buy(usdAsset, 1, address(usd), 5e6);
        vm.stopBroadcast();
    }

    /// @dev `ethAsset` is a dataset priced in ETH that bob has bought before.
    function _computeFlows(uint256 ethAsset) internal {
        address provider = vm.addr(providerKey);
        IAssetRegistry.PublishParams memory algorithm = _params(address(0), 0);
        algorithm.kind = IAssetRegistry.AssetKind.Algorithm;
        IAssetRegistry.PublishParams memory model = _params(address(0), 0.01 ether);
        model.kind = IAssetRegistry.AssetKind.Model;
        (uint256 dataset,) = _publishAsset(address(0), 0);
        _as(aliceKey);
        (uint256 algorithmId,) = p.registry.publish(algorithm);
        (uint256 modelId,) = p.registry.publish(model);
        vm.stopBroadcast();
        _sent += 2;

        _as(providerKey);
        p.compute.registerProvider{value: 1 ether}("http://127.0.0.1:8080", address(0), 0.05 ether);
        vm.stopBroadcast();
        _sent += 1;

        _as(bobKey);
        // Enough that no measured job spends a balance down to zero (which would be refunded gas).
        p.marketplace.buy(dataset, 4, address(0), 0);
        p.marketplace.buy{value: 0.02 ether}(modelId, 2, address(0), 0.01 ether);
        vm.stopBroadcast();
        _sent += 2;

        IComputeMarket.OpenJobParams memory job = IComputeMarket.OpenJobParams({
            datasetId: dataset,
            algorithmId: algorithmId,
            provider: provider,
            specCid: CID,
            currency: address(0),
            maxPayment: 0.05 ether,
            deadline: uint64(block.timestamp + 1 days)
        });
        _as(bobKey);
        p.compute.openJob{value: 0.05 ether}(job); // first job: not measured
        _sent += 1;
        _label("open job (ETH escrow)");
        uint256 jobId = p.compute.openJob{value: 0.05 ether}(job);
        job.algorithmId = modelId;
        _label("open job (ETH escrow, priced model)");
        p.compute.openJob{value: 0.05 ether}(job);
        IMarketplace.Purchase[] memory purchases = new IMarketplace.Purchase[](2);
        purchases[0] = IMarketplace.Purchase({assetId: ethAsset, currency: address(0), maxPrice: 0.01 ether});
        purchases[1] = IMarketplace.Purchase({assetId: modelId, currency: address(0), maxPrice: 0.01 ether});
        job.datasetId = ethAsset;
        _label("buy-and-open job (ETH, dataset + model)");
        p.marketplace.buyAndOpenJob{value: 0.07 ether}(purchases, job);
        vm.stopBroadcast();

        _as(providerKey);
        _label("complete job (post result)");
        p.compute.postResult(jobId, CID, keccak256("output"));
        vm.stopBroadcast();

        _tick();
        _tick();
        _as(carolKey);
        _label("finalize job");
        p.compute.finalize(jobId);
        vm.stopBroadcast();
    }

    function _voteFlow() internal {
        address alice = vm.addr(aliceKey);
        _as(aliceKey);
        p.agora.delegate(alice);
        vm.stopBroadcast();
        _sent += 1;

        address[] memory targets = new address[](1);
        targets[0] = address(p.marketplace);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(IMarketplace.setProtocolFee, (300));
        _as(aliceKey);
        uint256 proposalId = p.governor.propose(targets, values, calldatas, "Raise the protocol fee to 3%");
        vm.stopBroadcast();
        _sent += 1;

        _tick();
        _tick();
        _as(aliceKey);
        _label("cast vote");
        p.governor.castVote(proposalId, 1);
        vm.stopBroadcast();
    }

    function _params(address currency, uint80 price)
        internal
        view
        returns (IAssetRegistry.PublishParams memory x)
    {
        x.owner = vm.addr(aliceKey);
        x.kind = IAssetRegistry.AssetKind.Dataset;
        x.accessDuration = 0;
        x.contentDigest = sha256("content");
        x.metadataCid = CID;
        x.currency = currency;
        x.price = price;
    }

    function _permit(uint256 key, address owner, uint256 value)
        internal
        view
        returns (IMarketplace.Permit memory)
    {
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                owner,
                address(p.marketplace),
                value,
                usd.nonces(owner),
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usd.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return IMarketplace.Permit({value: value, deadline: deadline, v: v, r: r, s: s});
    }

    /// @dev Lets one block (and at least a second, under `anvil --block-time 1`) pass, on chain and
    /// in the script's own simulation, with a harmless transaction.
    function _tick() internal {
        _as(carolKey);
        usd.approve(vm.addr(providerKey), _sent);
        vm.stopBroadcast();
        _sent += 1;
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 1);
    }

    function _as(uint256 key) internal {
        vm.startBroadcast(key);
    }

    /// @dev Names the next broadcast transaction; each label call also counts that transaction.
    function _label(string memory name) internal {
        _labels = string.concat(_labels, vm.toString(_sent), "=", name, ";");
        _sent += 1;
    }

    function _sortAddresses(address[] memory a) internal pure {
        for (uint256 i = 1; i < a.length; ++i) {
            for (uint256 j = i; j > 0 && a[j - 1] > a[j]; --j) {
                (a[j - 1], a[j]) = (a[j], a[j - 1]);
            }
        }
    }
}
