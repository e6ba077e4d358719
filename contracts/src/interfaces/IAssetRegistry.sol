// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IAssetRegistry
/// @notice The registry of Agora's AI assets. Each asset is an ERC-721 token whose metadata
/// (a JSON document on IPFS) and content (verified by its sha-256 digest) live off chain.
/// Publishing mints the asset, clones its access token and opens its listing and revenue split,
/// all in one transaction.
interface IAssetRegistry {
    /// @notice What an asset is.
    enum AssetKind {
        Dataset,
        Model,
        Algorithm,
        App,
        Notebook
    }

    /// @notice Everything `publish` needs, in one struct so the call stays readable.
    /// @param owner Receives the asset NFT (any address, including a multisig contract).
    /// @param kind The asset's kind.
    /// @param computeOnly True when the content never leaves a compute provider.
    /// @param accessDuration Seconds an access order stays valid; 0 means single use.
    /// @param contentDigest sha-256 of the content, so downloads can be checked.
    /// @param metadataCid IPFS CID of the metadata JSON (name, description, license, files, DID).
    /// @param currency Sale currency: address(0) for ETH, otherwise an ERC-20.
    /// @param price Price of one access token in `currency`'s smallest unit.
    /// @param freePerAddress Access tokens each address may take for free before paying.
    /// @param splitRecipients Revenue recipients in strictly ascending address order; empty means all to `owner`.
    /// @param splitBps Each recipient's share in basis points, summing to 10,000.
    struct PublishParams {
        address owner;
        AssetKind kind;
        bool computeOnly;
        uint32 accessDuration;
        bytes32 contentDigest;
        string metadataCid;
        address currency;
        uint80 price;
        uint8 freePerAddress;
        address[] splitRecipients;
        uint16[] splitBps;
    }

    /// @notice An asset as the registry stores it.
    /// @param accessToken The asset's access-token clone.
    /// @param kind The asset's kind.
    /// @param computeOnly True when the content never leaves a compute provider.
    /// @param version Metadata version, 1 at publish and +1 per update.
    /// @param contentDigest sha-256 of the current content.
    /// @param metadataCid IPFS CID of the current metadata JSON.
    struct Asset {
        address accessToken;
        AssetKind kind;
        bool computeOnly;
        uint32 version;
        bytes32 contentDigest;
        string metadataCid;
    }

    /// @notice The caller is not the address allowed to wire the registry.
    /// @param caller The caller.
    error AssetRegistry__NotInitializer(address caller);
    /// @notice The registry was already wired.
    error AssetRegistry__AlreadyInitialized();
    /// @notice The registry is not wired yet.
    error AssetRegistry__NotInitialized();
    /// @notice An address that must be set was zero.
    error AssetRegistry__ZeroAddress();
    /// @notice The asset does not exist.
    /// @param assetId The asset asked for.
    error AssetRegistry__UnknownAsset(uint256 assetId);
    /// @notice Only the asset's owner may do this.
    /// @param assetId The asset.
    /// @param caller The caller.
    /// @param owner The asset's owner.
    error AssetRegistry__NotAssetOwner(uint256 assetId, address caller, address owner);
    /// @notice A metadata CID was empty or longer than allowed.
    /// @param length Its length in bytes.
    /// @param maxLength The longest allowed.
    error AssetRegistry__InvalidCid(uint256 length, uint256 maxLength);
    /// @notice A content digest was zero.
    error AssetRegistry__ZeroDigest();

    /// @notice The registry was wired to the rest of the protocol.
    /// @param marketplace The marketplace.
    /// @param splitter The revenue splitter.
    /// @param computeMarket The compute market.
    /// @param accessTokenImplementation The access-token implementation every clone points at.
    event RegistryInitialized(
        address marketplace, address splitter, address computeMarket, address accessTokenImplementation
    );
    /// @notice An asset was published.
    /// @param assetId The new asset's id.
    /// @param owner Its owner.
    /// @param accessToken Its access-token clone.
    /// @param kind Its kind.
    /// @param computeOnly True when the content never leaves a compute provider.
    /// @param accessDuration Seconds an access order stays valid; 0 means single use.
    /// @param contentDigest sha-256 of the content.
    /// @param metadataCid IPFS CID of the metadata JSON.
    event AssetPublished(
        uint256 indexed assetId,
        address indexed owner,
        address indexed accessToken,
        AssetKind kind,
        bool computeOnly,
        uint32 accessDuration,
        bytes32 contentDigest,
        string metadataCid
    );
    /// @notice An asset's metadata moved to a new version (the full history is this event's log).
    /// @param assetId The asset.
    /// @param version The new version number.
    /// @param contentDigest sha-256 of the content of this version.
    /// @param metadataCid IPFS CID of this version's metadata JSON.
    event MetadataUpdated(uint256 indexed assetId, uint32 version, bytes32 contentDigest, string metadataCid);
    /// @notice An asset's access duration changed (for orders consumed from now on).
    /// @param assetId The asset.
    /// @param accessDuration Seconds an access order stays valid; 0 means single use.
    event AccessDurationUpdated(uint256 indexed assetId, uint32 accessDuration);

    /// @notice Wires the registry to the marketplace, compute market and access-token implementation; once.
    /// @param marketplace The marketplace (its `splitter()` is the revenue splitter).
    /// @param computeMarket The compute market.
    /// @param accessTokenImplementation The access-token implementation every clone points at.
    function initialize(address marketplace, address computeMarket, address accessTokenImplementation)
        external;

    /// @notice Publishes an asset: mints the NFT, clones its access token, opens its listing and split.
    /// @param params What to publish.
    /// @return assetId The new asset's id.
    /// @return accessToken The new access-token clone.
    function publish(PublishParams calldata params) external returns (uint256 assetId, address accessToken);

    /// @notice Publishes a new metadata version of an asset; only its owner.
    /// @param assetId The asset.
    /// @param metadataCid IPFS CID of the new metadata JSON.
    /// @param contentDigest sha-256 of the (possibly new) content.
    function updateMetadata(uint256 assetId, string calldata metadataCid, bytes32 contentDigest) external;

    /// @notice Sets how long access orders consumed from now on stay valid; only the asset's owner.
    /// @param assetId The asset.
    /// @param accessDuration Seconds; 0 means single use.
    function setAccessDuration(uint256 assetId, uint32 accessDuration) external;

    /// @notice Returns an asset.
    /// @param assetId The asset.
    /// @return The asset as stored.
    function getAsset(uint256 assetId) external view returns (Asset memory);

    /// @notice Returns an asset's access token.
    /// @param assetId The asset.
    /// @return The access-token clone.
    function accessTokenOf(uint256 assetId) external view returns (address);

    /// @notice Returns an asset's access token and kind, from one storage slot (what the compute market
    /// checks for each input of every job, without reading the metadata `getAsset` also returns).
    /// @param assetId The asset.
    /// @return accessToken The access-token clone.
    /// @return kind The asset's kind.
    function accessTokenAndKindOf(uint256 assetId) external view returns (address accessToken, AssetKind kind);

    /// @notice Returns an asset's decentralized identifier, `did:agora:<chainId>:<registry>:<assetId>`.
    /// @param assetId The asset.
    /// @return The DID.
    function did(uint256 assetId) external view returns (string memory);

    /// @notice Number of assets published so far (ids run from 1 to this).
    /// @return The count.
    function totalAssets() external view returns (uint256);

    /// @notice The marketplace.
    /// @return Its address.
    function marketplace() external view returns (address);

    /// @notice The revenue splitter.
    /// @return Its address.
    function splitter() external view returns (address);

    /// @notice The compute market.
    /// @return Its address.
    function computeMarket() external view returns (address);

    /// @notice The access-token implementation.
    /// @return Its address.
    function accessTokenImplementation() external view returns (address);
}
