// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "./ProtocolFixture.sol";
import {AccessToken} from "../../src/AccessToken.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";
import {IComputeMarket} from "../../src/interfaces/IComputeMarket.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";

/// @notice A compute market with priced inputs from two owners: alice's datasets (ETH and mUSD), carol's
/// priced model (ETH) and mUSD model split with dave, carol's free algorithm; an ETH and an mUSD provider;
/// bob, the consumer, funded in both and approving both markets.
/// @dev The helpers that build call arguments make no external call, so a `vm.prank` or `vm.expectRevert`
/// written before a call whose arguments use them still applies to that call.
abstract contract JobInputsFixture is ProtocolFixture {
    string internal constant ENDPOINT = "https://provider.example/agora";
    string internal constant SPEC_CID = "bafkreispecspecspecspecspecspecspecspecspecspecspecspecspec";
    uint128 internal constant JOB_ETH_PRICE = 0.2 ether;
    uint128 internal constant JOB_USD_PRICE = 100e6;
    uint80 internal constant DATASET_PRICE = 0.5 ether;
    uint80 internal constant DATASET_USD_PRICE = 20e6;
    uint80 internal constant MODEL_PRICE = 0.3 ether;
    uint80 internal constant MODEL_USD_PRICE = 40e6;
    uint16 internal constant CAROL_BPS = 6000;
    uint16 internal constant DAVE_BPS = 4000;
    uint64 internal constant JOB_TIME = 1 days;

    address internal dave = makeAddr("dave");
    address internal usdProvider = makeAddr("usdProvider");

    uint256 internal datasetId;
    AccessToken internal datasetToken;
    uint256 internal usdDatasetId;
    AccessToken internal usdDatasetToken;
    uint256 internal modelId;
    AccessToken internal modelToken;
    uint256 internal usdModelId;
    AccessToken internal usdModelToken;
    uint256 internal freeAlgorithmId;
    AccessToken internal freeAlgorithmToken;

    /// @dev Each input's terms at publish, for `_purchase`.
    mapping(uint256 assetId => IMarketplace.Purchase) internal _terms;

    function setUp() public virtual override {
        super.setUp();
        (datasetId, datasetToken) = _publishInput(address(0), DATASET_PRICE);
        (usdDatasetId, usdDatasetToken) = _publishInput(address(usd), DATASET_USD_PRICE);
        (modelId, modelToken) = _publishInput(IAssetRegistry.AssetKind.Model, address(0), MODEL_PRICE, false);
        (usdModelId, usdModelToken) =
            _publishInput(IAssetRegistry.AssetKind.Model, address(usd), MODEL_USD_PRICE, true);
        (freeAlgorithmId, freeAlgorithmToken) =
            _publishInput(IAssetRegistry.AssetKind.Algorithm, address(0), 0, false);

        vm.deal(provider, 10 ether);
        vm.prank(provider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(0), JOB_ETH_PRICE);
        vm.deal(usdProvider, 10 ether);
        vm.prank(usdProvider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(usd), JOB_USD_PRICE);

        vm.deal(bob, 100 ether);
        usd.mint(bob, 1_000e6);
        vm.startPrank(bob);
        usd.approve(address(compute), type(uint256).max);
        usd.approve(address(marketplace), type(uint256).max);
        vm.stopPrank();
        vm.label(address(compute), "compute");
        vm.label(address(marketplace), "marketplace");
        vm.label(address(splitter), "splitter");
    }

    /// @dev A dataset of alice's.
    function _publishInput(address currency, uint80 price) internal returns (uint256 id, AccessToken token) {
        (id, token) = _publish(_params(alice, currency, price));
        _terms[id] = IMarketplace.Purchase({assetId: id, currency: currency, maxPrice: price});
    }

    /// @dev An algorithm or model of carol's; with `shared`, its revenue splits 60/40 between carol and dave.
    function _publishInput(IAssetRegistry.AssetKind kind, address currency, uint80 price, bool shared)
        internal
        returns (uint256 id, AccessToken token)
    {
        IAssetRegistry.PublishParams memory p = _params(carol, currency, price);
        p.kind = kind;
        p.contentDigest = keccak256(abi.encode(kind, currency, price, shared));
        if (shared) {
            (address first, address second) = carol < dave ? (carol, dave) : (dave, carol);
            p.splitRecipients = new address[](2);
            (p.splitRecipients[0], p.splitRecipients[1]) = (first, second);
            p.splitBps = new uint16[](2);
            (p.splitBps[0], p.splitBps[1]) = first == carol ? (CAROL_BPS, DAVE_BPS) : (DAVE_BPS, CAROL_BPS);
        }
        (id, token) = _publish(p);
        _terms[id] = IMarketplace.Purchase({assetId: id, currency: currency, maxPrice: price});
    }

    /// @dev A job on `dataset` with `algorithm`, paying `provider_`'s price (the fixture's ETH provider's or
    /// mUSD provider's) in its currency.
    function _job(uint256 dataset, uint256 algorithm, address provider_)
        internal
        view
        returns (IComputeMarket.OpenJobParams memory)
    {
        return provider_ == usdProvider
            ? _job(dataset, algorithm, provider_, address(usd), JOB_USD_PRICE)
            : _job(dataset, algorithm, provider_, address(0), JOB_ETH_PRICE);
    }

    function _job(uint256 dataset, uint256 algorithm, address provider_, address currency, uint256 price)
        internal
        view
        returns (IComputeMarket.OpenJobParams memory)
    {
        return IComputeMarket.OpenJobParams({
            datasetId: dataset,
            algorithmId: algorithm,
            provider: provider_,
            specCid: SPEC_CID,
            currency: currency,
            maxPayment: price,
            deadline: uint64(block.timestamp) + JOB_TIME
        });
    }

    /// @dev A purchase of one token of `assetId` at the terms it was published with.
    function _purchase(uint256 assetId) internal view returns (IMarketplace.Purchase memory) {
        return _terms[assetId];
    }

    function _purchases(uint256 first) internal view returns (IMarketplace.Purchase[] memory list) {
        list = new IMarketplace.Purchase[](1);
        list[0] = _purchase(first);
    }

    function _purchases(uint256 first, uint256 second)
        internal
        view
        returns (IMarketplace.Purchase[] memory list)
    {
        list = new IMarketplace.Purchase[](2);
        (list[0], list[1]) = (_purchase(first), _purchase(second));
    }

    /// @dev Buys one token of `assetId` for `buyer` on the marketplace, at its current terms.
    function _buy(address buyer, uint256 assetId) internal {
        IMarketplace.Listing memory listing = marketplace.getListing(assetId);
        vm.prank(buyer);
        marketplace.buy{value: listing.currency == address(0) ? listing.price : 0}(
            assetId, 1, listing.currency, listing.price
        );
    }

    function _delist(uint256 assetId) internal {
        vm.prank(address(timelock));
        marketplace.delist(assetId, "bafkreireason");
    }

    function _fee(uint256 amount) internal pure returns (uint256) {
        return amount * FEE_BPS / 10_000;
    }
}
