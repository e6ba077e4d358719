// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Vm} from "forge-std/Vm.sol";
import {Marketplace} from "../../../src/Marketplace.sol";
import {ComputeMarket} from "../../../src/ComputeMarket.sol";
import {AccessToken} from "../../../src/AccessToken.sol";
import {AssetRegistry} from "../../../src/AssetRegistry.sol";
import {IMarketplace} from "../../../src/interfaces/IMarketplace.sol";
import {IComputeMarket} from "../../../src/interfaces/IComputeMarket.sol";
import {IAccessToken} from "../../../src/interfaces/IAccessToken.sol";
import {MockStablecoin} from "../../mocks/MockStablecoin.sol";

/// @notice Mints, grants, moves and spends access tokens of a few assets through every path (buy,
/// grant, transfer, consume, buyAndConsume, compute jobs via consumeFor, with held tokens or bought in the
/// same call by buyAndOpenJob), counting in ghosts what was minted and consumed per token and checking each
/// order id as it is issued. Jobs run a free algorithm or a priced model (the last asset): each job must
/// spend one token of every priced input.
contract AccessTokenHandler is CommonBase, StdCheats, StdUtils {
    Marketplace public immutable marketplace;
    ComputeMarket public immutable compute;
    AssetRegistry public immutable registry;
    MockStablecoin public immutable usd;
    /// @dev A registered compute provider that runs jobs for free (ETH, price 0).
    address public immutable provider;
    uint256 public immutable algorithmId;

    /// @dev Datasets, then the priced model (the last one).
    uint256[] internal _assets;
    AccessToken[] internal _tokens;
    address[] internal _actors;

    mapping(AccessToken token => uint256) public ghost_minted;
    mapping(AccessToken token => uint256) public ghost_consumed;
    mapping(AccessToken token => uint256) public ghost_lastOrderId;
    mapping(AccessToken token => mapping(uint256 orderId => bool)) public ghost_orderSeen;
    /// @dev Orders whose id was not the previous id + 1, or repeated one: must stay 0.
    uint256 public ghost_badOrderIds;
    /// @dev Jobs opened whose orders were not exactly one per priced input: must stay 0.
    uint256 public ghost_jobsWithWrongOrders;
    uint256 public ghost_jobs;
    mapping(bytes32 action => uint256) public calls;
    uint256 public ghost_skipped;

    modifier countCall(bytes32 action) {
        ++calls[action];
        _;
    }

    constructor(
        Marketplace marketplace_,
        ComputeMarket compute_,
        MockStablecoin usd_,
        address provider_,
        uint256 algorithmId_,
        uint256[] memory assets_,
        address[] memory actors_
    ) {
        marketplace = marketplace_;
        compute = compute_;
        registry = AssetRegistry(marketplace_.registry());
        usd = usd_;
        provider = provider_;
        algorithmId = algorithmId_;
        _assets = assets_;
        for (uint256 i; i < assets_.length; ++i) {
            _tokens.push(AccessToken(registry.accessTokenOf(assets_[i])));
        }
        _actors = actors_;
    }

    function buy(uint256 assetSeed, uint256 actorSeed, uint256 amount) external countCall("buy") {
        uint256 index = assetSeed % _assets.length;
        address buyer = _actors[actorSeed % _actors.length];
        amount = _bound(amount, 1, 5);
        (uint256 value, IMarketplace.Listing memory listing) = _fund(_assets[index], buyer, amount);
        vm.prank(buyer);
        marketplace.buy{value: value}(_assets[index], amount, listing.currency, listing.price);
        ghost_minted[_tokens[index]] += amount;
    }

    function grant(uint256 assetSeed, uint256 actorSeed, uint256 amount) external countCall("grant") {
        uint256 index = assetSeed % _assets.length;
        amount = _bound(amount, 1, 5);
        vm.prank(registry.ownerOf(_assets[index]));
        _tokens[index].grant(_actors[actorSeed % _actors.length], amount);
        ghost_minted[_tokens[index]] += amount;
    }

    function transfer(uint256 assetSeed, uint256 fromSeed, uint256 toSeed, uint256 amount)
        external
        countCall("transfer")
    {
        uint256 index = assetSeed % _assets.length;
        (address from, bool found) = _holder(_tokens[index], fromSeed);
        if (!found) return _skip();
        address to = _actors[toSeed % _actors.length];
        amount = _bound(amount, 0, _tokens[index].balanceOf(from));
        vm.prank(from);
        assert(_tokens[index].transfer(to, amount));
    }

    function consume(uint256 assetSeed, uint256 actorSeed) external countCall("consume") {
        uint256 index = assetSeed % _assets.length;
        AccessToken token = _tokens[index];
        (address holder, bool found) = _holder(token, actorSeed);
        if (!found) return _skip();
        vm.prank(holder);
        uint256 orderId = token.consume(provider);
        _recordOrder(token, orderId);
    }

    function buyAndConsume(uint256 assetSeed, uint256 actorSeed) external countCall("buyAndConsume") {
        uint256 index = assetSeed % _assets.length;
        address buyer = _actors[actorSeed % _actors.length];
        (uint256 value, IMarketplace.Listing memory listing) = _fund(_assets[index], buyer, 1);
        vm.prank(buyer);
        uint256 orderId = marketplace.buyAndConsume{value: value}(
            _assets[index], provider, listing.currency, listing.price
        );
        // A token minted and spent in one call: it counts as minted and as consumed.
        ghost_minted[_tokens[index]] += 1;
        _recordOrder(_tokens[index], orderId);
    }

    /// @dev A holder of a dataset's token opens a job with it, on the free algorithm or (when it also holds
    /// one of its tokens) the priced model.
    function openJob(uint256 assetSeed, uint256 actorSeed) external countCall("openJob") {
        uint256 index = assetSeed % (_assets.length - 1);
        (address holder, bool found) = _holder(_tokens[index], actorSeed);
        if (!found) return _skip();
        bool withModel = (actorSeed >> 8) & 1 == 1 && _tokens[_assets.length - 1].balanceOf(holder) != 0;
        IComputeMarket.OpenJobParams memory p = _job(index, withModel);
        vm.recordLogs();
        vm.prank(holder);
        compute.openJob(p);
        _recordJobOrders(index, withModel);
    }

    /// @dev An actor buys a dataset's token, and the model's (bit 8 of `actorSeed`), and opens a job with
    /// them in one call: bought, then spent.
    function buyAndOpenJob(uint256 assetSeed, uint256 actorSeed) external countCall("buyAndOpenJob") {
        uint256 index = assetSeed % (_assets.length - 1);
        uint256 model = _assets.length - 1;
        address buyer = _actors[actorSeed % _actors.length];
        bool withModel = (actorSeed >> 8) & 1 == 1;
        IMarketplace.Purchase[] memory purchases = new IMarketplace.Purchase[](withModel ? 2 : 1);
        (uint256 value, IMarketplace.Listing memory listing) = _fund(_assets[index], buyer, 1);
        purchases[0] = IMarketplace.Purchase(_assets[index], listing.currency, listing.price);
        if (withModel) {
            (uint256 modelValue, IMarketplace.Listing memory modelListing) = _fund(_assets[model], buyer, 1);
            // Both in ETH: fund the sum (`_fund` sets the balance to each cost).
            if (modelValue != 0 && value != 0) vm.deal(buyer, value + modelValue);
            value += modelValue;
            purchases[1] = IMarketplace.Purchase(_assets[model], modelListing.currency, modelListing.price);
            ghost_minted[_tokens[model]] += 1;
        }
        ghost_minted[_tokens[index]] += 1;
        IComputeMarket.OpenJobParams memory p = _job(index, withModel);
        vm.recordLogs();
        vm.prank(buyer);
        marketplace.buyAndOpenJob{value: value}(purchases, p);
        _recordJobOrders(index, withModel);
    }

    function assets() external view returns (uint256[] memory) {
        return _assets;
    }

    function tokens() external view returns (AccessToken[] memory) {
        return _tokens;
    }

    function actors() external view returns (address[] memory) {
        return _actors;
    }

    function _job(uint256 index, bool withModel) internal view returns (IComputeMarket.OpenJobParams memory) {
        return IComputeMarket.OpenJobParams({
            datasetId: _assets[index],
            algorithmId: withModel ? _assets[_assets.length - 1] : algorithmId,
            provider: provider,
            specCid: "bafkreispec",
            currency: address(0),
            maxPayment: 0,
            deadline: uint64(block.timestamp + 1 days)
        });
    }

    /// @dev Records the orders the job just opened spent: one in the dataset's token, one in the model's
    /// when it ran the (priced) model, none in any other.
    function _recordJobOrders(uint256 index, bool withModel) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        AccessToken model = _tokens[_assets.length - 1];
        uint256 datasetOrders;
        uint256 modelOrders;
        uint256 otherOrders;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != IAccessToken.AccessConsumed.selector) continue;
            AccessToken token = AccessToken(logs[i].emitter);
            if (token == _tokens[index]) ++datasetOrders;
            else if (token == model) ++modelOrders;
            else ++otherOrders;
            _recordOrder(token, uint256(logs[i].topics[1]));
        }
        ++ghost_jobs;
        if (datasetOrders != 1 || modelOrders != (withModel ? 1 : 0) || otherOrders != 0) {
            ++ghost_jobsWithWrongOrders;
        }
    }

    function _recordOrder(AccessToken token, uint256 orderId) internal {
        if (orderId != ghost_lastOrderId[token] + 1 || ghost_orderSeen[token][orderId]) ++ghost_badOrderIds;
        ghost_orderSeen[token][orderId] = true;
        ghost_lastOrderId[token] = orderId;
        ghost_consumed[token] += 1;
    }

    /// @dev The first actor from `seed` on that holds a token.
    function _holder(AccessToken token, uint256 seed) internal view returns (address, bool) {
        uint256 n = _actors.length;
        for (uint256 i; i < n; ++i) {
            address actor = _actors[(seed % n + i) % n];
            if (token.balanceOf(actor) != 0) return (actor, true);
        }
        return (address(0), false);
    }

    function _fund(uint256 assetId, address buyer, uint256 amount)
        internal
        returns (uint256 value, IMarketplace.Listing memory listing)
    {
        listing = marketplace.getListing(assetId);
        (uint256 cost,) = marketplace.quote(assetId, buyer, amount);
        if (listing.currency == address(0)) {
            vm.deal(buyer, cost);
            return (cost, listing);
        }
        usd.mint(buyer, cost);
        vm.prank(buyer);
        usd.approve(address(marketplace), cost);
    }

    function _skip() internal {
        ++ghost_skipped;
    }
}
