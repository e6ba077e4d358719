// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {IAccessToken} from "../src/interfaces/IAccessToken.sol";
import {IAssetRegistry} from "../src/interfaces/IAssetRegistry.sol";

contract AccessTokenTest is ProtocolFixture {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    uint256 internal assetId;
    AccessToken internal token;

    function setUp() public override {
        super.setUp();
        (assetId, token) = _publish(_params(alice, address(0), 1 ether));
    }

    // ---------------------------------------------------------------- metadata

    function test_metadata_namesTheAsset() public view {
        assertEq(token.name(), "Agora Access #1");
        assertEq(token.symbol(), "AGA-1");
        assertEq(token.decimals(), 0);
        assertEq(token.assetId(), assetId);
    }

    // ---------------------------------------------------------------- mint

    function test_mint_mintsForMarketplace() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(0), bob, 3);
        vm.prank(address(marketplace));
        token.mint(bob, 3);
        assertEq(token.balanceOf(bob), 3);
        assertEq(token.totalSupply(), 3);
    }

    function test_mint_revertsWhenNotMarketplace() public {
        vm.expectRevert(abi.encodeWithSelector(IAccessToken.AccessToken__NotMarketplace.selector, bob));
        vm.prank(bob);
        token.mint(bob, 1);
    }

    function test_mint_revertsWhenReceiverZero() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(address(marketplace));
        token.mint(address(0), 1);
    }

    // ---------------------------------------------------------------- grant

    function test_grant_mintsForFreeAndEmits() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(0), bob, 2);
        vm.expectEmit(address(token));
        emit IAccessToken.AccessGranted(bob, 2);
        vm.prank(alice);
        token.grant(bob, 2);
        assertEq(token.balanceOf(bob), 2);
    }

    function test_grant_revertsWhenNotAssetOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IAccessToken.AccessToken__NotAssetOwner.selector, bob, alice));
        vm.prank(bob);
        token.grant(bob, 1);
    }

    function test_grant_revertsWhenInvalidGrant() public {
        vm.startPrank(alice);
        vm.expectRevert(IAccessToken.AccessToken__InvalidGrant.selector);
        token.grant(address(0), 1);
        vm.expectRevert(IAccessToken.AccessToken__InvalidGrant.selector);
        token.grant(bob, 0);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- consume

    function test_consume_singleUseOrderHasNoExpiry() public {
        _grant(bob, 2);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(bob, address(0), 1);
        vm.expectEmit(address(token));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.prank(bob);
        uint256 orderId = token.consume(provider);

        assertEq(orderId, 1);
        assertEq(token.balanceOf(bob), 1);
        assertEq(token.totalSupply(), 1);
        assertEq(token.ordersIssued(), 1);
    }

    function test_consume_timedOrderExpiresAfterDuration() public {
        vm.prank(alice);
        registry.setAccessDuration(assetId, 7 days);
        _grant(bob, 1);
        vm.warp(1_700_000_000);
        vm.expectEmit(address(token));
        emit IAccessToken.AccessConsumed(1, bob, provider, 1_700_000_000 + 7 days);
        vm.prank(bob);
        token.consume(provider);
    }

    function test_consume_revertsWhenBalanceZero() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, bob, 0, 1));
        vm.prank(bob);
        token.consume(provider);
    }

    function test_consume_revertsWhenProviderZero() public {
        _grant(bob, 1);
        vm.expectRevert(IAccessToken.AccessToken__ZeroProvider.selector);
        vm.prank(bob);
        token.consume(address(0));
    }

    function test_consume_transferredTokenServesNewHolderOnce() public {
        _grant(bob, 1);
        vm.prank(bob);
        assertTrue(token.transfer(carol, 1));

        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, bob, 0, 1));
        vm.prank(bob);
        token.consume(provider);

        vm.prank(carol);
        assertEq(token.consume(provider), 1);

        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, carol, 0, 1));
        vm.prank(carol);
        token.consume(provider);
    }

    // ---------------------------------------------------------------- consumeFor / mintAndConsume

    function test_consumeFor_spendsConsumerTokenForComputeMarket() public {
        _grant(bob, 1);
        vm.expectEmit(address(token));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.prank(address(compute));
        assertEq(token.consumeFor(bob, provider), 1);
        assertEq(token.balanceOf(bob), 0);
    }

    function test_consumeFor_revertsWhenNotComputeMarket() public {
        _grant(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessToken.AccessToken__NotComputeMarket.selector, bob));
        vm.prank(bob);
        token.consumeFor(bob, provider);
    }

    function test_mintAndConsume_recordsOrderWithoutBalance() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(0), bob, 1);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(bob, address(0), 1);
        vm.expectEmit(address(token));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.prank(address(marketplace));
        assertEq(token.mintAndConsume(bob, provider), 1);
        assertEq(token.balanceOf(bob), 0);
        assertEq(token.totalSupply(), 0);
        assertEq(token.ordersIssued(), 1);
    }

    function test_mintAndConsume_revertsWhenNotMarketplace() public {
        vm.expectRevert(abi.encodeWithSelector(IAccessToken.AccessToken__NotMarketplace.selector, bob));
        vm.prank(bob);
        token.mintAndConsume(bob, provider);
    }

    // ---------------------------------------------------------------- setAccessDuration

    function test_setAccessDuration_revertsWhenNotRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(IAccessToken.AccessToken__NotRegistry.selector, alice));
        vm.prank(alice);
        token.setAccessDuration(1);
    }

    // ---------------------------------------------------------------- ERC-20

    function test_transfer_movesTokensAndEmits() public {
        _grant(bob, 3);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(bob, carol, 2);
        vm.prank(bob);
        assertTrue(token.transfer(carol, 2));
        assertEq(token.balanceOf(bob), 1);
        assertEq(token.balanceOf(carol), 2);
    }

    function test_transfer_revertsWhenBalanceTooLow() public {
        _grant(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, bob, 1, 2));
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(carol, 2);
    }

    function test_transfer_revertsWhenReceiverZero() public {
        _grant(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(address(0), 1);
    }

    function test_transferFrom_spendsAllowance() public {
        _grant(bob, 3);
        vm.expectEmit(address(token));
        emit IERC20.Approval(bob, carol, 2);
        vm.prank(bob);
        token.approve(carol, 2);
        vm.prank(carol);
        assertTrue(token.transferFrom(bob, carol, 2));
        assertEq(token.allowance(bob, carol), 0);
        assertEq(token.balanceOf(carol), 2);
    }

    function test_transferFrom_keepsInfiniteAllowance() public {
        _grant(bob, 3);
        vm.prank(bob);
        token.approve(carol, type(uint256).max);
        vm.prank(carol);
        assertTrue(token.transferFrom(bob, carol, 2));
        assertEq(token.allowance(bob, carol), type(uint256).max);
    }

    function test_transferFrom_revertsWhenAllowanceTooLow() public {
        _grant(bob, 3);
        vm.prank(bob);
        token.approve(carol, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, carol, 1, 2));
        vm.prank(carol);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(bob, carol, 2);
    }

    function test_transferFrom_revertsWhenSenderZero() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidSender.selector, address(0)));
        vm.prank(carol);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(address(0), carol, 0);
    }

    function test_approve_revertsWhenSpenderZero() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidSpender.selector, address(0)));
        vm.prank(bob);
        token.approve(address(0), 1);
    }

    // ---------------------------------------------------------------- permit

    function test_permit_usesAgoraAccessDomainPerClone() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("Agora Access"),
                keccak256("1"),
                block.chainid,
                address(token)
            )
        );
        assertEq(token.DOMAIN_SEPARATOR(), expected);
    }

    function test_permit_setsAllowanceAndBumpsNonce() public {
        (address owner, uint256 key) = makeAddrAndKey("holder");
        _grant(owner, 2);
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(token, key, owner, carol, 2, 0, block.timestamp);

        vm.expectEmit(address(token));
        emit IERC20.Approval(owner, carol, 2);
        token.permit(owner, carol, 2, block.timestamp, v, r, s);
        assertEq(token.allowance(owner, carol), 2);
        assertEq(token.nonces(owner), 1);

        vm.prank(carol);
        assertTrue(token.transferFrom(owner, carol, 2));
        assertEq(token.balanceOf(carol), 2);
    }

    function test_permit_revertsWhenSignedForAnotherClone() public {
        (, AccessToken other) = _publish(_params(bob, address(0), 1));
        (address owner, uint256 key) = makeAddrAndKey("holder");
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(token, key, owner, carol, 2, 0, block.timestamp);

        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, carol, 2, 0, block.timestamp));
        address recovered =
            ecrecover(keccak256(abi.encodePacked("\x19\x01", other.DOMAIN_SEPARATOR(), structHash)), v, r, s);
        vm.expectRevert(abi.encodeWithSelector(AccessToken.ERC2612InvalidSigner.selector, recovered, owner));
        other.permit(owner, carol, 2, block.timestamp, v, r, s);
    }

    function test_permit_revertsWhenReplayed() public {
        (address owner, uint256 key) = makeAddrAndKey("holder");
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(token, key, owner, carol, 2, 0, block.timestamp);
        token.permit(owner, carol, 2, block.timestamp, v, r, s);

        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, carol, 2, 1, block.timestamp));
        address recovered =
            ecrecover(keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)), v, r, s);
        vm.expectRevert(abi.encodeWithSelector(AccessToken.ERC2612InvalidSigner.selector, recovered, owner));
        token.permit(owner, carol, 2, block.timestamp, v, r, s);
    }

    function test_permit_revertsWhenExpired() public {
        (address owner, uint256 key) = makeAddrAndKey("holder");
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(token, key, owner, carol, 2, 0, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(AccessToken.ERC2612ExpiredSignature.selector, deadline));
        token.permit(owner, carol, 2, deadline, v, r, s);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_consume_supplyTracksMintsMinusOrders(uint8 granted, uint8 consumed) public {
        granted = uint8(bound(granted, 1, 50));
        consumed = uint8(bound(consumed, 0, granted));
        _grant(bob, granted);
        for (uint256 i; i < consumed; ++i) {
            vm.prank(bob);
            token.consume(provider);
        }
        assertEq(token.balanceOf(bob), uint256(granted) - consumed);
        assertEq(token.totalSupply(), uint256(granted) - consumed);
        assertEq(token.ordersIssued(), consumed);
    }

    function testFuzz_consume_expiryIsTimestampPlusDuration(uint32 duration, uint64 timestamp) public {
        timestamp = uint64(bound(timestamp, 1, type(uint64).max - type(uint32).max));
        vm.prank(alice);
        registry.setAccessDuration(assetId, duration);
        _grant(bob, 1);
        vm.warp(timestamp);
        vm.expectEmit(address(token));
        emit IAccessToken.AccessConsumed(1, bob, provider, duration == 0 ? 0 : timestamp + duration);
        vm.prank(bob);
        token.consume(provider);
    }

    // ---------------------------------------------------------------- helpers

    function _grant(address to, uint256 amount) internal {
        vm.prank(alice);
        token.grant(to, amount);
    }

    function _signPermit(
        AccessToken t,
        uint256 key,
        address owner,
        address spender,
        uint256 value,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonce, deadline));
        return vm.sign(key, keccak256(abi.encodePacked("\x19\x01", t.DOMAIN_SEPARATOR(), structHash)));
    }
}
