// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRevenueSplitter} from "./interfaces/IRevenueSplitter.sol";
import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {SplitMath} from "./libraries/SplitMath.sol";

/// @title RevenueSplitter
/// @notice See {IRevenueSplitter}. Deployed by the marketplace, which is the only depositor.
/// @dev Accounting is lazy: a deposit writes one slot per asset and currency, and each recipient's
/// entitlement is computed from the total received since the split last changed ("epoch"). Changing
/// a split first moves every old recipient's unreleased entitlement into `owed`, then starts a new
/// epoch at the current totals.
contract RevenueSplitter is IRevenueSplitter, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @dev Per asset and currency: all revenue ever received, and the amount received when the
    /// current epoch began (the current split applies to `received - epochStart`).
    struct Revenue {
        uint128 received;
        uint128 epochStart;
    }

    /// @dev Per asset, currency and recipient: carried over from earlier epochs, and released in this one.
    struct Account {
        uint128 owed;
        uint128 releasedThisEpoch;
    }

    /// @notice Most recipients in one split (bounds the cost of releasing and settling).
    uint256 public constant MAX_RECIPIENTS = 64;
    /// @notice Most currencies one asset can earn in (bounds the cost of settling a split change).
    uint256 public constant MAX_CURRENCIES = 16;

    address private immutable _REGISTRY;
    address private immutable _MARKETPLACE;

    mapping(uint256 assetId => address[]) private _recipients;
    mapping(uint256 assetId => uint16[]) private _bps;
    mapping(uint256 assetId => address[]) private _currencies;
    mapping(uint256 assetId => mapping(address currency => Revenue)) private _revenue;
    mapping(uint256 assetId => mapping(address currency => uint256)) private _released;
    mapping(uint256 assetId => mapping(address currency => mapping(address recipient => Account))) private
        _accounts;
    mapping(address currency => uint256) private _fees;

    /// @param registry The asset registry.
    /// @param marketplace The marketplace (the deployer).
    constructor(address registry, address marketplace) {
        _REGISTRY = registry;
        _MARKETPLACE = marketplace;
    }

    /// @inheritdoc IRevenueSplitter
    function initSplit(uint256 assetId, address[] calldata recipients, uint16[] calldata bps) external {
        if (msg.sender != _REGISTRY) revert RevenueSplitter__NotRegistry(msg.sender);
        _storeSplit(assetId, recipients, bps);
    }

    /// @inheritdoc IRevenueSplitter
    function setSplit(uint256 assetId, address[] calldata recipients, uint16[] calldata bps)
        external
        nonReentrant
    {
        address owner = IERC721(_REGISTRY).ownerOf(assetId);
        if (msg.sender != owner) revert RevenueSplitter__NotAssetOwner(assetId, msg.sender, owner);
        _settle(assetId);
        _storeSplit(assetId, recipients, bps);
    }

    /// @inheritdoc IRevenueSplitter
    function settle(uint256 assetId) external nonReentrant {
        if (_recipients[assetId].length == 0) revert RevenueSplitter__NoSplit(assetId);
        _settle(assetId);
    }

    /// @inheritdoc IRevenueSplitter
    function deposit(uint256 assetId, address currency, uint256 net, uint256 fee) external payable {
        if (msg.sender != _MARKETPLACE) revert RevenueSplitter__NotMarketplace(msg.sender);
        if (currency == address(0) && msg.value != net + fee) {
            revert RevenueSplitter__WrongValue(msg.value, net + fee);
        }
        Revenue storage revenue = _revenue[assetId][currency];
        uint256 received = revenue.received;
        if (received == 0 && net != 0) _addCurrency(assetId, currency);
        revenue.received = (received + net).toUint128();
        if (fee != 0) _fees[currency] += fee;
    }

    /// @inheritdoc IRevenueSplitter
    function release(uint256 assetId, address currency, address recipient)
        external
        nonReentrant
        returns (uint256 amount)
    {
        Account storage account = _accounts[assetId][currency][recipient];
        (uint256 fromOwed, uint256 fromEpoch) = _pending(assetId, currency, recipient, account);
        amount = fromOwed + fromEpoch;
        if (amount == 0) revert RevenueSplitter__NothingToRelease(assetId, currency, recipient);
        // Both parts are bounded by uint128 totals: `fromOwed` by `owed`, `fromEpoch` by `received`.
        // forge-lint: disable-next-line(unsafe-typecast)
        account.owed -= uint128(fromOwed);
        // forge-lint: disable-next-line(unsafe-typecast)
        account.releasedThisEpoch += uint128(fromEpoch);
        _released[assetId][currency] += amount;
        emit Released(assetId, currency, recipient, amount);
        _pay(currency, recipient, amount);
    }

    /// @inheritdoc IRevenueSplitter
    function releaseFees(address currency) external nonReentrant returns (uint256 amount) {
        amount = _fees[currency];
        if (amount == 0) revert RevenueSplitter__NothingToRelease(0, currency, address(0));
        address recipient = IMarketplace(_MARKETPLACE).feeRecipient();
        _fees[currency] = 0;
        emit FeesReleased(currency, recipient, amount);
        _pay(currency, recipient, amount);
    }

    /// @inheritdoc IRevenueSplitter
    function releasable(uint256 assetId, address currency, address recipient)
        external
        view
        returns (uint256)
    {
        (uint256 fromOwed, uint256 fromEpoch) =
            _pending(assetId, currency, recipient, _accounts[assetId][currency][recipient]);
        return fromOwed + fromEpoch;
    }

    /// @inheritdoc IRevenueSplitter
    function getSplit(uint256 assetId) external view returns (Share[] memory shares) {
        address[] storage recipients = _recipients[assetId];
        uint16[] storage bps = _bps[assetId];
        shares = new Share[](recipients.length);
        for (uint256 i; i < shares.length; ++i) {
            shares[i] = Share({recipient: recipients[i], bps: bps[i]});
        }
    }

    /// @inheritdoc IRevenueSplitter
    function totalReceived(uint256 assetId, address currency) external view returns (uint256) {
        return _revenue[assetId][currency].received;
    }

    /// @inheritdoc IRevenueSplitter
    function totalReleased(uint256 assetId, address currency) external view returns (uint256) {
        return _released[assetId][currency];
    }

    /// @inheritdoc IRevenueSplitter
    function accruedFees(address currency) external view returns (uint256) {
        return _fees[currency];
    }

    /// @inheritdoc IRevenueSplitter
    function currenciesOf(uint256 assetId) external view returns (address[] memory) {
        return _currencies[assetId];
    }

    function _storeSplit(uint256 assetId, address[] memory recipients, uint16[] memory bps) private {
        uint256 n = recipients.length;
        if (n == 0 || n != bps.length || n > MAX_RECIPIENTS) {
            revert RevenueSplitter__InvalidSplitLength(n, bps.length);
        }
        uint256 sum;
        address previous;
        for (uint256 i; i < n; ++i) {
            if (recipients[i] <= previous) revert RevenueSplitter__RecipientsNotSorted(i);
            if (bps[i] == 0) revert RevenueSplitter__ZeroShare(i);
            previous = recipients[i];
            sum += bps[i];
        }
        if (sum != SplitMath.FULL_BPS) revert RevenueSplitter__SharesNotFull(sum);
        _recipients[assetId] = recipients;
        _bps[assetId] = bps;
        emit SplitUpdated(assetId, recipients, bps);
    }

    /// @dev Moves each current recipient's unreleased entitlement into `owed` and starts a new epoch.
    function _settle(uint256 assetId) private {
        address[] memory recipients = _recipients[assetId];
        uint16[] memory bps = _bps[assetId];
        address[] memory currencies = _currencies[assetId];
        for (uint256 c; c < currencies.length; ++c) {
            address currency = currencies[c];
            Revenue storage revenue = _revenue[assetId][currency];
            uint256 epochTotal = revenue.received - revenue.epochStart;
            for (uint256 r; r < recipients.length; ++r) {
                Account storage account = _accounts[assetId][currency][recipients[r]];
                uint256 unreleased = SplitMath.entitlement(epochTotal, bps, r) - account.releasedThisEpoch;
                account.owed = (account.owed + unreleased).toUint128();
                account.releasedThisEpoch = 0;
            }
            revenue.epochStart = revenue.received;
        }
        emit RevenueSettled(assetId);
    }

    function _pending(uint256 assetId, address currency, address recipient, Account storage account)
        private
        view
        returns (uint256 fromOwed, uint256 fromEpoch)
    {
        fromOwed = account.owed;
        address[] storage recipients = _recipients[assetId];
        for (uint256 i; i < recipients.length; ++i) {
            if (recipients[i] != recipient) continue;
            Revenue memory revenue = _revenue[assetId][currency];
            // Floor shares only: the rounding dust goes to the first recipient when the epoch is
            // settled, because before then a later deposit can shrink it.
            uint256 entitled = SplitMath.share(revenue.received - revenue.epochStart, _bps[assetId][i]);
            fromEpoch = entitled - account.releasedThisEpoch;
            break;
        }
    }

    function _addCurrency(uint256 assetId, address currency) private {
        address[] storage currencies = _currencies[assetId];
        if (currencies.length == MAX_CURRENCIES) revert RevenueSplitter__TooManyCurrencies(assetId);
        currencies.push(currency);
    }

    function _pay(address currency, address to, uint256 amount) private {
        if (currency == address(0)) Address.sendValue(payable(to), amount);
        else IERC20(currency).safeTransfer(to, amount);
    }
}
