// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Marketplace} from "../../../src/Marketplace.sol";
import {RevenueSplitter} from "../../../src/RevenueSplitter.sol";
import {AssetRegistry} from "../../../src/AssetRegistry.sol";
import {ComputeMarket} from "../../../src/ComputeMarket.sol";
import {IMarketplace} from "../../../src/interfaces/IMarketplace.sol";
import {IComputeMarket} from "../../../src/interfaces/IComputeMarket.sol";
import {IRevenueSplitter} from "../../../src/interfaces/IRevenueSplitter.sol";
import {MockStablecoin} from "../../mocks/MockStablecoin.sol";

/// @notice Drives the marketplace and its revenue splitter with bounded inputs, summing in ghost
/// variables every unit paid in and paid out per currency. `buyAndOpenJob` buys a dataset's token (and the
/// model's, when it is priced) and opens a compute job with them, paying the job into the compute market.
/// @dev Prices are whole multiples of `PRICE_UNIT` (1e8 smallest units), so every payment, fee and
/// split entitlement divides exactly. Dust-level amounts trip a known RevenueSplitter bug (the first
/// recipient's entitlement is not monotonic in the total received; see RevenueSplitterDustTest).
contract MarketplaceHandler is CommonBase, StdCheats, StdUtils {
    uint256 internal constant PRICE_UNIT = 1e8;
    uint256 internal constant MAX_PRICE_UNITS = 1000;

    Marketplace public immutable marketplace;
    RevenueSplitter public immutable splitter;
    AssetRegistry public immutable registry;
    MockStablecoin public immutable usd;
    address public immutable timelock;

    uint256[] internal _assets;
    /// @dev The last asset of `_assets` is a model, the others datasets.
    uint256 internal immutable _modelId;
    ComputeMarket internal immutable _compute;
    /// @dev Registered compute providers (one paid in ETH, one in mUSD).
    address[] internal _jobProviders;
    address[] internal _buyers;
    /// @dev Every address that can ever be in a split (asset owners included), ascending.
    address[] internal _recipients;
    address[2] internal _currencies;

    mapping(address currency => uint256) public ghost_paidIn;
    mapping(address currency => uint256) public ghost_released;
    mapping(address currency => uint256) public ghost_feesReleased;
    /// @dev Job payments `buyAndOpenJob` escrowed in the compute market.
    mapping(address currency => uint256) public ghost_jobsPaid;
    mapping(bytes32 action => uint256) public calls;
    uint256 public ghost_skipped;
    /// @dev Times an asset's releasable amounts (over every possible recipient, per currency) did not add
    /// up to what it still holds, or could not be read. Checked in the handler right after each action,
    /// for the one asset the action touched: the same property as checking every asset after every call
    /// (untouched assets do not change), at a fraction of the cost, whatever the check interval.
    uint256 public ghost_releasableMismatches;

    modifier countCall(bytes32 action) {
        ++calls[action];
        _;
    }

    constructor(
        Marketplace marketplace_,
        MockStablecoin usd_,
        address timelock_,
        uint256[] memory assets_,
        address[] memory buyers_,
        address[] memory sortedRecipients,
        address[] memory jobProviders_
    ) {
        marketplace = marketplace_;
        _compute = ComputeMarket(AssetRegistry(marketplace_.registry()).computeMarket());
        _modelId = assets_[assets_.length - 1];
        _jobProviders = jobProviders_;
        splitter = RevenueSplitter(marketplace_.splitter());
        registry = AssetRegistry(marketplace_.registry());
        usd = usd_;
        timelock = timelock_;
        _assets = assets_;
        _buyers = buyers_;
        _recipients = sortedRecipients;
        _currencies = [address(0), address(usd_)];
    }

    function buy(uint256 assetSeed, uint256 buyerSeed, uint256 amount) external countCall("buy") {
        uint256 assetId = _asset(assetSeed);
        address buyer = _buyers[buyerSeed % _buyers.length];
        amount = _bound(amount, 1, 5);
        IMarketplace.Listing memory listing = marketplace.getListing(assetId);
        (uint256 cost,) = marketplace.quote(assetId, buyer, amount);
        uint256 value = _fund(buyer, listing.currency, cost);
        vm.prank(buyer);
        marketplace.buy{value: value}(assetId, amount, listing.currency, listing.price);
        ghost_paidIn[listing.currency] += cost;
        _checkReleasable(assetId, false);
    }

    function buyAndConsume(uint256 assetSeed, uint256 buyerSeed) external countCall("buyAndConsume") {
        uint256 assetId = _asset(assetSeed);
        address buyer = _buyers[buyerSeed % _buyers.length];
        IMarketplace.Listing memory listing = marketplace.getListing(assetId);
        (uint256 cost,) = marketplace.quote(assetId, buyer, 1);
        uint256 value = _fund(buyer, listing.currency, cost);
        vm.prank(buyer);
        marketplace.buyAndConsume{value: value}(assetId, address(this), listing.currency, listing.price);
        ghost_paidIn[listing.currency] += cost;
        _checkReleasable(assetId, false);
    }

    /// @dev Buys a dataset's token, and the model's when it is priced (both in the listings' currencies,
    /// after the buyer's free tier), and opens a job with them through one provider or the other.
    function buyAndOpenJob(uint256 datasetSeed, uint256 buyerSeed, uint256 providerSeed)
        external
        countCall("buyAndOpenJob")
    {
        uint256 dataset = _assets[datasetSeed % (_assets.length - 1)];
        address buyer = _buyers[buyerSeed % _buyers.length];
        address provider = _jobProviders[providerSeed % _jobProviders.length];
        bool modelPriced = marketplace.getListing(_modelId).price != 0;
        IMarketplace.Purchase[] memory purchases = new IMarketplace.Purchase[](modelPriced ? 2 : 1);
        uint256[2] memory cost; // per currency: ETH, mUSD
        purchases[0] = _purchase(dataset, buyer, cost);
        if (modelPriced) purchases[1] = _purchase(_modelId, buyer, cost);
        IComputeMarket.Provider memory terms = _compute.getProvider(provider);
        uint256 jobEth = terms.currency == address(0) ? terms.price : 0;
        vm.deal(buyer, cost[0] + jobEth);
        usd.mint(buyer, cost[1] + (jobEth == 0 ? terms.price : 0));
        vm.startPrank(buyer);
        usd.approve(address(marketplace), cost[1]);
        usd.approve(address(_compute), jobEth == 0 ? terms.price : 0);
        marketplace.buyAndOpenJob{value: cost[0] + jobEth}(
            purchases,
            IComputeMarket.OpenJobParams({
                datasetId: dataset,
                algorithmId: _modelId,
                provider: provider,
                specCid: "bafkreispec",
                currency: terms.currency,
                maxPayment: terms.price,
                deadline: uint64(block.timestamp + 1 days)
            })
        );
        vm.stopPrank();
        ghost_paidIn[address(0)] += cost[0];
        ghost_paidIn[address(usd)] += cost[1];
        ghost_jobsPaid[terms.currency] += terms.price;
        _checkReleasable(dataset, false);
        _checkReleasable(_modelId, false);
    }

    function setListing(uint256 assetSeed, uint256 currencySeed, uint256 priceUnits, uint256 free)
        external
        countCall("setListing")
    {
        uint256 assetId = _asset(assetSeed);
        address currency = _currencies[currencySeed % 2];
        uint256 price =
            _bound(priceUnits, 0, MAX_PRICE_UNITS) * PRICE_UNIT * (currency == address(0) ? 1e6 : 1);
        vm.prank(registry.ownerOf(assetId));
        // forge-lint: disable-next-line(unsafe-typecast)
        marketplace.setListing(assetId, currency, uint80(price), uint8(_bound(free, 0, 2)));
    }

    function setSplit(uint256 assetSeed, uint256 mask, uint256 bpsSeed) external countCall("setSplit") {
        uint256 assetId = _asset(assetSeed);
        uint256 n = _recipients.length;
        mask = _bound(mask, 1, 2 ** n - 1);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            if ((mask >> i) & 1 == 1) ++count;
        }
        address[] memory split = new address[](count);
        uint16[] memory bps = new uint16[](count);
        uint256 left = 10_000;
        uint256 k;
        for (uint256 i; i < n; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            split[k] = _recipients[i];
            uint256 share = k == count - 1
                ? left
                : _bound(uint256(keccak256(abi.encode(bpsSeed, k))), 1, left - (count - 1 - k));
            // forge-lint: disable-next-line(unsafe-typecast)
            bps[k] = uint16(share);
            left -= share;
            ++k;
        }
        vm.prank(registry.ownerOf(assetId));
        splitter.setSplit(assetId, split, bps);
        _checkReleasable(assetId, false); // the new split's epoch starts empty; the old one was settled
    }

    function settle(uint256 assetSeed) external countCall("settle") {
        uint256 assetId = _asset(assetSeed);
        splitter.settle(assetId);
        _checkReleasable(assetId, true);
    }

    function release(uint256 assetSeed, uint256 currencySeed, uint256 recipientSeed)
        external
        countCall("release")
    {
        uint256 assetId = _asset(assetSeed);
        address currency = _currencies[currencySeed % 2];
        address recipient;
        IRevenueSplitter.Share[] memory shares = splitter.getSplit(assetId);
        // Mostly a current recipient; sometimes anyone, to reach what old recipients are still owed.
        if (recipientSeed % 4 != 0) recipient = shares[(recipientSeed >> 2) % shares.length].recipient;
        else recipient = _recipients[(recipientSeed >> 2) % _recipients.length];
        if (splitter.releasable(assetId, currency, recipient) == 0) {
            ++ghost_skipped;
            return;
        }
        ghost_released[currency] += splitter.release(assetId, currency, recipient);
        _checkReleasable(assetId, false);
    }

    function releaseFees(uint256 currencySeed) external countCall("releaseFees") {
        address currency = _currencies[currencySeed % 2];
        if (splitter.accruedFees(currency) == 0) {
            ++ghost_skipped;
            return;
        }
        ghost_feesReleased[currency] += splitter.releaseFees(currency);
    }

    function setProtocolFee(uint256 feeBps) external countCall("setProtocolFee") {
        feeBps = _bound(feeBps, 0, marketplace.MAX_FEE_BPS());
        vm.prank(timelock);
        // forge-lint: disable-next-line(unsafe-typecast)
        marketplace.setProtocolFee(uint16(feeBps));
    }

    function assets() external view returns (uint256[] memory) {
        return _assets;
    }

    function recipients() external view returns (address[] memory) {
        return _recipients;
    }

    function currencies() external view returns (address[2] memory) {
        return _currencies;
    }

    /// @dev One token of `assetId` for `buyer` at its listing's terms; adds what it costs now to `cost`.
    function _purchase(uint256 assetId, address buyer, uint256[2] memory cost)
        internal
        view
        returns (IMarketplace.Purchase memory)
    {
        IMarketplace.Listing memory listing = marketplace.getListing(assetId);
        (uint256 price,) = marketplace.quote(assetId, buyer, 1);
        cost[listing.currency == address(0) ? 0 : 1] += price;
        return IMarketplace.Purchase({assetId: assetId, currency: listing.currency, maxPrice: listing.price});
    }

    /// @dev Σ releasable over every possible recipient == totalReceived − totalReleased − dust, per
    /// currency, where the unsettled rounding dust is under one wei per current recipient; right after a
    /// settlement (`settled`) there is no dust at all.
    function _checkReleasable(uint256 assetId, bool settled) internal {
        uint256 maxDust = settled ? 0 : splitter.getSplit(assetId).length - 1;
        for (uint256 c; c < _currencies.length; ++c) {
            address currency = _currencies[c];
            uint256 releasable;
            for (uint256 r; r < _recipients.length; ++r) {
                try splitter.releasable(assetId, currency, _recipients[r]) returns (uint256 amount) {
                    releasable += amount;
                } catch {
                    ++ghost_releasableMismatches;
                    return;
                }
            }
            uint256 received = splitter.totalReceived(assetId, currency);
            uint256 released = splitter.totalReleased(assetId, currency);
            if (released > received || releasable > received - released) ++ghost_releasableMismatches;
            else if (received - released - releasable > maxDust) ++ghost_releasableMismatches;
        }
    }

    function _asset(uint256 seed) internal view returns (uint256) {
        return _assets[seed % _assets.length];
    }

    /// @dev Gives `buyer` exactly `cost` to pay with; returns the ETH to send.
    function _fund(address buyer, address currency, uint256 cost) internal returns (uint256 value) {
        if (currency == address(0)) {
            vm.deal(buyer, cost);
            return cost;
        }
        usd.mint(buyer, cost);
        vm.prank(buyer);
        usd.approve(address(marketplace), cost);
    }
}
