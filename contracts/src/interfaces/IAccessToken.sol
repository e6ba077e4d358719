// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IAccessToken
/// @notice The fungible access token of one asset (ERC-20 with 0 decimals and EIP-2612 permit).
/// Spending one with `consume` records an access order bound to a provider; whoever holds a token
/// can use it, once. Each asset's token is a minimal-proxy clone carrying its asset id.
interface IAccessToken {
    /// @notice Only the marketplace may do this.
    /// @param caller The caller.
    error AccessToken__NotMarketplace(address caller);
    /// @notice Only the compute market may do this.
    /// @param caller The caller.
    error AccessToken__NotComputeMarket(address caller);
    /// @notice Only the registry may do this.
    /// @param caller The caller.
    error AccessToken__NotRegistry(address caller);
    /// @notice Only the asset's owner may do this.
    /// @param caller The caller.
    /// @param owner The asset's owner.
    error AccessToken__NotAssetOwner(address caller, address owner);
    /// @notice An order must name a provider.
    error AccessToken__ZeroProvider();
    /// @notice A grant of zero tokens or to the zero address.
    error AccessToken__InvalidGrant();

    /// @notice One access token was spent; the order it created is this event. The asset is the one
    /// whose access token emitted it (see `AssetPublished`).
    /// @param orderId Sequence number of the order within this token (from 1).
    /// @param consumer Who spent the token and may use the access.
    /// @param provider The provider the order is bound to.
    /// @param expiresAt When a timed order stops being valid; 0 for a single-use order.
    event AccessConsumed(
        uint256 indexed orderId, address indexed consumer, address indexed provider, uint64 expiresAt
    );
    /// @notice The asset owner granted access tokens.
    /// @param to Receiver.
    /// @param amount Tokens granted.
    event AccessGranted(address indexed to, uint256 amount);
    /// @notice The access duration changed.
    /// @param accessDuration Seconds; 0 means single use.
    event AccessDurationSet(uint32 accessDuration);

    /// @notice Mints tokens for a purchase; only the marketplace.
    /// @param to Buyer.
    /// @param amount Tokens.
    function mint(address to, uint256 amount) external;

    /// @notice Grants tokens for free; only the asset's owner.
    /// @param to Receiver.
    /// @param amount Tokens.
    function grant(address to, uint256 amount) external;

    /// @notice Spends one of the caller's tokens and records an access order bound to `provider`.
    /// @param provider The provider that will serve the access.
    /// @return orderId The order's sequence number.
    function consume(address provider) external returns (uint256 orderId);

    /// @notice Spends one of `consumer`'s tokens for a compute job; only the compute market.
    /// @param consumer Whose token is spent.
    /// @param provider The provider that will run the job.
    /// @return orderId The order's sequence number.
    function consumeFor(address consumer, address provider) external returns (uint256 orderId);

    /// @notice Records an order for a token bought in the same call, without minting it; only the marketplace.
    /// @param consumer The buyer.
    /// @param provider The provider that will serve the access.
    /// @return orderId The order's sequence number.
    function mintAndConsume(address consumer, address provider) external returns (uint256 orderId);

    /// @notice Sets the access duration of orders from now on; only the registry.
    /// @param accessDuration Seconds; 0 means single use.
    function setAccessDuration(uint32 accessDuration) external;

    /// @notice The asset this token gives access to.
    /// @return The asset id.
    function assetId() external view returns (uint256);

    /// @notice Seconds an order stays valid; 0 means single use.
    /// @return The duration.
    function accessDuration() external view returns (uint32);

    /// @notice Number of orders recorded so far (order ids run from 1 to this).
    /// @return The count.
    function ordersIssued() external view returns (uint256);
}
