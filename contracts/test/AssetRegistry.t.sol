// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {AssetRegistry} from "../src/AssetRegistry.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {IAssetRegistry} from "../src/interfaces/IAssetRegistry.sol";
import {IAccessToken} from "../src/interfaces/IAccessToken.sol";
import {IMarketplace} from "../src/interfaces/IMarketplace.sol";
import {IRevenueSplitter} from "../src/interfaces/IRevenueSplitter.sol";

/// @dev A minimal multisig stand-in: a contract that forwards whatever its owner tells it to call.
contract Forwarder {
    address private immutable _OWNER;

    constructor(address owner_) {
        _OWNER = owner_;
    }

    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == _OWNER);
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}

contract AssetRegistryTest is ProtocolFixture {
    string internal constant CID_V2 = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";
    bytes32 internal constant DIGEST_V2 = keccak256("content v2");

    // ---------------------------------------------------------------- constructor / initialize

    function test_constructor_revertsWhenInitializerZero() public {
        vm.expectRevert(IAssetRegistry.AssetRegistry__ZeroAddress.selector);
        new AssetRegistry(address(0));
    }

    function test_initialize_wiresRegistryAndEmits() public {
        AssetRegistry fresh = new AssetRegistry(alice);
        vm.expectEmit(address(fresh));
        emit IAssetRegistry.RegistryInitialized(
            address(marketplace), address(splitter), address(compute), address(accessTokenImpl)
        );
        vm.prank(alice);
        fresh.initialize(address(marketplace), address(compute), address(accessTokenImpl));

        assertEq(fresh.marketplace(), address(marketplace));
        assertEq(fresh.splitter(), address(splitter));
        assertEq(fresh.computeMarket(), address(compute));
        assertEq(fresh.accessTokenImplementation(), address(accessTokenImpl));
    }

    function test_initialize_revertsWhenNotInitializer() public {
        AssetRegistry fresh = new AssetRegistry(alice);
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__NotInitializer.selector, bob));
        vm.prank(bob);
        fresh.initialize(address(marketplace), address(compute), address(accessTokenImpl));
    }

    function test_initialize_revertsWhenAlreadyInitialized() public {
        vm.expectRevert(IAssetRegistry.AssetRegistry__AlreadyInitialized.selector);
        vm.prank(deployer);
        registry.initialize(address(marketplace), address(compute), address(accessTokenImpl));
    }

    function test_initialize_revertsWhenZeroAddress() public {
        AssetRegistry fresh = new AssetRegistry(alice);
        vm.startPrank(alice);
        vm.expectRevert(IAssetRegistry.AssetRegistry__ZeroAddress.selector);
        fresh.initialize(address(0), address(compute), address(accessTokenImpl));
        vm.expectRevert(IAssetRegistry.AssetRegistry__ZeroAddress.selector);
        fresh.initialize(address(marketplace), address(0), address(accessTokenImpl));
        vm.expectRevert(IAssetRegistry.AssetRegistry__ZeroAddress.selector);
        fresh.initialize(address(marketplace), address(compute), address(0));
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- publish

    function test_publish_mintsNftCloneListingAndSplitInOneTx() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(usd), 5e6);
        p.kind = IAssetRegistry.AssetKind.Model;
        p.computeOnly = true;
        p.freePerAddress = 3;

        vm.expectEmit(address(marketplace));
        emit IMarketplace.ListingUpdated(1, address(usd), 5e6, 3);
        address[] memory recipients = new address[](1);
        recipients[0] = alice;
        uint16[] memory bps = new uint16[](1);
        bps[0] = 10_000;
        vm.expectEmit(address(splitter));
        emit IRevenueSplitter.SplitUpdated(1, recipients, bps);
        vm.expectEmit(true, true, false, true, address(registry));
        emit IAssetRegistry.AssetPublished(
            1, alice, address(0), IAssetRegistry.AssetKind.Model, true, 0, p.contentDigest, p.metadataCid
        );
        (uint256 assetId, AccessToken token) = _publish(p);

        assertEq(assetId, 1);
        assertEq(registry.totalAssets(), 1);
        assertEq(registry.ownerOf(assetId), alice);
        assertEq(registry.accessTokenOf(assetId), address(token));
        assertEq(token.assetId(), assetId);
        assertGt(address(token).code.length, 0);

        IAssetRegistry.Asset memory asset = registry.getAsset(assetId);
        assertEq(asset.accessToken, address(token));
        assertEq(uint8(asset.kind), uint8(IAssetRegistry.AssetKind.Model));
        assertTrue(asset.computeOnly);
        assertEq(asset.version, 1);
        assertEq(asset.contentDigest, p.contentDigest);
        assertEq(asset.metadataCid, p.metadataCid);

        IMarketplace.Listing memory listing = marketplace.getListing(assetId);
        assertEq(listing.currency, address(usd));
        assertEq(listing.price, 5e6);
        assertEq(listing.freePerAddress, 3);
        assertFalse(listing.delisted);

        IRevenueSplitter.Share[] memory shares = splitter.getSplit(assetId);
        assertEq(shares.length, 1);
        assertEq(shares[0].recipient, alice);
        assertEq(shares[0].bps, 10_000);
    }

    function test_publish_givesEachAssetItsOwnClone() public {
        (uint256 first, AccessToken a) = _publish(_params(alice, address(0), 1));
        (uint256 second, AccessToken b) = _publish(_params(bob, address(0), 2));
        assertEq(second, first + 1);
        assertTrue(address(a) != address(b));
        assertEq(b.assetId(), second);
    }

    function test_publish_setsGivenSplit() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1 ether);
        (address lo, address hi) = bob < carol ? (bob, carol) : (carol, bob);
        p.splitRecipients = new address[](2);
        p.splitRecipients[0] = lo;
        p.splitRecipients[1] = hi;
        p.splitBps = new uint16[](2);
        p.splitBps[0] = 7000;
        p.splitBps[1] = 3000;
        (uint256 assetId,) = _publish(p);

        IRevenueSplitter.Share[] memory shares = splitter.getSplit(assetId);
        assertEq(shares.length, 2);
        assertEq(shares[0].recipient, lo);
        assertEq(shares[0].bps, 7000);
        assertEq(shares[1].recipient, hi);
        assertEq(shares[1].bps, 3000);
    }

    function test_publish_revertsWhenSplitInvalid() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1 ether);
        p.splitRecipients = new address[](1);
        p.splitRecipients[0] = bob;
        p.splitBps = new uint16[](1);
        p.splitBps[0] = 9999;
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__SharesNotFull.selector, 9999)
        );
        _publish(p);
    }

    function test_publish_setsAccessDuration() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1);
        p.accessDuration = 1 days;
        (, AccessToken token) = _publish(p);
        assertEq(token.accessDuration(), 1 days);
    }

    function test_publish_revertsWhenNotInitialized() public {
        AssetRegistry fresh = new AssetRegistry(alice);
        vm.expectRevert(IAssetRegistry.AssetRegistry__NotInitialized.selector);
        fresh.publish(_params(alice, address(0), 1));
    }

    function test_publish_revertsWhenCidEmpty() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1);
        p.metadataCid = "";
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__InvalidCid.selector, 0, 128));
        _publish(p);
    }

    function test_publish_revertsWhenCidTooLong() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1);
        p.metadataCid = string(new bytes(129));
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__InvalidCid.selector, 129, 128));
        _publish(p);
    }

    function test_publish_revertsWhenDigestZero() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1);
        p.contentDigest = bytes32(0);
        vm.expectRevert(IAssetRegistry.AssetRegistry__ZeroDigest.selector);
        _publish(p);
    }

    function test_publish_letsAContractOwnTheAsset() public {
        Forwarder multisig = new Forwarder(alice);
        (uint256 assetId, AccessToken token) = _publish(_params(address(multisig), address(0), 1 ether));
        assertEq(registry.ownerOf(assetId), address(multisig));

        vm.startPrank(alice);
        multisig.execute(
            address(registry), abi.encodeCall(registry.updateMetadata, (assetId, CID_V2, DIGEST_V2))
        );
        multisig.execute(address(token), abi.encodeCall(token.grant, (bob, 2)));
        multisig.execute(
            address(marketplace), abi.encodeCall(marketplace.setListing, (assetId, address(0), 2 ether, 0))
        );
        vm.stopPrank();

        assertEq(registry.getAsset(assetId).version, 2);
        assertEq(token.balanceOf(bob), 2);
        assertEq(marketplace.getListing(assetId).price, 2 ether);
    }

    // ---------------------------------------------------------------- did / views

    function test_did_formatsChainRegistryAndId() public {
        vm.chainId(8453);
        (uint256 assetId,) = _publish(_params(alice, address(0), 1));
        string memory expected = string.concat(
            "did:agora:8453:", vm.toLowercase(vm.toString(address(registry))), ":", vm.toString(assetId)
        );
        assertEq(registry.did(assetId), expected);
    }

    function test_did_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 7));
        registry.did(7);
    }

    function test_getAsset_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 7));
        registry.getAsset(7);
    }

    function test_accessTokenOf_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 7));
        registry.accessTokenOf(7);
    }

    function test_accessTokenAndKindOf_returnsWhatGetAssetDoes() public {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1);
        p.kind = IAssetRegistry.AssetKind.Algorithm;
        (uint256 assetId, AccessToken token) = _publish(p);
        (address accessToken, IAssetRegistry.AssetKind kind) = registry.accessTokenAndKindOf(assetId);
        assertEq(accessToken, address(token));
        assertEq(uint8(kind), uint8(IAssetRegistry.AssetKind.Algorithm));
        assertEq(uint8(kind), uint8(registry.getAsset(assetId).kind));
    }

    function test_accessTokenAndKindOf_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 7));
        registry.accessTokenAndKindOf(7);
    }

    function test_tokenURI_pointsAtCurrentMetadata() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1));
        assertEq(
            registry.tokenURI(assetId), "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
        );
        vm.prank(alice);
        registry.updateMetadata(assetId, CID_V2, DIGEST_V2);
        assertEq(registry.tokenURI(assetId), string.concat("ipfs://", CID_V2));
    }

    function test_tokenURI_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 7));
        registry.tokenURI(7);
    }

    // ---------------------------------------------------------------- updateMetadata

    function test_updateMetadata_bumpsVersionAndEmits() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1));
        vm.expectEmit(address(registry));
        emit IAssetRegistry.MetadataUpdated(assetId, 2, DIGEST_V2, CID_V2);
        vm.prank(alice);
        registry.updateMetadata(assetId, CID_V2, DIGEST_V2);

        vm.expectEmit(address(registry));
        emit IAssetRegistry.MetadataUpdated(assetId, 3, keccak256("v3"), "cid-v3");
        vm.prank(alice);
        registry.updateMetadata(assetId, "cid-v3", keccak256("v3"));

        IAssetRegistry.Asset memory asset = registry.getAsset(assetId);
        assertEq(asset.version, 3);
        assertEq(asset.contentDigest, keccak256("v3"));
        assertEq(asset.metadataCid, "cid-v3");
    }

    function test_updateMetadata_revertsWhenNotAssetOwner() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1));
        vm.expectRevert(
            abi.encodeWithSelector(IAssetRegistry.AssetRegistry__NotAssetOwner.selector, assetId, bob, alice)
        );
        vm.prank(bob);
        registry.updateMetadata(assetId, CID_V2, DIGEST_V2);
    }

    function test_updateMetadata_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 7));
        registry.updateMetadata(7, CID_V2, DIGEST_V2);
    }

    function test_updateMetadata_revertsWhenMetadataInvalid() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1));
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__InvalidCid.selector, 0, 128));
        registry.updateMetadata(assetId, "", DIGEST_V2);
        vm.expectRevert(IAssetRegistry.AssetRegistry__ZeroDigest.selector);
        registry.updateMetadata(assetId, CID_V2, bytes32(0));
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- setAccessDuration

    function test_setAccessDuration_setsTokenDurationAndEmits() public {
        (uint256 assetId, AccessToken token) = _publish(_params(alice, address(0), 1));
        vm.expectEmit(address(token));
        emit IAccessToken.AccessDurationSet(3600);
        vm.expectEmit(address(registry));
        emit IAssetRegistry.AccessDurationUpdated(assetId, 3600);
        vm.prank(alice);
        registry.setAccessDuration(assetId, 3600);
        assertEq(token.accessDuration(), 3600);
    }

    function test_setAccessDuration_revertsWhenNotAssetOwner() public {
        (uint256 assetId,) = _publish(_params(alice, address(0), 1));
        vm.expectRevert(
            abi.encodeWithSelector(IAssetRegistry.AssetRegistry__NotAssetOwner.selector, assetId, bob, alice)
        );
        vm.prank(bob);
        registry.setAccessDuration(assetId, 3600);
    }

    function test_setAccessDuration_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 7));
        registry.setAccessDuration(7, 1);
    }

    // ---------------------------------------------------------------- control follows the NFT

    function test_transferFrom_movesControlToNewOwner() public {
        (uint256 assetId, AccessToken token) = _publish(_params(alice, address(0), 1 ether));
        vm.expectEmit(address(registry));
        emit IERC721.Transfer(alice, bob, assetId);
        vm.prank(alice);
        registry.transferFrom(alice, bob, assetId);

        address[] memory recipients = new address[](1);
        recipients[0] = bob;
        uint16[] memory bps = new uint16[](1);
        bps[0] = 10_000;

        // The old owner lost every owner-only power.
        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAssetRegistry.AssetRegistry__NotAssetOwner.selector, assetId, alice, bob)
        );
        registry.updateMetadata(assetId, CID_V2, DIGEST_V2);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__NotAssetOwner.selector, assetId, alice, bob)
        );
        marketplace.setListing(assetId, address(0), 2 ether, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRevenueSplitter.RevenueSplitter__NotAssetOwner.selector, assetId, alice, bob
            )
        );
        splitter.setSplit(assetId, recipients, bps);
        vm.expectRevert(abi.encodeWithSelector(IAccessToken.AccessToken__NotAssetOwner.selector, alice, bob));
        token.grant(alice, 1);
        vm.stopPrank();

        // The new owner has them.
        vm.startPrank(bob);
        registry.updateMetadata(assetId, CID_V2, DIGEST_V2);
        marketplace.setListing(assetId, address(0), 2 ether, 0);
        splitter.setSplit(assetId, recipients, bps);
        token.grant(carol, 1);
        vm.stopPrank();

        assertEq(registry.getAsset(assetId).version, 2);
        assertEq(marketplace.getListing(assetId).price, 2 ether);
        assertEq(splitter.getSplit(assetId)[0].recipient, bob);
        assertEq(token.balanceOf(carol), 1);
    }
}
