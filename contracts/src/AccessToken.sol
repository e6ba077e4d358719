// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IAccessToken} from "./interfaces/IAccessToken.sol";

/// @title AccessToken
/// @notice The access token of one asset. The registry deploys one minimal-proxy clone per asset whose
/// immutable argument is the asset id; this contract is the shared implementation. Peers are immutables
/// of the implementation, so clones read them from code rather than storage.
/// @dev EIP-712's domain uses the fixed name "Agora Access" with each clone's own address, so permits
/// signed for one asset's token cannot be replayed on another's.
contract AccessToken is ERC20Permit, IAccessToken {
    /// @dev Packed so that consuming reads and writes a single slot.
    struct OrderBook {
        uint32 accessDuration;
        uint224 ordersIssued;
    }

    OrderBook private _book;

    address private immutable _REGISTRY;
    address private immutable _MARKETPLACE;
    address private immutable _COMPUTE_MARKET;

    /// @param registry The asset registry (owner lookups, access duration).
    /// @param marketplace The marketplace (mints on purchase).
    /// @param computeMarket The compute market (spends compute access).
    constructor(address registry, address marketplace, address computeMarket)
        ERC20("Agora Access", "AGA")
        ERC20Permit("Agora Access")
    {
        _REGISTRY = registry;
        _MARKETPLACE = marketplace;
        _COMPUTE_MARKET = computeMarket;
    }

    /// @inheritdoc IAccessToken
    function mint(address to, uint256 amount) external {
        if (msg.sender != _MARKETPLACE) revert AccessToken__NotMarketplace(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IAccessToken
    function grant(address to, uint256 amount) external {
        address owner = IERC721(_REGISTRY).ownerOf(assetId());
        if (msg.sender != owner) revert AccessToken__NotAssetOwner(msg.sender, owner);
        if (to == address(0) || amount == 0) revert AccessToken__InvalidGrant();
        _mint(to, amount);
        emit AccessGranted(to, amount);
    }

    /// @inheritdoc IAccessToken
    function consume(address provider) external returns (uint256 orderId) {
        _burn(msg.sender, 1);
        return _recordOrder(msg.sender, provider);
    }

    /// @inheritdoc IAccessToken
    function consumeFor(address consumer, address provider) external returns (uint256 orderId) {
        if (msg.sender != _COMPUTE_MARKET) revert AccessToken__NotComputeMarket(msg.sender);
        _burn(consumer, 1);
        return _recordOrder(consumer, provider);
    }

    /// @inheritdoc IAccessToken
    function mintAndConsume(address consumer, address provider) external returns (uint256 orderId) {
        if (msg.sender != _MARKETPLACE) revert AccessToken__NotMarketplace(msg.sender);
        // The token would be minted and burned in the same call: the Transfer pair records it for
        // indexers while the balance and supply, which end where they started, are never written.
        emit Transfer(address(0), consumer, 1);
        emit Transfer(consumer, address(0), 1);
        return _recordOrder(consumer, provider);
    }

    /// @inheritdoc IAccessToken
    function setAccessDuration(uint32 duration) external {
        if (msg.sender != _REGISTRY) revert AccessToken__NotRegistry(msg.sender);
        _book.accessDuration = duration;
        emit AccessDurationSet(duration);
    }

    /// @inheritdoc IAccessToken
    function assetId() public view returns (uint256) {
        return abi.decode(Clones.fetchCloneArgs(address(this)), (uint256));
    }

    /// @inheritdoc IAccessToken
    function accessDuration() external view returns (uint32) {
        return _book.accessDuration;
    }

    /// @inheritdoc IAccessToken
    function ordersIssued() external view returns (uint256) {
        return _book.ordersIssued;
    }

    /// @notice "Agora Access #<assetId>".
    /// @return The token's name.
    function name() public view override returns (string memory) {
        return string.concat("Agora Access #", Strings.toString(assetId()));
    }

    /// @notice "AGA-<assetId>".
    /// @return The token's symbol.
    function symbol() public view override returns (string memory) {
        return string.concat("AGA-", Strings.toString(assetId()));
    }

    /// @notice Access tokens are whole: one token, one access.
    /// @return 0.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    function _recordOrder(address consumer, address provider) private returns (uint256 orderId) {
        if (provider == address(0)) revert AccessToken__ZeroProvider();
        OrderBook memory book = _book;
        // A counter incremented by one per consumed token never reaches 2**224.
        unchecked {
            orderId = book.ordersIssued + 1;
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        _book = OrderBook({accessDuration: book.accessDuration, ordersIssued: uint224(orderId)});
        uint64 expiresAt = book.accessDuration == 0 ? 0 : uint64(block.timestamp) + book.accessDuration;
        emit AccessConsumed(orderId, consumer, provider, assetId(), expiresAt);
    }
}
