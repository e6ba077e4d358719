// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IComputeMarket} from "./IComputeMarket.sol";

/// @title IMarketplace
/// @notice Fixed-price sale of access tokens in ETH or any ERC-20, with a free tier per address.
/// A protocol fee (basis points, capped) accrues to the DAO treasury; the rest goes to the asset's
/// revenue split. The DAO (its timelock owns this contract) sets the fee and curates the listing.
///
/// The DAO also keeps the protocol's ERC-20 allow-list: the one list of currencies an asset may be
/// priced in here and a compute provider may charge in on the {IComputeMarket}, which reads it from
/// this contract (one list, one proposal per currency, no second copy to drift). ETH (address(0)) is
/// always allowed and is not on the list. The list governs new terms only: an asset's owner must name
/// an allowed currency when publishing or changing the listing, and a provider when registering or
/// updating. Disallowing a currency locks nothing: existing listings keep selling in it until their
/// owner changes the terms (the DAO's `delist` is the emergency stop for one asset), and revenue,
/// fees, escrow and credits already held in it are released, settled and claimed as before.
interface IMarketplace {
    /// @notice An asset's sale terms.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param price Price of one access token in the currency's smallest unit.
    /// @param freePerAddress Tokens each address may take for free before paying.
    /// @param delisted True while the DAO has taken the asset off the hub's listing.
    struct Listing {
        address currency;
        uint80 price;
        uint8 freePerAddress;
        bool delisted;
    }

    /// @notice An EIP-2612 permit signed by the buyer for the listing's currency.
    /// @param value Allowance the permit grants to the marketplace.
    /// @param deadline Permit expiry.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice One access token to buy in `buyAndOpenJob`.
    /// @param assetId The asset: one of the job's inputs.
    /// @param currency The currency the buyer means to pay with.
    /// @param maxPrice The most the buyer accepts.
    struct Purchase {
        uint256 assetId;
        address currency;
        uint256 maxPrice;
    }

    /// @notice Only the registry may do this.
    /// @param caller The caller.
    error Marketplace__NotRegistry(address caller);
    /// @notice Only the asset's owner may do this.
    /// @param assetId The asset.
    /// @param caller The caller.
    /// @param owner The asset's owner.
    error Marketplace__NotAssetOwner(uint256 assetId, address caller, address owner);
    /// @notice The asset has no listing (it does not exist).
    /// @param assetId The asset.
    error Marketplace__UnknownAsset(uint256 assetId);
    /// @notice The DAO delisted the asset; it cannot be bought until relisted.
    /// @param assetId The asset.
    error Marketplace__Delisted(uint256 assetId);
    /// @notice The asset is not delisted.
    /// @param assetId The asset.
    error Marketplace__NotDelisted(uint256 assetId);
    /// @notice The listing's price is above what the buyer allowed (the owner changed it).
    /// @param assetId The asset.
    /// @param price The price now.
    /// @param maxPrice The most the buyer allowed per token.
    error Marketplace__PriceAboveMax(uint256 assetId, uint256 price, uint256 maxPrice);
    /// @notice The listing's currency is not the one the buyer meant to pay with.
    /// @param assetId The asset.
    /// @param expected The currency the buyer named.
    /// @param actual The listing's currency.
    error Marketplace__WrongCurrency(uint256 assetId, address expected, address actual);
    /// @notice The ETH sent does not match the cost.
    /// @param sent ETH sent (in `buyAndOpenJob`, what was left of it for this purchase).
    /// @param expected ETH the purchase costs.
    error Marketplace__WrongValue(uint256 sent, uint256 expected);
    /// @notice `buyAndOpenJob` was asked to buy an asset that is not one of the job's inputs (its dataset
    /// or its algorithm), or to buy the same input twice.
    /// @param assetId The asset.
    error Marketplace__NotJobInput(uint256 assetId);
    /// @notice A purchase of zero tokens.
    error Marketplace__ZeroAmount();
    /// @notice The splitter received a different amount than was sent (fee-on-transfer tokens are refused).
    /// @param expected Amount sent.
    /// @param received Amount that arrived.
    error Marketplace__TransferMismatch(uint256 expected, uint256 received);
    /// @notice The fee is above the cap written in code.
    /// @param feeBps The fee asked for.
    /// @param maxFeeBps The cap.
    error Marketplace__FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice An address that must be set was zero.
    error Marketplace__ZeroAddress();
    /// @notice A reason CID was empty or too long.
    /// @param length Its length.
    error Marketplace__InvalidReason(uint256 length);
    /// @notice The currency is not on the DAO's allow-list (ETH, address(0), always is).
    /// @param currency The currency.
    error Marketplace__CurrencyNotAllowed(address currency);
    /// @notice The DAO tried to allow an address that holds no code, so cannot be an ERC-20.
    /// @param currency The address.
    error Marketplace__CurrencyHasNoCode(address currency);

    /// @notice An asset's sale terms were set.
    /// @param assetId The asset.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param price Price of one access token.
    /// @param freePerAddress Free tokens per address.
    event ListingUpdated(
        uint256 indexed assetId, address indexed currency, uint256 price, uint8 freePerAddress
    );
    /// @notice Access tokens were bought.
    /// @param assetId The asset.
    /// @param buyer Who paid and received the tokens.
    /// @param currency What was paid with (address(0) for ETH).
    /// @param amount Tokens bought (free ones included).
    /// @param freeAmount Of those, tokens taken from the free tier.
    /// @param paid Total paid.
    /// @param fee Of that, the protocol fee.
    event Purchased(
        uint256 indexed assetId,
        address indexed buyer,
        address indexed currency,
        uint256 amount,
        uint256 freeAmount,
        uint256 paid,
        uint256 fee
    );
    /// @notice The DAO took an asset off the hub's listing; its ownership is untouched.
    /// @param assetId The asset.
    /// @param reasonCid IPFS CID of the reason.
    event AssetDelisted(uint256 indexed assetId, string reasonCid);
    /// @notice The DAO put an asset back on the hub's listing.
    /// @param assetId The asset.
    /// @param reasonCid IPFS CID of the reason.
    event AssetRelisted(uint256 indexed assetId, string reasonCid);
    /// @notice The protocol fee changed.
    /// @param oldFeeBps Previous fee.
    /// @param newFeeBps New fee.
    event ProtocolFeeUpdated(uint16 oldFeeBps, uint16 newFeeBps);
    /// @notice The fee recipient (the treasury) changed.
    /// @param oldRecipient Previous recipient.
    /// @param newRecipient New recipient.
    event FeeRecipientUpdated(address oldRecipient, address newRecipient);
    /// @notice The DAO put an ERC-20 on the allow-list: assets may be priced and providers paid in it.
    /// @param currency The ERC-20.
    event CurrencyAllowed(address indexed currency);
    /// @notice The DAO took an ERC-20 off the allow-list: no new listing or provider terms may use it
    /// (existing ones stand until changed, and nothing held in it is locked).
    /// @param currency The ERC-20.
    event CurrencyDisallowed(address indexed currency);

    /// @notice Opens an asset's listing at publish; only the registry. The currency must be allowed.
    /// @param assetId The asset.
    /// @param accessToken The asset's access token (kept with the listing so a purchase reads one contract).
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param price Price of one access token.
    /// @param freePerAddress Free tokens per address.
    function initListing(
        uint256 assetId,
        address accessToken,
        address currency,
        uint80 price,
        uint8 freePerAddress
    ) external;

    /// @notice Changes an asset's sale terms; only the asset's owner. The currency must be allowed (even
    /// when it is the listing's current one: terms set now are checked against the list now).
    /// @param assetId The asset.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param price Price of one access token.
    /// @param freePerAddress Free tokens per address.
    function setListing(uint256 assetId, address currency, uint80 price, uint8 freePerAddress) external;

    /// @notice Buys access tokens, paying in ETH (send the exact cost) or an approved ERC-20.
    /// @param assetId The asset.
    /// @param amount Tokens to buy.
    /// @param currency The currency the buyer means to pay with.
    /// @param maxPrice The most the buyer accepts per token.
    /// @return paid Total paid.
    function buy(uint256 assetId, uint256 amount, address currency, uint256 maxPrice)
        external
        payable
        returns (uint256 paid);

    /// @notice Buys access tokens with an ERC-20, approving through an EIP-2612 permit in the same call.
    /// @param assetId The asset.
    /// @param amount Tokens to buy.
    /// @param currency The currency the buyer means to pay with.
    /// @param maxPrice The most the buyer accepts per token.
    /// @param permit The buyer's permit for the marketplace.
    /// @return paid Total paid.
    function buyWithPermit(
        uint256 assetId,
        uint256 amount,
        address currency,
        uint256 maxPrice,
        Permit calldata permit
    ) external returns (uint256 paid);

    /// @notice Buys one access token and spends it at once, recording an order bound to `provider`.
    /// @param assetId The asset.
    /// @param provider The provider that will serve the access.
    /// @param currency The currency the buyer means to pay with.
    /// @param maxPrice The most the buyer accepts.
    /// @return orderId The order's sequence number in the asset's access token.
    function buyAndConsume(uint256 assetId, address provider, address currency, uint256 maxPrice)
        external
        payable
        returns (uint256 orderId);

    /// @notice `buyAndConsume` paying with an ERC-20 approved through an EIP-2612 permit.
    /// @param assetId The asset.
    /// @param provider The provider that will serve the access.
    /// @param currency The currency the buyer means to pay with.
    /// @param maxPrice The most the buyer accepts.
    /// @param permit The buyer's permit for the marketplace.
    /// @return orderId The order's sequence number in the asset's access token.
    function buyAndConsumeWithPermit(
        uint256 assetId,
        address provider,
        address currency,
        uint256 maxPrice,
        Permit calldata permit
    ) external returns (uint256 orderId);

    /// @notice Buys one access token of each job input in `purchases` for the caller, exactly as `buy`
    /// does (free tier, fee, revenue split, a `Purchased` event each), then opens the compute job with
    /// them through the compute market's `openJobFor`, the caller as consumer, all in one transaction.
    /// List only the inputs the caller must buy (none for an input it already holds a token of, or a free
    /// algorithm); each must be the job's dataset or algorithm, at most once. Currencies may differ per
    /// purchase. ETH sent pays the ETH-priced purchases, in order, and what is left goes to the compute
    /// market as the job's payment: it must be exactly the provider's ETH price, or 0 when the provider is
    /// paid in an ERC-20 (the compute market refuses anything else with `ComputeMarket__WrongValue`).
    /// ERC-20 purchases are paid from the caller's allowance to this contract; an ERC-20 job payment from
    /// its allowance to the compute market.
    /// @param purchases The tokens to buy, one per input at most.
    /// @param job The job, as for `openJob`.
    /// @return jobId The job's id.
    function buyAndOpenJob(Purchase[] calldata purchases, IComputeMarket.OpenJobParams calldata job)
        external
        payable
        returns (uint256 jobId);

    /// @notice Takes an asset off the hub's listing; only the DAO. Ownership is never touched.
    /// @param assetId The asset.
    /// @param reasonCid IPFS CID of the reason.
    function delist(uint256 assetId, string calldata reasonCid) external;

    /// @notice Puts a delisted asset back; only the DAO.
    /// @param assetId The asset.
    /// @param reasonCid IPFS CID of the reason.
    function relist(uint256 assetId, string calldata reasonCid) external;

    /// @notice Sets the protocol fee; only the DAO, at most `MAX_FEE_BPS`.
    /// @param feeBps The new fee in basis points.
    function setProtocolFee(uint16 feeBps) external;

    /// @notice Sets who receives protocol fees; only the DAO.
    /// @param recipient The new recipient.
    function setFeeRecipient(address recipient) external;

    /// @notice Puts an ERC-20 on the allow-list; only the DAO. It must hold code; address(0) (ETH,
    /// always allowed) is refused.
    /// @param currency The ERC-20.
    function allowCurrency(address currency) external;

    /// @notice Takes an ERC-20 off the allow-list; only the DAO. Existing listings and providers keep
    /// their terms until they change them; nothing held in the currency is locked.
    /// @param currency The ERC-20 (address(0), ETH, cannot be disallowed).
    function disallowCurrency(address currency) external;

    /// @notice Whether new listings and provider terms may use `currency`.
    /// @param currency address(0) for ETH (always true), otherwise an ERC-20.
    /// @return True when allowed.
    function isCurrencyAllowed(address currency) external view returns (bool);

    /// @notice An asset's sale terms.
    /// @param assetId The asset.
    /// @return The listing.
    function getListing(uint256 assetId) external view returns (Listing memory);

    /// @notice Free-tier tokens an address has taken for an asset.
    /// @param assetId The asset.
    /// @param account The address.
    /// @return The count.
    function freeClaimed(uint256 assetId, address account) external view returns (uint256);

    /// @notice What buying `amount` tokens costs `buyer` now, after the free tier.
    /// @param assetId The asset.
    /// @param buyer The buyer.
    /// @param amount Tokens.
    /// @return cost Total to pay.
    /// @return freeAmount Tokens that would come from the free tier.
    function quote(uint256 assetId, address buyer, uint256 amount)
        external
        view
        returns (uint256 cost, uint256 freeAmount);

    /// @notice The protocol fee in basis points.
    /// @return The fee.
    function protocolFeeBps() external view returns (uint16);

    /// @notice Who receives protocol fees (the DAO treasury).
    /// @return The recipient.
    function feeRecipient() external view returns (address);

    /// @notice The registry.
    /// @return Its address.
    function registry() external view returns (address);

    /// @notice The revenue splitter this marketplace pays into.
    /// @return Its address.
    function splitter() external view returns (address);
}
