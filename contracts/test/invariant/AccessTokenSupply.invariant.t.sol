// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {AccessTokenHandler} from "./handlers/AccessTokenHandler.sol";
import {AccessToken} from "../../src/AccessToken.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";

/// @notice Access-token supply and orders: supply is minted minus consumed, one order per consumed
/// token, order ids sequential and unique, balances add up to the supply.
contract AccessTokenSupplyInvariantTest is ProtocolFixture {
    AccessTokenHandler internal handler;

    function setUp() public override {
        super.setUp();
        uint256[] memory assets = new uint256[](4);
        (assets[0],) = _publish(_params(alice, address(0), 0.01 ether));
        IAssetRegistry.PublishParams memory p = _params(bob, address(usd), 5e6);
        p.freePerAddress = 2;
        (assets[1],) = _publish(p);
        p = _params(carol, address(0), 0);
        p.accessDuration = 1 days;
        (assets[2],) = _publish(p);
        // The last asset is a priced model, which jobs may run: each such job spends one of its tokens too.
        p = _params(carol, address(0), 0.002 ether);
        p.kind = IAssetRegistry.AssetKind.Model;
        (assets[3],) = _publish(p);

        IAssetRegistry.PublishParams memory algo = _params(alice, address(0), 0);
        algo.kind = IAssetRegistry.AssetKind.Algorithm;
        algo.contentDigest = keccak256("algorithm");
        (uint256 algorithmId,) = _publish(algo);
        vm.deal(provider, MIN_STAKE);
        vm.prank(provider);
        compute.registerProvider{value: MIN_STAKE}("https://provider.example", address(0), 0);

        address[] memory actors = new address[](4);
        for (uint256 i; i < actors.length; ++i) {
            actors[i] = makeAddr(string.concat("holder", vm.toString(i)));
        }
        handler = new AccessTokenHandler(marketplace, compute, usd, provider, algorithmId, assets, actors);

        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = AccessTokenHandler.buy.selector;
        selectors[1] = AccessTokenHandler.grant.selector;
        selectors[2] = AccessTokenHandler.transfer.selector;
        selectors[3] = AccessTokenHandler.consume.selector;
        selectors[4] = AccessTokenHandler.buyAndConsume.selector;
        selectors[5] = AccessTokenHandler.openJob.selector;
        selectors[6] = AccessTokenHandler.buyAndOpenJob.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @dev Per access token:
    /// - totalSupply == ghost minted (buys, grants, buyAndConsume, buyAndOpenJob) − ghost consumed (consume,
    ///   consumeFor via jobs, buyAndConsume), and the holders' balances add up to it;
    /// - ordersIssued == number of consumes (one order per consumed token), and every order id was the
    ///   previous one + 1, never repeated;
    /// - every job spent exactly one token of each priced input (its dataset, and the model when it ran it).
    /// Foundry runs every `invariant_` function of a contract as its own campaign over the very same call
    /// sequences (same seed), so the properties share one campaign. Each assertion names its property.
    function invariant_supplyAndOrdersAreConsistent() public view {
        AccessToken[] memory tokens = handler.tokens();
        address[] memory actors = handler.actors();
        for (uint256 t; t < tokens.length; ++t) {
            AccessToken token = tokens[t];
            uint256 supply = token.totalSupply();
            assertEq(
                supply,
                handler.ghost_minted(token) - handler.ghost_consumed(token),
                "supply != minted - consumed"
            );
            uint256 held;
            for (uint256 a; a < actors.length; ++a) {
                held += token.balanceOf(actors[a]);
            }
            assertEq(held, supply, "balances != supply");
            uint256 orders = token.ordersIssued();
            assertEq(orders, handler.ghost_consumed(token), "ordersIssued != consumes");
            assertEq(orders, handler.ghost_lastOrderId(token), "ordersIssued != last order id");
        }
        assertEq(handler.ghost_badOrderIds(), 0, "order id out of sequence or repeated");
        assertEq(handler.ghost_jobsWithWrongOrders(), 0, "job without one order per priced input");
    }
}
