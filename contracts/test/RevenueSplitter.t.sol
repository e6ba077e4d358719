// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {ReentrantERC20} from "./mocks/ReentrantERC20.sol";
import {ReentrantReceiver} from "./mocks/ReentrantReceiver.sol";
import {RejectingReceiver} from "./mocks/RejectingReceiver.sol";
import {RevenueSplitter} from "../src/RevenueSplitter.sol";
import {IRevenueSplitter} from "../src/interfaces/IRevenueSplitter.sol";
import {IAssetRegistry} from "../src/interfaces/IAssetRegistry.sol";

contract RevenueSplitterTest is ProtocolFixture {
    uint256 internal assetId;

    function setUp() public override {
        super.setUp();
        (assetId,) = _publish(_params(alice, address(0), 1 ether));
    }

    // ---------------------------------------------------------------- access control

    function test_initSplit_revertsWhenNotRegistry() public {
        (address[] memory r, uint16[] memory b) = _one(bob);
        vm.expectRevert(abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__NotRegistry.selector, alice));
        vm.prank(alice);
        splitter.initSplit(assetId, r, b);
    }

    function test_deposit_revertsWhenNotMarketplace() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__NotMarketplace.selector, alice)
        );
        vm.prank(alice);
        splitter.deposit(assetId, address(usd), 1, 0);
    }

    function test_deposit_revertsWhenEthValueWrong() public {
        vm.deal(address(marketplace), 1);
        vm.expectRevert(abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__WrongValue.selector, 1, 3));
        vm.prank(address(marketplace));
        splitter.deposit{value: 1}(assetId, address(0), 2, 1);
    }

    function test_deposit_revertsWhenTooManyCurrencies() public {
        vm.startPrank(address(marketplace));
        for (uint160 i = 1; i <= splitter.MAX_CURRENCIES(); ++i) {
            splitter.deposit(assetId, address(i), 1, 0);
        }
        assertEq(splitter.currenciesOf(assetId).length, 16);
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__TooManyCurrencies.selector, assetId)
        );
        splitter.deposit(assetId, address(100), 1, 0);
        vm.stopPrank();
    }

    function test_setSplit_revertsWhenNotAssetOwner() public {
        (address[] memory r, uint16[] memory b) = _one(bob);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRevenueSplitter.RevenueSplitter__NotAssetOwner.selector, assetId, bob, alice
            )
        );
        vm.prank(bob);
        splitter.setSplit(assetId, r, b);
    }

    // ---------------------------------------------------------------- split validation

    function test_setSplit_revertsWhenEmpty() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__InvalidSplitLength.selector, 0, 0)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, new address[](0), new uint16[](0));
    }

    function test_setSplit_revertsWhenLengthsDiffer() public {
        (address[] memory r,) = _three(5000, 3000, 2000);
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__InvalidSplitLength.selector, 3, 2)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, r, new uint16[](2));
    }

    function test_setSplit_revertsWhenTooManyRecipients() public {
        address[] memory r = new address[](65);
        uint16[] memory b = new uint16[](65);
        for (uint160 i; i < 65; ++i) {
            r[i] = address(i + 1);
            b[i] = 1;
        }
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__InvalidSplitLength.selector, 65, 65)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
    }

    function test_setSplit_revertsWhenUnsorted() public {
        (address[] memory r, uint16[] memory b) = _three(5000, 3000, 2000);
        (r[1], r[2]) = (r[2], r[1]);
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__RecipientsNotSorted.selector, 2)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
    }

    function test_setSplit_revertsWhenDuplicate() public {
        (address[] memory r, uint16[] memory b) = _three(5000, 3000, 2000);
        r[2] = r[1];
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__RecipientsNotSorted.selector, 2)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
    }

    function test_setSplit_revertsWhenRecipientZero() public {
        (address[] memory r, uint16[] memory b) = _three(5000, 3000, 2000);
        r[0] = address(0);
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__RecipientsNotSorted.selector, 0)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
    }

    function test_setSplit_revertsWhenShareZero() public {
        (address[] memory r, uint16[] memory b) = _three(5000, 5000, 0);
        vm.expectRevert(abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__ZeroShare.selector, 2));
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
    }

    function test_setSplit_revertsWhenSharesNotFull() public {
        (address[] memory r, uint16[] memory b) = _three(5000, 3000, 1999);
        vm.expectRevert(
            abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__SharesNotFull.selector, 9999)
        );
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
    }

    // ---------------------------------------------------------------- release

    function test_release_paysThreeRecipientsExactly() public {
        (address[] memory r, uint16[] memory b) = _three(5000, 3000, 2000);
        vm.expectEmit(address(splitter));
        emit IRevenueSplitter.SplitUpdated(assetId, r, b);
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);

        _buyEth(10); // 10 ether gross
        uint256 net = 10 ether - 10 ether * uint256(FEE_BPS) / 10_000;
        uint256[3] memory expected = [net * 5000 / 10_000, net * 3000 / 10_000, net * 2000 / 10_000];
        for (uint256 i; i < 3; ++i) {
            assertEq(splitter.releasable(assetId, address(0), r[i]), expected[i]);
            vm.expectEmit(address(splitter));
            emit IRevenueSplitter.Released(assetId, address(0), r[i], expected[i]);
            assertEq(splitter.release(assetId, address(0), r[i]), expected[i]);
            assertEq(r[i].balance, expected[i]);
        }
        assertEq(splitter.totalReleased(assetId, address(0)), net);
    }

    function test_settle_givesDustToFirstRecipient() public {
        (address[] memory r, uint16[] memory b) = _three(3334, 3333, 3333);
        vm.startPrank(alice);
        splitter.setSplit(assetId, r, b);
        marketplace.setListing(assetId, address(0), 10, 0); // fee rounds to 0 on 10 wei
        vm.stopPrank();
        vm.deal(bob, 10);
        vm.prank(bob);
        marketplace.buy{value: 10}(assetId, 1, address(0), 10);

        // While the split is in force everyone's share is rounded down...
        assertEq(splitter.releasable(assetId, address(0), r[0]), 3);
        assertEq(splitter.releasable(assetId, address(0), r[1]), 3);
        assertEq(splitter.releasable(assetId, address(0), r[2]), 3);
        // ...and anyone can settle, crediting the dust to the first recipient.
        vm.expectEmit(true, true, true, true, address(splitter));
        emit IRevenueSplitter.RevenueSettled(assetId);
        vm.prank(carol);
        splitter.settle(assetId);
        assertEq(splitter.releasable(assetId, address(0), r[0]), 4);
        assertEq(splitter.releasable(assetId, address(0), r[1]), 3);
        assertEq(splitter.releasable(assetId, address(0), r[2]), 3);
        assertEq(splitter.totalReceived(assetId, address(0)), 10);
    }

    function test_settle_revertsForUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IRevenueSplitter.RevenueSplitter__NoSplit.selector, 999));
        splitter.settle(999);
    }

    function test_release_revertsWhenNothingToRelease() public {
        _buyEth(1);
        splitter.release(assetId, address(0), alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRevenueSplitter.RevenueSplitter__NothingToRelease.selector, assetId, address(0), alice
            )
        );
        splitter.release(assetId, address(0), alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRevenueSplitter.RevenueSplitter__NothingToRelease.selector, assetId, address(0), bob
            )
        );
        splitter.release(assetId, address(0), bob);
    }

    function test_release_paysErc20() public {
        (uint256 usdAsset,) = _publish(_params(alice, address(usd), 100e6));
        usd.mint(bob, 100e6);
        vm.startPrank(bob);
        usd.approve(address(marketplace), 100e6);
        marketplace.buy(usdAsset, 1, address(usd), 100e6);
        vm.stopPrank();

        uint256 net = 100e6 - 100e6 * uint256(FEE_BPS) / 10_000;
        assertEq(splitter.release(usdAsset, address(usd), alice), net);
        assertEq(usd.balanceOf(alice), net);
        address[] memory currencies = splitter.currenciesOf(usdAsset);
        assertEq(currencies.length, 1);
        assertEq(currencies[0], address(usd));
    }

    function test_setSplit_settlesWhatOldRecipientsWereOwed() public {
        _buyEth(1);
        uint256 net = 1 ether - 1 ether * uint256(FEE_BPS) / 10_000;
        (address[] memory r, uint16[] memory b) = _two(bob, carol, 6000, 4000);
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);

        assertEq(splitter.releasable(assetId, address(0), alice), net);
        assertEq(splitter.releasable(assetId, address(0), r[0]), 0);

        _buyEth(1);
        assertEq(splitter.releasable(assetId, address(0), alice), net);
        assertEq(splitter.releasable(assetId, address(0), r[0]), net * 6000 / 10_000);
        assertEq(splitter.releasable(assetId, address(0), r[1]), net * 4000 / 10_000);

        splitter.release(assetId, address(0), alice);
        assertEq(alice.balance, net);
    }

    function test_setSplit_keepsPartlyReleasedRecipientWhole() public {
        (address[] memory r, uint16[] memory b) = _two(alice, bob, 5000, 5000);
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
        _buyEth(2);
        uint256 net = 2 ether - 2 ether * uint256(FEE_BPS) / 10_000;
        splitter.release(assetId, address(0), r[0]);

        (address[] memory r2, uint16[] memory b2) = _one(carol);
        vm.prank(alice);
        splitter.setSplit(assetId, r2, b2);
        _buyEth(2);

        assertEq(splitter.releasable(assetId, address(0), r[0]), 0);
        assertEq(splitter.releasable(assetId, address(0), r[1]), net / 2);
        assertEq(splitter.releasable(assetId, address(0), carol), net);
    }

    function test_releaseFees_paysTimelock() public {
        _buyEth(4);
        uint256 fee = 4 ether * uint256(FEE_BPS) / 10_000;
        vm.expectEmit(address(splitter));
        emit IRevenueSplitter.FeesReleased(address(0), address(timelock), fee);
        assertEq(splitter.releaseFees(address(0)), fee);
        assertEq(address(timelock).balance, fee);
        assertEq(splitter.accruedFees(address(0)), 0);

        vm.expectRevert(
            abi.encodeWithSelector(
                IRevenueSplitter.RevenueSplitter__NothingToRelease.selector, 0, address(0), address(0)
            )
        );
        splitter.releaseFees(address(0));
    }

    // ---------------------------------------------------------------- hostile recipients and tokens

    function test_release_blocksReentrantReceiver() public {
        ReentrantReceiver evil = new ReentrantReceiver(splitter);
        evil.arm(assetId);
        (address[] memory r, uint16[] memory b) = _two(address(evil), bob, 5000, 5000);
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
        _buyEth(2);
        uint256 share = (2 ether - 2 ether * uint256(FEE_BPS) / 10_000) / 2;

        splitter.release(assetId, address(0), address(evil));

        assertTrue(evil.reentered());
        assertFalse(evil.reentrySucceeded());
        assertEq(
            evil.reentryError(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
        assertEq(evil.received(), share);
        assertEq(splitter.releasable(assetId, address(0), bob), share);
    }

    function test_release_rejectingReceiverOnlyBlocksItself() public {
        RejectingReceiver rejecting = new RejectingReceiver();
        (address[] memory r, uint16[] memory b) = _three(4000, 3000, 3000);
        r[1] = address(rejecting);
        (address[] memory sorted, uint16[] memory bps) = _sortThree(r, b);
        vm.prank(alice);
        splitter.setSplit(assetId, sorted, bps);
        _buyEth(1);

        vm.expectRevert(Errors.FailedCall.selector);
        splitter.release(assetId, address(0), address(rejecting));

        for (uint256 i; i < 3; ++i) {
            if (sorted[i] == address(rejecting)) continue;
            uint256 owed = splitter.releasable(assetId, address(0), sorted[i]);
            assertGt(owed, 0);
            splitter.release(assetId, address(0), sorted[i]);
            assertEq(sorted[i].balance, owed);
        }
    }

    function test_release_revertsWhenTokenReentersRelease() public {
        ReentrantERC20 evil = new ReentrantERC20();
        // Allowed by the DAO and hostile anyway (e.g. upgraded later): the market defends itself.
        _allowCurrency(address(evil));
        (uint256 evilAsset,) = _publish(_params(alice, address(evil), 1000));
        evil.mint(bob, 2000);
        vm.startPrank(bob);
        evil.approve(address(marketplace), 2000);
        marketplace.buy(evilAsset, 2, address(evil), 1000);
        vm.stopPrank();
        uint256 net = 2000 - 2000 * uint256(FEE_BPS) / 10_000;

        evil.arm(address(splitter), abi.encodeCall(splitter.release, (evilAsset, address(evil), alice)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        splitter.release(evilAsset, address(evil), alice);
        evil.arm(address(0), ""); // the revert also rolled back the token's one-shot disarm

        assertEq(evil.balanceOf(alice), 0);
        assertEq(splitter.releasable(evilAsset, address(evil), alice), net);
        splitter.release(evilAsset, address(evil), alice);
        assertEq(evil.balanceOf(alice), net);
    }

    /// @dev Regression: the first recipient's dust entitlement `total - Σ floor(others)` is not monotonic
    /// in `total` (shares [2, 4999, 4999]: 2 at total 2, 1 at total 3). Paid while the split was in
    /// force, it let an asset pay out more than it received; now it waits for settlement.
    function test_release_firstRecipientDustStaysMonotonic() public {
        (address[] memory r, uint16[] memory b) = _three(2, 4999, 4999);
        vm.startPrank(alice);
        splitter.setSplit(assetId, r, b);
        marketplace.setListing(assetId, address(0), 2, 0); // fee on 2 wei rounds to 0
        vm.stopPrank();
        vm.deal(bob, 3);
        vm.prank(bob);
        marketplace.buy{value: 2}(assetId, 1, address(0), 2);
        assertEq(splitter.releasable(assetId, address(0), r[0]), 0);
        splitter.settle(assetId);
        assertEq(splitter.release(assetId, address(0), r[0]), 2);

        vm.prank(alice);
        marketplace.setListing(assetId, address(0), 1, 0);
        vm.prank(bob);
        marketplace.buy{value: 1}(assetId, 1, address(0), 1);
        assertEq(splitter.releasable(assetId, address(0), r[0]), 0);
        splitter.settle(assetId);

        // Received 3 in all: what is still releasable is exactly what was not released.
        uint256 owed = splitter.releasable(assetId, address(0), r[0])
            + splitter.releasable(assetId, address(0), r[1]) + splitter.releasable(assetId, address(0), r[2]);
        assertEq(owed, 1);
        assertEq(owed + splitter.totalReleased(assetId, address(0)), 3);
    }

    // ---------------------------------------------------------------- fuzz

    /// @dev Deposits straight from the marketplace in ETH and mUSD, releases a random subset, changes the
    /// split to random shares, deposits again and releases everyone in a random order: per currency,
    /// released + held == received, and nothing stays releasable.
    function testFuzz_split_conservesValue(
        uint16[2] memory sharesA,
        uint16[2] memory sharesB,
        uint96[4] memory deposits,
        uint8 releaseMask,
        uint256 orderSeed
    ) public {
        address[4] memory people = [makeAddr("p0"), makeAddr("p1"), makeAddr("p2"), makeAddr("p3")];
        (address[] memory r1, uint16[] memory b1) = _randomSplit(people[0], people[1], people[2], sharesA);
        (address[] memory r2, uint16[] memory b2) = _randomSplit(people[1], people[2], people[3], sharesB);
        vm.prank(alice);
        splitter.setSplit(assetId, r1, b1);

        _deposit(address(0), deposits[0]);
        _deposit(address(usd), deposits[1]);
        for (uint256 i; i < 4; ++i) {
            if ((releaseMask >> i) & 1 == 1) _tryRelease(address(0), people[i]);
            if ((releaseMask >> (i + 4)) & 1 == 1) _tryRelease(address(usd), people[i]);
        }

        vm.prank(alice);
        splitter.setSplit(assetId, r2, b2);
        _deposit(address(0), deposits[2]);
        _deposit(address(usd), deposits[3]);
        splitter.settle(assetId); // credits the second epoch's rounding dust

        for (uint256 k; k < 4; ++k) {
            address who = people[(orderSeed % 4 + k) % 4];
            _tryRelease(address(0), who);
            _tryRelease(address(usd), who);
        }

        uint256 ethIn = uint256(deposits[0]) + deposits[2];
        uint256 usdIn = uint256(deposits[1]) + deposits[3];
        uint256 ethOut;
        uint256 usdOut;
        for (uint256 i; i < 4; ++i) {
            ethOut += people[i].balance;
            usdOut += usd.balanceOf(people[i]);
            assertEq(splitter.releasable(assetId, address(0), people[i]), 0);
            assertEq(splitter.releasable(assetId, address(usd), people[i]), 0);
        }
        assertEq(splitter.totalReceived(assetId, address(0)), ethIn);
        assertEq(splitter.totalReceived(assetId, address(usd)), usdIn);
        assertEq(ethOut + address(splitter).balance, ethIn);
        assertEq(usdOut + usd.balanceOf(address(splitter)), usdIn);
        assertEq(ethOut, ethIn);
        assertEq(usdOut, usdIn);
        assertEq(splitter.totalReleased(assetId, address(0)), ethOut);
    }

    function testFuzz_release_entitlementsSumToReceived(uint16[2] memory shares, uint96 amount) public {
        (address[] memory r, uint16[] memory b) =
            _randomSplit(makeAddr("p0"), makeAddr("p1"), makeAddr("p2"), shares);
        vm.prank(alice);
        splitter.setSplit(assetId, r, b);
        _deposit(address(0), amount);
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            uint256 owed = splitter.releasable(assetId, address(0), r[i]);
            assertEq(owed, uint256(amount) * b[i] / 10_000); // rounded down while the split is in force
            sum += owed;
        }
        assertLe(amount - sum, 2); // under one wei of dust per recipient but the first
        splitter.settle(assetId);
        sum = 0;
        for (uint256 i; i < 3; ++i) {
            uint256 owed = splitter.releasable(assetId, address(0), r[i]);
            if (i != 0) assertEq(owed, uint256(amount) * b[i] / 10_000);
            sum += owed;
        }
        assertEq(sum, amount);
    }

    // ---------------------------------------------------------------- helpers

    function _buyEth(uint256 amount) internal {
        uint256 cost = amount * 1 ether;
        vm.deal(carol, cost);
        vm.prank(carol);
        marketplace.buy{value: cost}(assetId, amount, address(0), 1 ether);
    }

    function _deposit(address currency, uint256 amount) internal {
        if (amount == 0) return;
        if (currency == address(0)) {
            vm.deal(address(marketplace), amount);
            vm.prank(address(marketplace));
            splitter.deposit{value: amount}(assetId, currency, amount, 0);
        } else {
            usd.mint(address(splitter), amount);
            vm.prank(address(marketplace));
            splitter.deposit(assetId, currency, amount, 0);
        }
    }

    function _tryRelease(address currency, address who) internal {
        if (splitter.releasable(assetId, currency, who) != 0) splitter.release(assetId, currency, who);
    }

    function _randomSplit(address x, address y, address z, uint16[2] memory shares)
        internal
        pure
        returns (address[] memory r, uint16[] memory b)
    {
        uint16 s1 = uint16(bound(shares[0], 1, 9998));
        uint16 s2 = uint16(bound(shares[1], 1, 9999 - s1));
        r = new address[](3);
        b = new uint16[](3);
        (r[0], r[1], r[2]) = (x, y, z);
        (b[0], b[1], b[2]) = (10_000 - s1 - s2, s1, s2);
        return _sortThree(r, b);
    }

    function _sortThree(address[] memory r, uint16[] memory b)
        internal
        pure
        returns (address[] memory, uint16[] memory)
    {
        for (uint256 i; i < 3; ++i) {
            for (uint256 j = i + 1; j < 3; ++j) {
                if (r[j] < r[i]) {
                    (r[i], r[j]) = (r[j], r[i]);
                    (b[i], b[j]) = (b[j], b[i]);
                }
            }
        }
        return (r, b);
    }

    function _one(address who) internal pure returns (address[] memory r, uint16[] memory b) {
        r = new address[](1);
        b = new uint16[](1);
        r[0] = who;
        b[0] = 10_000;
    }

    /// @dev Two recipients sorted by address; `bLo` goes to the lower address.
    function _two(address x, address y, uint16 bLo, uint16 bHi)
        internal
        pure
        returns (address[] memory r, uint16[] memory b)
    {
        r = new address[](2);
        b = new uint16[](2);
        (r[0], r[1]) = x < y ? (x, y) : (y, x);
        (b[0], b[1]) = (bLo, bHi);
    }

    /// @dev Three fresh recipients in ascending order, with shares in that order.
    function _three(uint16 b0, uint16 b1, uint16 b2)
        internal
        returns (address[] memory r, uint16[] memory b)
    {
        r = new address[](3);
        b = new uint16[](3);
        (r[0], r[1], r[2]) = (makeAddr("r0"), makeAddr("r1"), makeAddr("r2"));
        uint16[] memory unused = new uint16[](3);
        (r,) = _sortThree(r, unused);
        (b[0], b[1], b[2]) = (b0, b1, b2);
    }
}
