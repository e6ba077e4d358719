// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {AccessToken} from "../src/AccessToken.sol";

contract SmokeTest is ProtocolFixture {
    function test_publishBuyConsume() public {
        (uint256 id, AccessToken token) = _publish(_params(alice, address(0), 1 ether));
        vm.deal(bob, 10 ether);
        vm.prank(bob);
        marketplace.buy{value: 2 ether}(id, 2, address(0), 1 ether);
        assertEq(token.balanceOf(bob), 2);
        vm.prank(bob);
        uint256 order = token.consume(provider);
        assertEq(order, 1);
        assertEq(token.totalSupply(), 1);
        assertEq(splitter.releasable(id, address(0), alice), 1.95 ether);
        assertEq(splitter.accruedFees(address(0)), 0.05 ether);
        assertEq(token.name(), "Agora Access #1");
    }
}
