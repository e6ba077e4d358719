// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IAssetRegistry} from "./interfaces/IAssetRegistry.sol";
import {IAccessToken} from "./interfaces/IAccessToken.sol";
import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {IRevenueSplitter} from "./interfaces/IRevenueSplitter.sol";

/// @title AssetRegistry
/// @notice Agora's asset NFTs (ERC-721 "Agora Asset", "AGORA-ASSET"). See {IAssetRegistry}.
/// @dev Whoever holds an asset's NFT controls it: every owner-only function in the protocol asks
/// `ownerOf` here, so transferring the NFT transfers control (to an EOA or a multisig alike).
contract AssetRegistry is ERC721, IAssetRegistry {
    /// @dev One slot: read on every buy/consume path through the clone address.
    struct AssetCore {
        address accessToken;
        AssetKind kind;
        bool computeOnly;
        uint32 version;
    }

    /// @notice Longest metadata CID accepted (a CIDv1 in base32 with sha-256 is 59 characters).
    uint256 public constant MAX_CID_LENGTH = 128;

    mapping(uint256 assetId => AssetCore) private _assets;
    mapping(uint256 assetId => bytes32) private _digests;
    mapping(uint256 assetId => string) private _metadataCids;
    uint256 private _assetCount;

    address private _initializer;
    address private _marketplace;
    address private _splitter;
    address private _computeMarket;
    address private _accessTokenImplementation;

    /// @param initializer The only address that may call `initialize`, once.
    constructor(address initializer) ERC721("Agora Asset", "AGORA-ASSET") {
        if (initializer == address(0)) revert AssetRegistry__ZeroAddress();
        _initializer = initializer;
    }

    /// @inheritdoc IAssetRegistry
    function initialize(address marketplace_, address computeMarket_, address accessTokenImplementation_)
        external
    {
        if (_marketplace != address(0)) revert AssetRegistry__AlreadyInitialized();
        if (msg.sender != _initializer) revert AssetRegistry__NotInitializer(msg.sender);
        if (
            marketplace_ == address(0) || computeMarket_ == address(0)
                || accessTokenImplementation_ == address(0)
        ) revert AssetRegistry__ZeroAddress();
        address splitter_ = IMarketplace(marketplace_).splitter();
        _marketplace = marketplace_;
        _splitter = splitter_;
        _computeMarket = computeMarket_;
        _accessTokenImplementation = accessTokenImplementation_;
        delete _initializer;
        emit RegistryInitialized(marketplace_, splitter_, computeMarket_, accessTokenImplementation_);
    }

    /// @inheritdoc IAssetRegistry
    function publish(PublishParams calldata params) external returns (uint256 assetId, address accessToken) {
        address implementation = _accessTokenImplementation;
        if (implementation == address(0)) revert AssetRegistry__NotInitialized();
        _checkMetadata(params.metadataCid, params.contentDigest);

        assetId = ++_assetCount;
        accessToken = Clones.cloneWithImmutableArgs(implementation, abi.encode(assetId));
        _assets[assetId] = AssetCore({
            accessToken: accessToken, kind: params.kind, computeOnly: params.computeOnly, version: 1
        });
        _digests[assetId] = params.contentDigest;
        _metadataCids[assetId] = params.metadataCid;
        // `_mint`, not `_safeMint`: the owner need not be an ERC721Receiver (e.g. a plain multisig).
        _mint(params.owner, assetId);
        if (params.accessDuration != 0) IAccessToken(accessToken).setAccessDuration(params.accessDuration);

        IMarketplace(_marketplace)
            .initListing(assetId, accessToken, params.currency, params.price, params.freePerAddress);
        if (params.splitRecipients.length == 0) {
            address[] memory recipients = new address[](1);
            uint16[] memory bps = new uint16[](1);
            recipients[0] = params.owner;
            bps[0] = 10_000;
            IRevenueSplitter(_splitter).initSplit(assetId, recipients, bps);
        } else {
            IRevenueSplitter(_splitter).initSplit(assetId, params.splitRecipients, params.splitBps);
        }

        emit AssetPublished(
            assetId,
            params.owner,
            accessToken,
            params.kind,
            params.computeOnly,
            params.accessDuration,
            params.contentDigest,
            params.metadataCid
        );
    }

    /// @inheritdoc IAssetRegistry
    function updateMetadata(uint256 assetId, string calldata metadataCid, bytes32 contentDigest) external {
        _checkAssetOwner(assetId);
        _checkMetadata(metadataCid, contentDigest);
        uint32 version = _assets[assetId].version + 1;
        _assets[assetId].version = version;
        _digests[assetId] = contentDigest;
        _metadataCids[assetId] = metadataCid;
        emit MetadataUpdated(assetId, version, contentDigest, metadataCid);
    }

    /// @inheritdoc IAssetRegistry
    function setAccessDuration(uint256 assetId, uint32 accessDuration) external {
        _checkAssetOwner(assetId);
        IAccessToken(_assets[assetId].accessToken).setAccessDuration(accessDuration);
        emit AccessDurationUpdated(assetId, accessDuration);
    }

    /// @inheritdoc IAssetRegistry
    function getAsset(uint256 assetId) external view returns (Asset memory) {
        AssetCore memory core = _assets[assetId];
        if (core.accessToken == address(0)) revert AssetRegistry__UnknownAsset(assetId);
        return Asset({
            accessToken: core.accessToken,
            kind: core.kind,
            computeOnly: core.computeOnly,
            version: core.version,
            contentDigest: _digests[assetId],
            metadataCid: _metadataCids[assetId]
        });
    }

    /// @inheritdoc IAssetRegistry
    function accessTokenOf(uint256 assetId) external view returns (address accessToken) {
        accessToken = _assets[assetId].accessToken;
        if (accessToken == address(0)) revert AssetRegistry__UnknownAsset(assetId);
    }

    /// @inheritdoc IAssetRegistry
    function accessTokenAndKindOf(uint256 assetId)
        external
        view
        returns (address accessToken, AssetKind kind)
    {
        AssetCore storage core = _assets[assetId];
        (accessToken, kind) = (core.accessToken, core.kind);
        if (accessToken == address(0)) revert AssetRegistry__UnknownAsset(assetId);
    }

    /// @inheritdoc IAssetRegistry
    function did(uint256 assetId) external view returns (string memory) {
        if (_assets[assetId].accessToken == address(0)) revert AssetRegistry__UnknownAsset(assetId);
        return string.concat(
            "did:agora:",
            Strings.toString(block.chainid),
            ":",
            Strings.toHexString(address(this)),
            ":",
            Strings.toString(assetId)
        );
    }

    /// @inheritdoc IAssetRegistry
    function totalAssets() external view returns (uint256) {
        return _assetCount;
    }

    /// @inheritdoc IAssetRegistry
    function marketplace() external view returns (address) {
        return _marketplace;
    }

    /// @inheritdoc IAssetRegistry
    function splitter() external view returns (address) {
        return _splitter;
    }

    /// @inheritdoc IAssetRegistry
    function computeMarket() external view returns (address) {
        return _computeMarket;
    }

    /// @inheritdoc IAssetRegistry
    function accessTokenImplementation() external view returns (address) {
        return _accessTokenImplementation;
    }

    /// @notice `ipfs://<metadata CID>` of the asset's current metadata.
    /// @param assetId The asset.
    /// @return The URI.
    function tokenURI(uint256 assetId) public view override returns (string memory) {
        _requireOwned(assetId);
        return string.concat("ipfs://", _metadataCids[assetId]);
    }

    function _checkAssetOwner(uint256 assetId) private view {
        address owner = _ownerOf(assetId);
        if (owner == address(0)) revert AssetRegistry__UnknownAsset(assetId);
        if (owner != msg.sender) revert AssetRegistry__NotAssetOwner(assetId, msg.sender, owner);
    }

    function _checkMetadata(string calldata metadataCid, bytes32 contentDigest) private pure {
        uint256 length = bytes(metadataCid).length;
        if (length == 0 || length > MAX_CID_LENGTH) revert AssetRegistry__InvalidCid(length, MAX_CID_LENGTH);
        if (contentDigest == bytes32(0)) revert AssetRegistry__ZeroDigest();
    }
}
