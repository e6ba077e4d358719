// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAccessToken} from "./interfaces/IAccessToken.sol";

/// @title AccessToken
/// @notice The access token of one asset: ERC-20 (0 decimals) with EIP-2612 permit. The registry
/// deploys one minimal-proxy clone per asset whose immutable argument is the asset id; this contract is
/// the shared implementation, and its peers are immutables, so clones read them from code.
/// @dev The ERC-20 core is written here rather than inherited from OpenZeppelin's ERC20 so that the
/// supply is derived (`minted - ordersIssued`) instead of stored: consuming then writes the holder's
/// balance and one packed slot, which keeps `consume` at half of Ocean's `startOrder`. Errors, EIP-712,
/// nonces and signature recovery are OpenZeppelin's. The EIP-712 domain uses the fixed name
/// "Agora Access" with each clone's own address, so a permit for one asset's token fails on another's.
contract AccessToken is IERC20Metadata, IERC20Permit, IERC20Errors, EIP712, Nonces, IAccessToken {
    /// @dev Everything a purchase or a consume touches besides balances, in one slot.
    struct Supply {
        uint32 accessDuration;
        uint112 minted;
        uint112 ordersIssued;
    }

    /// @notice Signer of a permit is not the owner.
    /// @param signer Recovered signer.
    /// @param owner Claimed owner.
    error ERC2612InvalidSigner(address signer, address owner);
    /// @notice The permit's deadline has passed.
    /// @param deadline The deadline.
    error ERC2612ExpiredSignature(uint256 deadline);

    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    address private immutable _REGISTRY;
    address private immutable _MARKETPLACE;
    address private immutable _COMPUTE_MARKET;

    Supply private _supply;
    mapping(address account => uint256) private _balances;
    mapping(address account => mapping(address spender => uint256)) private _allowances;

    /// @param registry The asset registry (owner lookups, access duration).
    /// @param marketplace The marketplace (mints on purchase).
    /// @param computeMarket The compute market (spends compute access).
    constructor(address registry, address marketplace, address computeMarket) EIP712("Agora Access", "1") {
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
        _spend(msg.sender);
        return _recordOrder(msg.sender, provider, 0);
    }

    /// @inheritdoc IAccessToken
    function consumeFor(address consumer, address provider) external returns (uint256 orderId) {
        if (msg.sender != _COMPUTE_MARKET) revert AccessToken__NotComputeMarket(msg.sender);
        _spend(consumer);
        return _recordOrder(consumer, provider, 0);
    }

    /// @inheritdoc IAccessToken
    function mintAndConsume(address consumer, address provider) external returns (uint256 orderId) {
        if (msg.sender != _MARKETPLACE) revert AccessToken__NotMarketplace(msg.sender);
        // Minted and spent in the same call: the Transfer pair records it for indexers, while the
        // balance, which ends where it started, is never written.
        emit Transfer(address(0), consumer, 1);
        emit Transfer(consumer, address(0), 1);
        return _recordOrder(consumer, provider, 1);
    }

    /// @inheritdoc IAccessToken
    function setAccessDuration(uint32 duration) external {
        if (msg.sender != _REGISTRY) revert AccessToken__NotRegistry(msg.sender);
        _supply.accessDuration = duration;
        emit AccessDurationSet(duration);
    }

    /// @inheritdoc IERC20
    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            // Checked just above.
            unchecked {
                _allowances[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function approve(address spender, uint256 value) external returns (bool) {
        _approve(msg.sender, spender, value);
        return true;
    }

    /// @inheritdoc IERC20Permit
    function permit(
        address owner,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (block.timestamp > deadline) revert ERC2612ExpiredSignature(deadline);
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline));
        address signer = ECDSA.recover(_hashTypedDataV4(structHash), v, r, s);
        if (signer != owner) revert ERC2612InvalidSigner(signer, owner);
        _approve(owner, spender, value);
    }

    /// @inheritdoc IERC20Permit
    function nonces(address owner) public view override(IERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @inheritdoc IERC20Permit
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IERC20
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IERC20
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @notice Tokens in circulation: every token minted or granted and not yet consumed.
    /// @return The supply.
    function totalSupply() external view returns (uint256) {
        Supply memory supply = _supply;
        return supply.minted - supply.ordersIssued;
    }

    /// @inheritdoc IAccessToken
    function assetId() public view returns (uint256) {
        return abi.decode(Clones.fetchCloneArgs(address(this)), (uint256));
    }

    /// @inheritdoc IAccessToken
    function accessDuration() external view returns (uint32) {
        return _supply.accessDuration;
    }

    /// @inheritdoc IAccessToken
    function ordersIssued() external view returns (uint256) {
        return _supply.ordersIssued;
    }

    /// @notice "Agora Access #<assetId>".
    /// @return The token's name.
    function name() external view returns (string memory) {
        return string.concat("Agora Access #", Strings.toString(assetId()));
    }

    /// @notice "AGA-<assetId>".
    /// @return The token's symbol.
    function symbol() external view returns (string memory) {
        return string.concat("AGA-", Strings.toString(assetId()));
    }

    /// @notice Access tokens are whole: one token, one access.
    /// @return 0.
    function decimals() external pure returns (uint8) {
        return 0;
    }

    function _mint(address to, uint256 amount) private {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _supply.minted = SafeCast.toUint112(_supply.minted + amount);
        // Bounded by `minted`, which fits in uint112.
        unchecked {
            _balances[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }

    /// @dev Takes one token from `consumer`; the order that records it bumps `ordersIssued`.
    function _spend(address consumer) private {
        uint256 balance = _balances[consumer];
        if (balance == 0) revert ERC20InsufficientBalance(consumer, 0, 1);
        // Checked just above.
        unchecked {
            _balances[consumer] = balance - 1;
        }
        emit Transfer(consumer, address(0), 1);
    }

    function _transfer(address from, address to, uint256 value) private {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 balance = _balances[from];
        if (balance < value) revert ERC20InsufficientBalance(from, balance, value);
        // The sender's balance was checked; the receiver's is bounded by the supply.
        unchecked {
            _balances[from] = balance - value;
            _balances[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _approve(address owner, address spender, uint256 value) private {
        if (owner == address(0)) revert ERC20InvalidApprover(address(0));
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        _allowances[owner][spender] = value;
        emit Approval(owner, spender, value);
    }

    /// @dev Records one order; `mintedWithIt` counts a token bought and spent in the same call.
    function _recordOrder(address consumer, address provider, uint112 mintedWithIt)
        private
        returns (uint256 orderId)
    {
        if (provider == address(0)) revert AccessToken__ZeroProvider();
        Supply memory supply = _supply;
        supply.minted += mintedWithIt;
        // Orders never outnumber minted tokens, which fit in uint112.
        unchecked {
            supply.ordersIssued += 1;
        }
        _supply = supply;
        uint64 expiresAt = supply.accessDuration == 0 ? 0 : uint64(block.timestamp) + supply.accessDuration;
        emit AccessConsumed(supply.ordersIssued, consumer, provider, expiresAt);
        return supply.ordersIssued;
    }
}
