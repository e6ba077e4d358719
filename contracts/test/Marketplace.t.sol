// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors, IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {ReentrantERC20} from "./mocks/ReentrantERC20.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {IMarketplace} from "../src/interfaces/IMarketplace.sol";
import {IAccessToken} from "../src/interfaces/IAccessToken.sol";
import {IAssetRegistry} from "../src/interfaces/IAssetRegistry.sol";

contract MarketplaceTest is ProtocolFixture {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint80 internal constant ETH_PRICE = 1 ether;
    uint80 internal constant USD_PRICE = 10e6;
    string internal constant REASON = "bafkreireason";

    address internal buyer;
    uint256 internal buyerKey;
    uint256 internal ethAsset;
    AccessToken internal ethToken;
    uint256 internal usdAsset;
    AccessToken internal usdToken;

    function setUp() public override {
        super.setUp();
        (buyer, buyerKey) = makeAddrAndKey("buyer");
        (ethAsset, ethToken) = _publish(_params(alice, address(0), ETH_PRICE));
        (usdAsset, usdToken) = _publish(_params(alice, address(usd), USD_PRICE));
        vm.deal(buyer, 100 ether);
        usd.mint(buyer, 1000e6);
    }

    // ---------------------------------------------------------------- constructor

    function test_constructor_revertsWhenZeroAddress() public {
        vm.expectRevert(IMarketplace.Marketplace__ZeroAddress.selector);
        new Marketplace(address(0), address(timelock), address(timelock), FEE_BPS, new address[](0));
        vm.expectRevert(IMarketplace.Marketplace__ZeroAddress.selector);
        new Marketplace(address(registry), address(timelock), address(0), FEE_BPS, new address[](0));
    }

    function test_constructor_revertsWhenFeeTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__FeeTooHigh.selector, 1001, 1000));
        new Marketplace(address(registry), address(timelock), address(timelock), 1001, new address[](0));
    }

    function test_constructor_wiresOwnerFeeAndSplitter() public view {
        assertEq(marketplace.owner(), address(timelock));
        assertEq(marketplace.feeRecipient(), address(timelock));
        assertEq(marketplace.protocolFeeBps(), FEE_BPS);
        assertEq(marketplace.registry(), address(registry));
        assertEq(registry.splitter(), marketplace.splitter());
    }

    // ---------------------------------------------------------------- initListing / setListing

    function test_initListing_revertsWhenNotRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__NotRegistry.selector, alice));
        vm.prank(alice);
        marketplace.initListing(99, address(1), address(0), 1, 0);
    }

    function test_setListing_updatesTermsAndEmits() public {
        vm.expectEmit(address(marketplace));
        emit IMarketplace.ListingUpdated(ethAsset, address(usd), 3e6, 5);
        vm.prank(alice);
        marketplace.setListing(ethAsset, address(usd), 3e6, 5);
        IMarketplace.Listing memory listing = marketplace.getListing(ethAsset);
        assertEq(listing.currency, address(usd));
        assertEq(listing.price, 3e6);
        assertEq(listing.freePerAddress, 5);
    }

    function test_setListing_revertsWhenNotAssetOwner() public {
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__NotAssetOwner.selector, ethAsset, bob, alice)
        );
        vm.prank(bob);
        marketplace.setListing(ethAsset, address(0), 1, 0);
    }

    function test_setListing_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 99));
        vm.prank(alice);
        marketplace.setListing(99, address(0), 1, 0);
    }

    // ---------------------------------------------------------------- buy (ETH)

    function test_buy_withExactEthMintsAndSplitsFee() public {
        uint256 paid = 2 * uint256(ETH_PRICE);
        uint256 fee = paid * FEE_BPS / 10_000;
        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(ethAsset, buyer, address(0), 2, 0, paid, fee);
        vm.expectEmit(address(ethToken));
        emit IERC20.Transfer(address(0), buyer, 2);
        vm.prank(buyer);
        assertEq(marketplace.buy{value: paid}(ethAsset, 2, address(0), ETH_PRICE), paid);

        assertEq(ethToken.balanceOf(buyer), 2);
        assertEq(address(splitter).balance, paid);
        assertEq(splitter.totalReceived(ethAsset, address(0)), paid - fee);
        assertEq(splitter.accruedFees(address(0)), fee);
        assertEq(splitter.releasable(ethAsset, address(0), alice), paid - fee);
    }

    function test_buy_revertsWhenEthValueWrong() public {
        vm.startPrank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__WrongValue.selector, ETH_PRICE - 1, ETH_PRICE)
        );
        marketplace.buy{value: ETH_PRICE - 1}(ethAsset, 1, address(0), ETH_PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__WrongValue.selector, ETH_PRICE + 1, ETH_PRICE)
        );
        marketplace.buy{value: ETH_PRICE + 1}(ethAsset, 1, address(0), ETH_PRICE);
        vm.stopPrank();
    }

    function test_buy_revertsWhenAmountZero() public {
        vm.expectRevert(IMarketplace.Marketplace__ZeroAmount.selector);
        vm.prank(buyer);
        marketplace.buy(ethAsset, 0, address(0), ETH_PRICE);
    }

    function test_buy_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__UnknownAsset.selector, 99));
        vm.prank(buyer);
        marketplace.buy(99, 1, address(0), ETH_PRICE);
    }

    function test_buy_revertsWhenWrongCurrency() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__WrongCurrency.selector, ethAsset, address(usd), address(0)
            )
        );
        vm.prank(buyer);
        marketplace.buy(ethAsset, 1, address(usd), ETH_PRICE);
    }

    function test_buy_revertsWhenOwnerRaisedPriceBeforePurchase() public {
        vm.prank(alice);
        marketplace.setListing(ethAsset, address(0), 2 ether, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__PriceAboveMax.selector, ethAsset, 2 ether, ETH_PRICE
            )
        );
        vm.prank(buyer);
        marketplace.buy{value: ETH_PRICE}(ethAsset, 1, address(0), ETH_PRICE);
    }

    function test_buy_revertsWhenDelistedAndWorksAfterRelist() public {
        vm.prank(address(timelock));
        marketplace.delist(ethAsset, REASON);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__Delisted.selector, ethAsset));
        vm.prank(buyer);
        marketplace.buy{value: ETH_PRICE}(ethAsset, 1, address(0), ETH_PRICE);

        vm.prank(address(timelock));
        marketplace.relist(ethAsset, REASON);
        vm.prank(buyer);
        marketplace.buy{value: ETH_PRICE}(ethAsset, 1, address(0), ETH_PRICE);
        assertEq(ethToken.balanceOf(buyer), 1);
    }

    // ---------------------------------------------------------------- buy (ERC-20)

    function test_buy_withApprovedErc20() public {
        uint256 fee = uint256(USD_PRICE) * 3 * FEE_BPS / 10_000;
        vm.startPrank(buyer);
        usd.approve(address(marketplace), 3 * uint256(USD_PRICE));
        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(usdAsset, buyer, address(usd), 3, 0, 3 * uint256(USD_PRICE), fee);
        marketplace.buy(usdAsset, 3, address(usd), USD_PRICE);
        vm.stopPrank();

        assertEq(usdToken.balanceOf(buyer), 3);
        assertEq(usd.balanceOf(buyer), 1000e6 - 3 * uint256(USD_PRICE));
        assertEq(usd.balanceOf(address(splitter)), 3 * uint256(USD_PRICE));
        assertEq(splitter.accruedFees(address(usd)), fee);
    }

    function test_buy_revertsWhenEthSentWithErc20() public {
        vm.startPrank(buyer);
        usd.approve(address(marketplace), USD_PRICE);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__WrongValue.selector, 1, 0));
        marketplace.buy{value: 1}(usdAsset, 1, address(usd), USD_PRICE);
        vm.stopPrank();
    }

    function test_buy_revertsWhenFeeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        // Allowed by the DAO and hostile anyway (e.g. upgraded later): the market defends itself.
        _allowCurrency(address(fot));
        (uint256 assetId,) = _publish(_params(alice, address(fot), 1000));
        fot.mint(buyer, 1000);
        vm.startPrank(buyer);
        fot.approve(address(marketplace), 1000);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__TransferMismatch.selector, 1000, 990)
        );
        marketplace.buy(assetId, 1, address(fot), 1000);
        vm.stopPrank();
    }

    function test_buy_revertsWhenTokenReentersBuy() public {
        ReentrantERC20 evil = new ReentrantERC20();
        // Allowed by the DAO and hostile anyway (e.g. upgraded later): the market defends itself.
        _allowCurrency(address(evil));
        (uint256 assetId, AccessToken token) = _publish(_params(alice, address(evil), 100));
        evil.mint(buyer, 1000);
        vm.prank(buyer);
        evil.approve(address(marketplace), 1000);
        evil.arm(address(marketplace), abi.encodeCall(marketplace.buy, (assetId, 1, address(evil), 100)));

        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(buyer);
        marketplace.buy(assetId, 1, address(evil), 100);
        assertEq(token.totalSupply(), 0);
        assertEq(evil.balanceOf(address(splitter)), 0);
    }

    function test_buy_priceChangedMidPurchaseChargesQuotedPrice() public {
        // The currency itself owns the asset and re-prices it from inside transferFrom.
        ReentrantERC20 evil = new ReentrantERC20();
        // Allowed by the DAO and hostile anyway (e.g. upgraded later): the market defends itself.
        _allowCurrency(address(evil));
        (uint256 assetId, AccessToken token) = _publish(_params(address(evil), address(evil), 100));
        evil.mint(buyer, 1000);
        vm.prank(buyer);
        evil.approve(address(marketplace), type(uint256).max);
        evil.arm(
            address(marketplace), abi.encodeCall(marketplace.setListing, (assetId, address(evil), 500, 0))
        );

        vm.prank(buyer);
        uint256 paid = marketplace.buy(assetId, 2, address(evil), 100);

        assertEq(evil.reentries(), 1);
        assertEq(paid, 200);
        assertEq(evil.balanceOf(buyer), 800);
        assertEq(token.balanceOf(buyer), 2);
        assertEq(marketplace.getListing(assetId).price, 500);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__PriceAboveMax.selector, assetId, 500, 100)
        );
        vm.prank(buyer);
        marketplace.buy(assetId, 1, address(evil), 100);
    }

    // ---------------------------------------------------------------- buyWithPermit

    function test_buyWithPermit_paysWithoutPriorApproval() public {
        IMarketplace.Permit memory permit = _signUsdPermit(USD_PRICE, block.timestamp);
        vm.prank(buyer);
        marketplace.buyWithPermit(usdAsset, 1, address(usd), USD_PRICE, permit);
        assertEq(usdToken.balanceOf(buyer), 1);
        assertEq(usd.balanceOf(address(splitter)), USD_PRICE);
        assertEq(usd.nonces(buyer), 1);
    }

    function test_buyWithPermit_usesExistingAllowanceWhenPermitFails() public {
        IMarketplace.Permit memory permit = _signUsdPermit(USD_PRICE, block.timestamp);
        usd.permit(buyer, address(marketplace), permit.value, permit.deadline, permit.v, permit.r, permit.s);
        vm.prank(buyer);
        marketplace.buyWithPermit(usdAsset, 1, address(usd), USD_PRICE, permit);
        assertEq(usdToken.balanceOf(buyer), 1);
    }

    function test_buyWithPermit_revertsWhenNoAllowance() public {
        IMarketplace.Permit memory permit = _signUsdPermit(USD_PRICE, block.timestamp);
        permit.r = bytes32(uint256(permit.r) ^ 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(marketplace), 0, USD_PRICE
            )
        );
        vm.prank(buyer);
        marketplace.buyWithPermit(usdAsset, 1, address(usd), USD_PRICE, permit);
    }

    // ---------------------------------------------------------------- buyAndConsume

    function test_buyAndConsume_withEthRecordsOrder() public {
        vm.expectEmit(address(ethToken));
        emit IAccessToken.AccessConsumed(1, buyer, provider, 0);
        vm.prank(buyer);
        uint256 orderId =
            marketplace.buyAndConsume{value: ETH_PRICE}(ethAsset, provider, address(0), ETH_PRICE);
        assertEq(orderId, 1);
        assertEq(ethToken.balanceOf(buyer), 0);
        assertEq(ethToken.ordersIssued(), 1);
        assertEq(address(splitter).balance, ETH_PRICE);
    }

    function test_buyAndConsume_revertsWhenProviderZero() public {
        vm.expectRevert(IAccessToken.AccessToken__ZeroProvider.selector);
        vm.prank(buyer);
        marketplace.buyAndConsume{value: ETH_PRICE}(ethAsset, address(0), address(0), ETH_PRICE);
    }

    function test_buyAndConsume_revertsWhenPriceAboveMax() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__PriceAboveMax.selector, ethAsset, ETH_PRICE, ETH_PRICE - 1
            )
        );
        vm.prank(buyer);
        marketplace.buyAndConsume{value: ETH_PRICE}(ethAsset, provider, address(0), ETH_PRICE - 1);
    }

    function test_buyAndConsume_revertsWhenEthValueWrong() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__WrongValue.selector, 0, ETH_PRICE));
        vm.prank(buyer);
        marketplace.buyAndConsume(ethAsset, provider, address(0), ETH_PRICE);
    }

    function test_buyAndConsumeWithPermit_paysAndRecordsOrder() public {
        IMarketplace.Permit memory permit = _signUsdPermit(USD_PRICE, block.timestamp);
        vm.expectEmit(address(usdToken));
        emit IAccessToken.AccessConsumed(1, buyer, provider, 0);
        vm.prank(buyer);
        uint256 orderId =
            marketplace.buyAndConsumeWithPermit(usdAsset, provider, address(usd), USD_PRICE, permit);
        assertEq(orderId, 1);
        assertEq(usd.balanceOf(address(splitter)), USD_PRICE);
        assertEq(usdToken.totalSupply(), 0);
    }

    // ---------------------------------------------------------------- free tier

    function test_buy_freeTierCapsPerAddress() public {
        vm.prank(alice);
        marketplace.setListing(ethAsset, address(0), ETH_PRICE, 2);

        (uint256 cost, uint256 freeAmount) = marketplace.quote(ethAsset, buyer, 3);
        assertEq(cost, ETH_PRICE);
        assertEq(freeAmount, 2);

        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(ethAsset, buyer, address(0), 1, 1, 0, 0);
        vm.prank(buyer);
        marketplace.buy(ethAsset, 1, address(0), ETH_PRICE);

        vm.prank(buyer);
        marketplace.buy{value: ETH_PRICE}(ethAsset, 2, address(0), ETH_PRICE);
        assertEq(marketplace.freeClaimed(ethAsset, buyer), 2);
        assertEq(ethToken.balanceOf(buyer), 3);

        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__WrongValue.selector, 0, ETH_PRICE));
        vm.prank(buyer);
        marketplace.buy(ethAsset, 1, address(0), ETH_PRICE);

        // Another address has its own free tier.
        vm.prank(carol);
        marketplace.buy(ethAsset, 2, address(0), ETH_PRICE);
        assertEq(ethToken.balanceOf(carol), 2);
    }

    // ---------------------------------------------------------------- delist / relist

    function test_delist_emitsAndMarksListing() public {
        vm.expectEmit(address(marketplace));
        emit IMarketplace.AssetDelisted(ethAsset, REASON);
        vm.prank(address(timelock));
        marketplace.delist(ethAsset, REASON);
        assertTrue(marketplace.getListing(ethAsset).delisted);
        assertEq(registry.ownerOf(ethAsset), alice);
    }

    function test_delist_revertsWhenNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        marketplace.delist(ethAsset, REASON);
    }

    function test_delist_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__UnknownAsset.selector, 99));
        vm.prank(address(timelock));
        marketplace.delist(99, REASON);
    }

    function test_delist_revertsWhenAlreadyDelisted() public {
        vm.startPrank(address(timelock));
        marketplace.delist(ethAsset, REASON);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__Delisted.selector, ethAsset));
        marketplace.delist(ethAsset, REASON);
        vm.stopPrank();
    }

    function test_delist_revertsWhenReasonInvalid() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__InvalidReason.selector, 0));
        marketplace.delist(ethAsset, "");
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__InvalidReason.selector, 129));
        marketplace.delist(ethAsset, string(new bytes(129)));
        vm.stopPrank();
    }

    function test_relist_emitsAndClearsDelisted() public {
        vm.startPrank(address(timelock));
        marketplace.delist(ethAsset, REASON);
        vm.expectEmit(address(marketplace));
        emit IMarketplace.AssetRelisted(ethAsset, REASON);
        marketplace.relist(ethAsset, REASON);
        vm.stopPrank();
        assertFalse(marketplace.getListing(ethAsset).delisted);
    }

    function test_relist_revertsWhenNotOwner() public {
        vm.prank(address(timelock));
        marketplace.delist(ethAsset, REASON);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        marketplace.relist(ethAsset, REASON);
    }

    function test_relist_revertsWhenNotDelisted() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__NotDelisted.selector, ethAsset));
        vm.prank(address(timelock));
        marketplace.relist(ethAsset, REASON);
    }

    function test_relist_revertsWhenUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__UnknownAsset.selector, 99));
        vm.prank(address(timelock));
        marketplace.relist(99, REASON);
    }

    function test_relist_revertsWhenReasonInvalid() public {
        vm.startPrank(address(timelock));
        marketplace.delist(ethAsset, REASON);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__InvalidReason.selector, 0));
        marketplace.relist(ethAsset, "");
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- fees

    function test_setProtocolFee_updatesAndEmits() public {
        vm.expectEmit(address(marketplace));
        emit IMarketplace.ProtocolFeeUpdated(FEE_BPS, 1000);
        vm.prank(address(timelock));
        marketplace.setProtocolFee(1000);
        assertEq(marketplace.protocolFeeBps(), 1000);
    }

    function test_setProtocolFee_revertsWhenAboveMax() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__FeeTooHigh.selector, 1001, 1000));
        vm.prank(address(timelock));
        marketplace.setProtocolFee(1001);
    }

    function test_setProtocolFee_revertsWhenNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        marketplace.setProtocolFee(0);
    }

    function test_setFeeRecipient_updatesAndEmits() public {
        vm.expectEmit(address(marketplace));
        emit IMarketplace.FeeRecipientUpdated(address(timelock), carol);
        vm.prank(address(timelock));
        marketplace.setFeeRecipient(carol);
        assertEq(marketplace.feeRecipient(), carol);
    }

    function test_setFeeRecipient_revertsWhenZero() public {
        vm.expectRevert(IMarketplace.Marketplace__ZeroAddress.selector);
        vm.prank(address(timelock));
        marketplace.setFeeRecipient(address(0));
    }

    function test_setFeeRecipient_revertsWhenNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        marketplace.setFeeRecipient(alice);
    }

    // ---------------------------------------------------------------- currency allow-list

    function test_constructor_allowsInitialCurrencies() public {
        address[] memory currencies = new address[](1);
        currencies[0] = address(usd);
        vm.expectEmit();
        emit IMarketplace.CurrencyAllowed(address(usd));
        Marketplace other =
            new Marketplace(address(registry), address(timelock), address(timelock), 0, currencies);
        assertTrue(other.isCurrencyAllowed(address(usd)));
        assertTrue(other.isCurrencyAllowed(address(0)));
        assertFalse(other.isCurrencyAllowed(address(ethToken)));
    }

    function test_constructor_revertsWhenInitialCurrencyHasNoCode() public {
        address[] memory currencies = new address[](1);
        currencies[0] = makeAddr("not a token");
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__CurrencyHasNoCode.selector, currencies[0])
        );
        new Marketplace(address(registry), address(timelock), address(timelock), 0, currencies);
    }

    function test_isCurrencyAllowed_ethAlwaysAndErc20sOnlyWhenAllowed() public {
        assertTrue(marketplace.isCurrencyAllowed(address(0)));
        assertTrue(marketplace.isCurrencyAllowed(address(usd)));
        assertFalse(marketplace.isCurrencyAllowed(address(ethToken)));
        assertFalse(marketplace.isCurrencyAllowed(makeAddr("not a token")));
    }

    function test_allowCurrency_allowsAndEmits() public {
        vm.expectEmit(address(marketplace));
        emit IMarketplace.CurrencyAllowed(address(ethToken));
        vm.prank(address(timelock));
        marketplace.allowCurrency(address(ethToken));
        assertTrue(marketplace.isCurrencyAllowed(address(ethToken)));
    }

    function test_allowCurrency_revertsWhenNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        marketplace.allowCurrency(address(ethToken));
    }

    function test_allowCurrency_revertsWhenEth() public {
        vm.expectRevert(IMarketplace.Marketplace__ZeroAddress.selector);
        vm.prank(address(timelock));
        marketplace.allowCurrency(address(0));
    }

    function test_allowCurrency_revertsWhenNoCode() public {
        address nothing = makeAddr("not a token");
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__CurrencyHasNoCode.selector, nothing));
        vm.prank(address(timelock));
        marketplace.allowCurrency(nothing);
    }

    function test_disallowCurrency_disallowsAndEmits() public {
        vm.expectEmit(address(marketplace));
        emit IMarketplace.CurrencyDisallowed(address(usd));
        vm.prank(address(timelock));
        marketplace.disallowCurrency(address(usd));
        assertFalse(marketplace.isCurrencyAllowed(address(usd)));
    }

    function test_disallowCurrency_revertsWhenNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        marketplace.disallowCurrency(address(usd));
    }

    function test_disallowCurrency_revertsWhenEth() public {
        vm.expectRevert(IMarketplace.Marketplace__ZeroAddress.selector);
        vm.prank(address(timelock));
        marketplace.disallowCurrency(address(0));
    }

    function test_initListing_revertsWhenCurrencyNotAllowed() public {
        address nothing = makeAddr("not a token");
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__CurrencyNotAllowed.selector, nothing)
        );
        vm.prank(alice);
        registry.publish(_params(alice, nothing, 1));
    }

    function test_setListing_revertsWhenCurrencyNotAllowed() public {
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__CurrencyNotAllowed.selector, address(ethToken))
        );
        vm.prank(alice);
        marketplace.setListing(ethAsset, address(ethToken), 1, 0);
    }

    /// @dev Disallowing changes no existing listing and locks nothing: the listing keeps selling, its
    /// revenue and fees release; only new terms in the currency are refused.
    function test_disallowCurrency_keepsExistingListingSellingAndReleasing() public {
        vm.prank(address(timelock));
        marketplace.disallowCurrency(address(usd));

        vm.startPrank(buyer);
        usd.approve(address(marketplace), USD_PRICE);
        marketplace.buy(usdAsset, 1, address(usd), USD_PRICE);
        vm.stopPrank();
        assertEq(usdToken.balanceOf(buyer), 1);
        uint256 fee = uint256(USD_PRICE) * FEE_BPS / 10_000;
        assertEq(splitter.release(usdAsset, address(usd), alice), USD_PRICE - fee);
        assertEq(splitter.releaseFees(address(usd)), fee);
        assertEq(usd.balanceOf(address(splitter)), 0);

        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.Marketplace__CurrencyNotAllowed.selector, address(usd))
        );
        vm.prank(alice);
        marketplace.setListing(usdAsset, address(usd), USD_PRICE, 0);
        vm.prank(alice);
        marketplace.setListing(usdAsset, address(0), ETH_PRICE, 0);
        assertEq(marketplace.getListing(usdAsset).currency, address(0));
    }

    function testFuzz_setListing_acceptsOnlyAllowedCurrencies(address currency) public {
        bool allowed = currency == address(0) || currency == address(usd);
        if (!allowed) {
            vm.expectRevert(
                abi.encodeWithSelector(IMarketplace.Marketplace__CurrencyNotAllowed.selector, currency)
            );
        }
        vm.prank(alice);
        marketplace.setListing(ethAsset, currency, 1, 0);
        if (allowed) assertEq(marketplace.getListing(ethAsset).currency, currency);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_buy_feeMath(uint80 price, uint256 amount, uint16 feeBps) public {
        price = uint80(bound(price, 1, 1e24));
        amount = bound(amount, 1, 100);
        feeBps = uint16(bound(feeBps, 0, marketplace.MAX_FEE_BPS()));
        vm.prank(address(timelock));
        marketplace.setProtocolFee(feeBps);
        vm.prank(alice);
        marketplace.setListing(ethAsset, address(0), price, 0);

        uint256 cost = uint256(price) * amount;
        vm.deal(buyer, cost);
        vm.prank(buyer);
        uint256 paid = marketplace.buy{value: cost}(ethAsset, amount, address(0), price);

        uint256 fee = cost * feeBps / 10_000;
        assertEq(paid, cost);
        assertEq(splitter.accruedFees(address(0)), fee);
        assertEq(splitter.totalReceived(ethAsset, address(0)), cost - fee);
        assertEq(address(splitter).balance, cost);
        assertEq(ethToken.balanceOf(buyer), amount);
    }

    function testFuzz_buy_freeTierArithmetic(uint8 freePerAddress, uint8 first, uint8 second, uint80 price)
        public
    {
        first = uint8(bound(first, 1, 255));
        second = uint8(bound(second, 1, 255));
        price = uint80(bound(price, 0, 1e12));
        vm.prank(alice);
        marketplace.setListing(usdAsset, address(usd), price, freePerAddress);
        usd.mint(buyer, type(uint96).max);
        vm.prank(buyer);
        usd.approve(address(marketplace), type(uint256).max);

        uint256 free1 = first < freePerAddress ? first : freePerAddress;
        uint256 left = freePerAddress - free1;
        uint256 free2 = second < left ? second : left;

        (uint256 quoted,) = marketplace.quote(usdAsset, buyer, first);
        vm.prank(buyer);
        uint256 paid1 = marketplace.buy(usdAsset, first, address(usd), price);
        vm.prank(buyer);
        uint256 paid2 = marketplace.buy(usdAsset, second, address(usd), price);

        assertEq(quoted, paid1);
        assertEq(paid1, (first - free1) * uint256(price));
        assertEq(paid2, (second - free2) * uint256(price));
        assertEq(marketplace.freeClaimed(usdAsset, buyer), free1 + free2);
        assertLe(free1 + free2, freePerAddress);
        assertEq(usdToken.balanceOf(buyer), uint256(first) + second);
    }

    function testFuzz_buy_revertsWhenPriceAboveMax(uint80 price, uint256 maxPrice) public {
        price = uint80(bound(price, 1, type(uint80).max));
        maxPrice = bound(maxPrice, 0, price - 1);
        vm.prank(alice);
        marketplace.setListing(ethAsset, address(0), price, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__PriceAboveMax.selector, ethAsset, price, maxPrice
            )
        );
        vm.prank(buyer);
        marketplace.buy(ethAsset, 1, address(0), maxPrice);
    }

    // ---------------------------------------------------------------- helpers

    function _signUsdPermit(uint256 value, uint256 deadline)
        internal
        view
        returns (IMarketplace.Permit memory p)
    {
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, buyer, address(marketplace), value, usd.nonces(buyer), deadline)
        );
        (p.v, p.r, p.s) =
            vm.sign(buyerKey, keccak256(abi.encodePacked("\x19\x01", usd.DOMAIN_SEPARATOR(), structHash)));
        p.value = value;
        p.deadline = deadline;
    }
}
