// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {IAssetRegistry} from "./interfaces/IAssetRegistry.sol";
import {IAccessToken} from "./interfaces/IAccessToken.sol";
import {IComputeMarket} from "./interfaces/IComputeMarket.sol";
import {IRevenueSplitter} from "./interfaces/IRevenueSplitter.sol";
import {RevenueSplitter} from "./RevenueSplitter.sol";
import {SplitMath} from "./libraries/SplitMath.sol";
import {ExactTransfer} from "./libraries/ExactTransfer.sol";

/// @title Marketplace
/// @notice See {IMarketplace}. Owned by the DAO's timelock. Deploys its own {RevenueSplitter}, which
/// holds all sale revenue and accrued fees.
/// @dev ERC-20 payments move once, straight from the buyer to the splitter; the splitter's balance
/// is checked before and after so a fee-on-transfer token cannot make it record more than it holds.
contract Marketplace is IMarketplace, Ownable, ReentrancyGuardTransient {
    /// @notice The protocol fee can never exceed 10%.
    uint16 public constant MAX_FEE_BPS = 1000;
    /// @notice Longest reason CID accepted for curation.
    uint256 public constant MAX_REASON_LENGTH = 128;

    IAssetRegistry private immutable _REGISTRY;
    RevenueSplitter private immutable _SPLITTER;

    /// @dev Packed: the fee recipient and fee are read together on every purchase.
    address private _feeRecipient;
    uint16 private _feeBps;

    /// @dev A listing as stored: the sale terms in one slot, the access token in the next, so a
    /// purchase needs no call to the registry.
    struct StoredListing {
        address currency;
        uint80 price;
        uint8 freePerAddress;
        ListingStatus status;
        address accessToken;
    }

    enum ListingStatus {
        None,
        Listed,
        Delisted
    }

    mapping(uint256 assetId => StoredListing) private _listings;
    mapping(uint256 assetId => mapping(address account => uint256)) private _freeClaimed;
    /// @dev The protocol's ERC-20 allow-list, also read by the compute market (see {IMarketplace}).
    mapping(address currency => bool) private _allowedCurrencies;

    /// @param registry_ The asset registry.
    /// @param owner The DAO's timelock.
    /// @param feeRecipient_ The DAO treasury.
    /// @param feeBps Initial protocol fee.
    /// @param allowedCurrencies ERC-20s allowed from the start (e.g. a chain's stablecoin), since the
    /// deployer cannot call `allowCurrency` once the timelock owns this contract.
    constructor(
        address registry_,
        address owner,
        address feeRecipient_,
        uint16 feeBps,
        address[] memory allowedCurrencies
    ) Ownable(owner) {
        if (registry_ == address(0) || feeRecipient_ == address(0)) {
            revert Marketplace__ZeroAddress();
        }
        if (feeBps > MAX_FEE_BPS) revert Marketplace__FeeTooHigh(feeBps, MAX_FEE_BPS);
        _REGISTRY = IAssetRegistry(registry_);
        _SPLITTER = new RevenueSplitter(registry_, address(this));
        _feeRecipient = feeRecipient_;
        _feeBps = feeBps;
        for (uint256 i; i < allowedCurrencies.length; ++i) {
            _allowCurrency(allowedCurrencies[i]);
        }
    }

    /// @inheritdoc IMarketplace
    function initListing(
        uint256 assetId,
        address accessToken,
        address currency,
        uint80 price,
        uint8 freePerAddress
    ) external {
        if (msg.sender != address(_REGISTRY)) revert Marketplace__NotRegistry(msg.sender);
        StoredListing storage listing = _listings[assetId];
        listing.status = ListingStatus.Listed;
        listing.accessToken = accessToken;
        _setListing(listing, assetId, currency, price, freePerAddress);
    }

    /// @inheritdoc IMarketplace
    function setListing(uint256 assetId, address currency, uint80 price, uint8 freePerAddress) external {
        address owner = IERC721(address(_REGISTRY)).ownerOf(assetId);
        if (msg.sender != owner) revert Marketplace__NotAssetOwner(assetId, msg.sender, owner);
        _setListing(_listings[assetId], assetId, currency, price, freePerAddress);
    }

    /// @inheritdoc IMarketplace
    function buy(uint256 assetId, uint256 amount, address currency, uint256 maxPrice)
        external
        payable
        nonReentrant
        returns (uint256 paid)
    {
        address accessToken;
        uint256 ethLeft;
        (accessToken, paid, ethLeft) = _collect(assetId, amount, currency, maxPrice, msg.value);
        _refuseLeftover(ethLeft);
        IAccessToken(accessToken).mint(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function buyWithPermit(
        uint256 assetId,
        uint256 amount,
        address currency,
        uint256 maxPrice,
        Permit calldata permit
    ) external nonReentrant returns (uint256 paid) {
        _permit(currency, permit);
        address accessToken;
        (accessToken, paid,) = _collect(assetId, amount, currency, maxPrice, 0);
        IAccessToken(accessToken).mint(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function buyAndConsume(uint256 assetId, address provider, address currency, uint256 maxPrice)
        external
        payable
        nonReentrant
        returns (uint256 orderId)
    {
        (address accessToken,, uint256 ethLeft) = _collect(assetId, 1, currency, maxPrice, msg.value);
        _refuseLeftover(ethLeft);
        return IAccessToken(accessToken).mintAndConsume(msg.sender, provider);
    }

    /// @inheritdoc IMarketplace
    function buyAndConsumeWithPermit(
        uint256 assetId,
        address provider,
        address currency,
        uint256 maxPrice,
        Permit calldata permit
    ) external nonReentrant returns (uint256 orderId) {
        _permit(currency, permit);
        (address accessToken,,) = _collect(assetId, 1, currency, maxPrice, 0);
        return IAccessToken(accessToken).mintAndConsume(msg.sender, provider);
    }

    /// @inheritdoc IMarketplace
    /// @dev The compute market pulls an ERC-20 job payment from the caller, whom this contract names as the
    /// consumer: `openJobFor` trusts this contract for that. This contract's reentrancy guard is held
    /// during the call and the compute market's is its own, so neither market can be re-entered from the
    /// job's path (e.g. by a hostile currency's transfer hook).
    function buyAndOpenJob(Purchase[] calldata purchases, IComputeMarket.OpenJobParams calldata job)
        external
        payable
        nonReentrant
        returns (uint256 jobId)
    {
        uint256 ethLeft = msg.value;
        bool datasetBought;
        bool algorithmBought;
        for (uint256 i; i < purchases.length; ++i) {
            Purchase calldata purchase = purchases[i];
            uint256 assetId = purchase.assetId;
            if (assetId == job.datasetId && !datasetBought) datasetBought = true;
            else if (assetId == job.algorithmId && !algorithmBought) algorithmBought = true;
            else revert Marketplace__NotJobInput(assetId);
            address accessToken;
            (accessToken,, ethLeft) = _collect(assetId, 1, purchase.currency, purchase.maxPrice, ethLeft);
            IAccessToken(accessToken).mint(msg.sender, 1);
        }
        return IComputeMarket(_REGISTRY.computeMarket()).openJobFor{value: ethLeft}(msg.sender, job);
    }

    /// @inheritdoc IMarketplace
    function delist(uint256 assetId, string calldata reasonCid) external onlyOwner {
        StoredListing storage listing = _existingListing(assetId);
        if (listing.status == ListingStatus.Delisted) revert Marketplace__Delisted(assetId);
        _checkReason(reasonCid);
        listing.status = ListingStatus.Delisted;
        emit AssetDelisted(assetId, reasonCid);
    }

    /// @inheritdoc IMarketplace
    function relist(uint256 assetId, string calldata reasonCid) external onlyOwner {
        StoredListing storage listing = _existingListing(assetId);
        if (listing.status != ListingStatus.Delisted) revert Marketplace__NotDelisted(assetId);
        _checkReason(reasonCid);
        listing.status = ListingStatus.Listed;
        emit AssetRelisted(assetId, reasonCid);
    }

    /// @inheritdoc IMarketplace
    function setProtocolFee(uint16 feeBps) external onlyOwner {
        if (feeBps > MAX_FEE_BPS) revert Marketplace__FeeTooHigh(feeBps, MAX_FEE_BPS);
        emit ProtocolFeeUpdated(_feeBps, feeBps);
        _feeBps = feeBps;
    }

    /// @inheritdoc IMarketplace
    function setFeeRecipient(address recipient) external onlyOwner {
        if (recipient == address(0)) revert Marketplace__ZeroAddress();
        emit FeeRecipientUpdated(_feeRecipient, recipient);
        _feeRecipient = recipient;
    }

    /// @inheritdoc IMarketplace
    function allowCurrency(address currency) external onlyOwner {
        _allowCurrency(currency);
    }

    /// @inheritdoc IMarketplace
    function disallowCurrency(address currency) external onlyOwner {
        if (currency == address(0)) revert Marketplace__ZeroAddress();
        _allowedCurrencies[currency] = false;
        emit CurrencyDisallowed(currency);
    }

    /// @inheritdoc IMarketplace
    function getListing(uint256 assetId) external view returns (Listing memory) {
        StoredListing storage listing = _listings[assetId];
        return Listing({
            currency: listing.currency,
            price: listing.price,
            freePerAddress: listing.freePerAddress,
            delisted: listing.status == ListingStatus.Delisted
        });
    }

    /// @inheritdoc IMarketplace
    function freeClaimed(uint256 assetId, address account) external view returns (uint256) {
        return _freeClaimed[assetId][account];
    }

    /// @inheritdoc IMarketplace
    function quote(uint256 assetId, address buyer, uint256 amount)
        external
        view
        returns (uint256 cost, uint256 freeAmount)
    {
        StoredListing storage listing = _listings[assetId];
        freeAmount = _freeAmount(listing.freePerAddress, _freeClaimed[assetId][buyer], amount);
        cost = (amount - freeAmount) * listing.price;
    }

    /// @inheritdoc IMarketplace
    function protocolFeeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IMarketplace
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IMarketplace
    function registry() external view returns (address) {
        return address(_REGISTRY);
    }

    /// @inheritdoc IMarketplace
    function splitter() external view returns (address) {
        return address(_SPLITTER);
    }

    /// @inheritdoc IMarketplace
    function isCurrencyAllowed(address currency) public view returns (bool) {
        return currency == address(0) || _allowedCurrencies[currency];
    }

    /// @dev Checks the buyer's guards, takes the payment into the splitter and records it. An ETH payment
    /// comes out of `ethLeft`, the ETH sent with the call and not spent yet; returns what is left of it.
    function _collect(uint256 assetId, uint256 amount, address currency, uint256 maxPrice, uint256 ethLeft)
        private
        returns (address accessToken, uint256 paid, uint256 ethLeftAfter)
    {
        if (amount == 0) revert Marketplace__ZeroAmount();
        uint256 freeAmount;
        {
            StoredListing storage stored = _listings[assetId];
            // One slot: currency, price, free tier and status.
            (address listedCurrency, uint256 price, uint256 freePerAddress, ListingStatus status) =
                (stored.currency, stored.price, stored.freePerAddress, stored.status);
            if (status != ListingStatus.Listed) {
                if (status == ListingStatus.None) revert Marketplace__UnknownAsset(assetId);
                revert Marketplace__Delisted(assetId);
            }
            accessToken = stored.accessToken;
            if (listedCurrency != currency) {
                revert Marketplace__WrongCurrency(assetId, currency, listedCurrency);
            }
            if (price > maxPrice) revert Marketplace__PriceAboveMax(assetId, price, maxPrice);
            if (freePerAddress != 0) freeAmount = _claimFree(assetId, freePerAddress, amount);
            paid = (amount - freeAmount) * price;
        }
        uint256 fee = SplitMath.fee(paid, _feeBps);
        ethLeftAfter = _takePayment(assetId, currency, paid, fee, ethLeft);
        emit Purchased(assetId, msg.sender, currency, amount, freeAmount, paid, fee);
    }

    /// @dev Moves `paid` from the buyer into the splitter and records the asset's and the protocol's parts;
    /// ETH out of `ethLeft`, of which it returns the rest.
    function _takePayment(uint256 assetId, address currency, uint256 paid, uint256 fee, uint256 ethLeft)
        private
        returns (uint256)
    {
        if (currency == address(0)) {
            if (ethLeft < paid) revert Marketplace__WrongValue(ethLeft, paid);
            if (paid != 0) _SPLITTER.deposit{value: paid}(assetId, currency, paid - fee, fee);
            // Checked just above.
            unchecked {
                return ethLeft - paid;
            }
        }
        if (paid == 0) return ethLeft;
        uint256 arrived = ExactTransfer.pull(IERC20(currency), msg.sender, address(_SPLITTER), paid);
        if (arrived != paid) revert Marketplace__TransferMismatch(paid, arrived);
        _SPLITTER.deposit(assetId, currency, paid - fee, fee);
        return ethLeft;
    }

    /// @dev Takes what is left of the buyer's free tier, up to `amount`; returns how many that is.
    function _claimFree(uint256 assetId, uint256 freePerAddress, uint256 amount)
        private
        returns (uint256 freeAmount)
    {
        uint256 claimed = _freeClaimed[assetId][msg.sender];
        freeAmount = _freeAmount(freePerAddress, claimed, amount);
        if (freeAmount != 0) _freeClaimed[assetId][msg.sender] = claimed + freeAmount;
    }

    /// @dev A single purchase must spend exactly the ETH sent with it.
    function _refuseLeftover(uint256 ethLeft) private view {
        if (ethLeft != 0) revert Marketplace__WrongValue(msg.value, msg.value - ethLeft);
    }

    /// @dev A permit that fails (e.g. front-run and already used) is ignored; the transfer then
    /// succeeds or fails on the allowance that actually exists.
    function _permit(address currency, Permit calldata permit) private {
        try IERC20Permit(currency)
            .permit(msg.sender, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s) {}
            catch {}
    }

    function _setListing(
        StoredListing storage listing,
        uint256 assetId,
        address currency,
        uint80 price,
        uint8 freePerAddress
    ) private {
        if (!isCurrencyAllowed(currency)) revert Marketplace__CurrencyNotAllowed(currency);
        listing.currency = currency;
        listing.price = price;
        listing.freePerAddress = freePerAddress;
        emit ListingUpdated(assetId, currency, price, freePerAddress);
    }

    function _allowCurrency(address currency) private {
        if (currency == address(0)) revert Marketplace__ZeroAddress();
        if (currency.code.length == 0) revert Marketplace__CurrencyHasNoCode(currency);
        _allowedCurrencies[currency] = true;
        emit CurrencyAllowed(currency);
    }

    function _existingListing(uint256 assetId) private view returns (StoredListing storage listing) {
        listing = _listings[assetId];
        if (listing.status == ListingStatus.None) revert Marketplace__UnknownAsset(assetId);
    }

    function _checkReason(string calldata reasonCid) private pure {
        uint256 length = bytes(reasonCid).length;
        if (length == 0 || length > MAX_REASON_LENGTH) revert Marketplace__InvalidReason(length);
    }

    function _freeAmount(uint256 freePerAddress, uint256 claimed, uint256 amount)
        private
        pure
        returns (uint256)
    {
        if (claimed >= freePerAddress) return 0;
        uint256 left = freePerAddress - claimed;
        return amount < left ? amount : left;
    }
}
