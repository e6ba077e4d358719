// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ExactTransfer
/// @notice Pulls ERC-20 tokens and reports how many actually arrived, so callers can refuse
/// fee-on-transfer tokens instead of recording money they do not hold.
library ExactTransfer {
    using SafeERC20 for IERC20;

    /// @notice Moves `amount` of `token` from `from` to `to` and returns what `to` received.
    function pull(IERC20 token, address from, address to, uint256 amount) internal returns (uint256 arrived) {
        uint256 before = token.balanceOf(to);
        token.safeTransferFrom(from, to, amount);
        return token.balanceOf(to) - before;
    }
}
