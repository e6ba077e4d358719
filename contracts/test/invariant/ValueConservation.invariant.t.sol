// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {stdError} from "forge-std/StdError.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {MarketplaceHandler} from "./handlers/MarketplaceHandler.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";

/// @notice Value conservation across the marketplace, the revenue splitter and, through `buyAndOpenJob`, the
/// compute market's escrow, per currency (ETH, mUSD).
contract ValueConservationInvariantTest is ProtocolFixture {
    uint128 internal constant JOB_ETH_PRICE = 1e15;
    uint128 internal constant JOB_USD_PRICE = 3e6;

    MarketplaceHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory recipients = new address[](6);
        (recipients[0], recipients[1], recipients[2]) = (alice, bob, carol);
        (recipients[3], recipients[4], recipients[5]) =
        (makeAddr("recipient1"), makeAddr("recipient2"), makeAddr("recipient3"));
        _sort(recipients);

        uint256[] memory assets = new uint256[](5);
        (assets[0],) = _publishAsset(alice, address(0), 1e14, 0);
        (assets[1],) = _publishAsset(bob, address(usd), 5e8, 1);
        (assets[2],) = _publishAsset(carol, address(0), 3e16, 2);
        (assets[3],) = _publishAsset(alice, address(usd), 1e8, 0);
        // The last asset is a model: `buyAndOpenJob` runs it on one of the datasets.
        IAssetRegistry.PublishParams memory model = _params(bob, address(0), 2e14);
        model.kind = IAssetRegistry.AssetKind.Model;
        (assets[4],) = registry.publish(model);

        address[] memory jobProviders = new address[](2);
        (jobProviders[0], jobProviders[1]) = (provider, makeAddr("usdProvider"));
        vm.deal(jobProviders[0], MIN_STAKE);
        vm.prank(jobProviders[0]);
        compute.registerProvider{value: MIN_STAKE}("https://provider.example", address(0), JOB_ETH_PRICE);
        vm.deal(jobProviders[1], MIN_STAKE);
        vm.prank(jobProviders[1]);
        compute.registerProvider{value: MIN_STAKE}("https://provider.example", address(usd), JOB_USD_PRICE);

        address[] memory buyers = new address[](3);
        (buyers[0], buyers[1], buyers[2]) = (makeAddr("buyer1"), makeAddr("buyer2"), makeAddr("buyer3"));

        handler = new MarketplaceHandler(
            marketplace, usd, address(timelock), assets, buyers, recipients, jobProviders
        );

        bytes4[] memory selectors = new bytes4[](9);
        selectors[0] = MarketplaceHandler.buy.selector;
        selectors[1] = MarketplaceHandler.buyAndConsume.selector;
        selectors[2] = MarketplaceHandler.setListing.selector;
        selectors[3] = MarketplaceHandler.setSplit.selector;
        selectors[4] = MarketplaceHandler.release.selector;
        selectors[5] = MarketplaceHandler.releaseFees.selector;
        selectors[6] = MarketplaceHandler.setProtocolFee.selector;
        selectors[7] = MarketplaceHandler.settle.selector;
        selectors[8] = MarketplaceHandler.buyAndOpenJob.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @dev One pass over assets and recipients checks, per currency (ETH, mUSD):
    /// - splitter balance == Σ_assets(totalReceived − totalReleased) + accruedFees, no asset released more
    ///   than it received, and the marketplace holds nothing;
    /// - ghost paid in == splitter balance + Σ released to recipients + Σ fees released (to the treasury);
    /// - what every possible recipient can release adds up to exactly what each asset still holds (checked
    ///   by the handler after each action for the asset it touched; see `ghost_releasableMismatches`);
    /// - the compute market holds exactly the providers' stakes and the job payments `buyAndOpenJob` made,
    ///   none of which reached the splitter.
    /// Foundry runs every `invariant_` function of a contract as its own campaign over the very same call
    /// sequences (same seed), so the properties share one campaign and one pass over the state: the same
    /// coverage at a fraction of the ci-profile time. Each assertion names its property.
    function invariant_valueIsConservedPerCurrency() public view {
        address[2] memory currencies = handler.currencies();
        uint256[] memory assets = handler.assets();
        for (uint256 c; c < currencies.length; ++c) {
            address currency = currencies[c];
            uint256 held = splitter.accruedFees(currency);
            for (uint256 a; a < assets.length; ++a) {
                uint256 received = splitter.totalReceived(assets[a], currency);
                uint256 released = splitter.totalReleased(assets[a], currency);
                assertLe(released, received, "asset released more than it received");
                held += received - released;
            }
            uint256 balance = _balance(currency, address(splitter));
            assertEq(balance, held, "splitter balance != accounting");
            assertEq(_balance(currency, address(marketplace)), 0, "marketplace holds value");
            assertEq(
                handler.ghost_paidIn(currency),
                balance + handler.ghost_released(currency) + handler.ghost_feesReleased(currency),
                "paid in != held + released"
            );
            assertEq(_balance(currency, address(timelock)), handler.ghost_feesReleased(currency), "treasury");
            assertEq(
                _balance(currency, address(compute)),
                (currency == address(0) ? 2 * MIN_STAKE : 0) + handler.ghost_jobsPaid(currency),
                "compute != stakes + job payments"
            );
        }
        assertEq(handler.ghost_releasableMismatches(), 0, "releasable != unreleased");
    }

    function _publishAsset(address owner, address currency, uint80 price, uint8 freePerAddress)
        internal
        returns (uint256 id, address token)
    {
        IAssetRegistry.PublishParams memory p = _params(owner, currency, price);
        p.freePerAddress = freePerAddress;
        p.contentDigest = keccak256(abi.encode(owner, currency, price, freePerAddress));
        (id, token) = registry.publish(p);
    }

    function _balance(address currency, address account) internal view returns (uint256) {
        return currency == address(0) ? account.balance : usd.balanceOf(account);
    }

    function _sort(address[] memory a) internal pure {
        for (uint256 i = 1; i < a.length; ++i) {
            for (uint256 j = i; j > 0 && a[j - 1] > a[j]; --j) {
                (a[j - 1], a[j]) = (a[j], a[j - 1]);
            }
        }
    }
}

/// @notice Regression: the first recipient's dust share used to be paid while the split was in force,
/// and it is not monotonic (50/25/25 of 3 wei gave it 3 − 0 − 0 = 3, of 4 wei only 2), so an
/// asset paid out more than it received and `setSplit` underflowed. Now the dust waits for settlement.
contract RevenueSplitterDustTest is ProtocolFixture {
    function test_release_neverPaysOutMoreThanReceived() public {
        address[] memory recipients = new address[](3);
        (recipients[0], recipients[1], recipients[2]) = (address(0x1000), address(0x2000), address(0x3000));
        uint16[] memory bps = new uint16[](3);
        (bps[0], bps[1], bps[2]) = (5000, 2500, 2500);
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 1);
        p.splitRecipients = recipients;
        p.splitBps = bps;
        (uint256 dusty,) = _publish(p);
        (uint256 other,) = _publish(_params(bob, address(0), 1 ether));

        vm.deal(carol, 10 ether);
        vm.startPrank(carol);
        marketplace.buy{value: 1 ether}(other, 1, address(0), 1 ether);
        marketplace.buy{value: 3}(dusty, 3, address(0), 1);
        vm.stopPrank();
        assertEq(splitter.release(dusty, address(0), recipients[0]), 1); // floor(3 / 2), not 3 − 0 − 0

        vm.prank(carol);
        marketplace.buy{value: 1}(dusty, 1, address(0), 1);
        assertEq(splitter.release(dusty, address(0), recipients[1]), 1);
        assertEq(splitter.release(dusty, address(0), recipients[2]), 1);
        assertEq(splitter.releasable(dusty, address(0), recipients[0]), 1);

        assertLe(splitter.totalReleased(dusty, address(0)), splitter.totalReceived(dusty, address(0)));
        vm.prank(alice);
        splitter.setSplit(dusty, recipients, bps);
        assertEq(splitter.release(dusty, address(0), recipients[0]), 1);
        assertEq(splitter.totalReleased(dusty, address(0)), 4);
        assertEq(address(splitter).balance, 1 ether); // only the other asset's sale is still held
    }
}
