// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IRevenueSplitter
/// @notice Holds each asset's sale revenue and the protocol's fees, per currency, and pays them out
/// on request (pull-based). An asset's split names any number of recipients with basis-point shares;
/// changing it first settles what each old recipient was owed. While a split is in force every
/// recipient may release its share rounded down; the rounding dust (under one wei per recipient)
/// is credited to the first recipient when the asset is settled (`settle`, or any split change), so
/// released plus held always equals received and nothing is stuck.
interface IRevenueSplitter {
    /// @notice One recipient's share.
    /// @param recipient Who receives.
    /// @param bps Share in basis points.
    struct Share {
        address recipient;
        uint16 bps;
    }

    /// @notice Only the marketplace may do this.
    /// @param caller The caller.
    error RevenueSplitter__NotMarketplace(address caller);
    /// @notice Only the registry may do this.
    /// @param caller The caller.
    error RevenueSplitter__NotRegistry(address caller);
    /// @notice Only the asset's owner may do this.
    /// @param assetId The asset.
    /// @param caller The caller.
    /// @param owner The asset's owner.
    error RevenueSplitter__NotAssetOwner(uint256 assetId, address caller, address owner);
    /// @notice Recipients and shares differ in length, are empty or too many.
    /// @param recipients Number of recipients.
    /// @param shares Number of shares.
    error RevenueSplitter__InvalidSplitLength(uint256 recipients, uint256 shares);
    /// @notice Shares do not sum to 10,000 basis points.
    /// @param sum Their sum.
    error RevenueSplitter__SharesNotFull(uint256 sum);
    /// @notice A share was zero.
    /// @param index Its position.
    error RevenueSplitter__ZeroShare(uint256 index);
    /// @notice Recipients must be non-zero and in strictly ascending order (so none repeats).
    /// @param index Position of the first one out of order.
    error RevenueSplitter__RecipientsNotSorted(uint256 index);
    /// @notice Nothing is owed to this recipient in this currency.
    /// @param assetId The asset.
    /// @param currency The currency.
    /// @param recipient The recipient.
    error RevenueSplitter__NothingToRelease(uint256 assetId, address currency, address recipient);
    /// @notice The ETH sent does not match the amount recorded.
    /// @param sent ETH sent.
    /// @param expected ETH recorded.
    error RevenueSplitter__WrongValue(uint256 sent, uint256 expected);
    /// @notice The asset has no split (it was never published).
    /// @param assetId The asset.
    error RevenueSplitter__NoSplit(uint256 assetId);
    /// @notice The asset has earned in too many currencies to settle in one call.
    /// @param assetId The asset.
    error RevenueSplitter__TooManyCurrencies(uint256 assetId);

    /// @notice An asset's split was set (at publish or by its owner); what was owed before is settled.
    /// @param assetId The asset.
    /// @param recipients The recipients.
    /// @param bps Their shares.
    event SplitUpdated(uint256 indexed assetId, address[] recipients, uint16[] bps);
    /// @notice Everything an asset's recipients were entitled to so far (rounding dust to the first
    /// recipient) was credited to them, and a new accounting epoch began at the current totals.
    /// @param assetId The asset.
    event RevenueSettled(uint256 indexed assetId);
    /// @notice A recipient was paid its share.
    /// @param assetId The asset.
    /// @param currency What was paid (address(0) for ETH).
    /// @param recipient Who was paid.
    /// @param amount How much.
    event Released(
        uint256 indexed assetId, address indexed currency, address indexed recipient, uint256 amount
    );
    /// @notice Protocol fees were paid to the fee recipient.
    /// @param currency What was paid.
    /// @param recipient The fee recipient.
    /// @param amount How much.
    event FeesReleased(address indexed currency, address indexed recipient, uint256 amount);

    /// @notice Sets an asset's first split at publish; only the registry.
    /// @param assetId The asset.
    /// @param recipients Strictly ascending recipients.
    /// @param bps Their shares, summing to 10,000.
    function initSplit(uint256 assetId, address[] calldata recipients, uint16[] calldata bps) external;

    /// @notice Replaces an asset's split after settling what the old recipients were owed; only its owner.
    /// @param assetId The asset.
    /// @param recipients Strictly ascending recipients.
    /// @param bps Their shares, summing to 10,000.
    function setSplit(uint256 assetId, address[] calldata recipients, uint16[] calldata bps) external;

    /// @notice Credits each recipient with its entitlement so far, including the rounding dust the
    /// first recipient can release only once settled. Anyone may call; changes no one's total.
    /// @param assetId The asset.
    function settle(uint256 assetId) external;

    /// @notice Records revenue the marketplace sent here (ETH with the call, ERC-20 beforehand); only the marketplace.
    /// @param assetId The asset.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param net The asset's part.
    /// @param fee The protocol's part.
    function deposit(uint256 assetId, address currency, uint256 net, uint256 fee) external payable;

    /// @notice Pays `recipient` everything it is owed for an asset in a currency. Anyone may call.
    /// @param assetId The asset.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param recipient Who is paid.
    /// @return amount How much was paid.
    function release(uint256 assetId, address currency, address recipient) external returns (uint256 amount);

    /// @notice Pays accrued protocol fees in a currency to the marketplace's fee recipient. Anyone may call.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @return amount How much was paid.
    function releaseFees(address currency) external returns (uint256 amount);

    /// @notice What `recipient` could release now.
    /// @param assetId The asset.
    /// @param currency The currency.
    /// @param recipient The recipient.
    /// @return The amount.
    function releasable(uint256 assetId, address currency, address recipient) external view returns (uint256);

    /// @notice An asset's current split.
    /// @param assetId The asset.
    /// @return The shares.
    function getSplit(uint256 assetId) external view returns (Share[] memory);

    /// @notice Revenue an asset has received in a currency, ever.
    /// @param assetId The asset.
    /// @param currency The currency.
    /// @return The total.
    function totalReceived(uint256 assetId, address currency) external view returns (uint256);

    /// @notice Revenue an asset has paid out in a currency, ever.
    /// @param assetId The asset.
    /// @param currency The currency.
    /// @return The total.
    function totalReleased(uint256 assetId, address currency) external view returns (uint256);

    /// @notice Protocol fees accrued and not yet released in a currency.
    /// @param currency The currency.
    /// @return The amount.
    function accruedFees(address currency) external view returns (uint256);

    /// @notice Currencies an asset has ever received revenue in.
    /// @param assetId The asset.
    /// @return The currencies.
    function currenciesOf(uint256 assetId) external view returns (address[] memory);
}
