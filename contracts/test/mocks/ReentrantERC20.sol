// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 that, once armed, calls `target` with `payload` from inside every `transfer` and
/// `transferFrom`, to check that callers are not re-entrant through a token. A failed call is bubbled.
contract ReentrantERC20 is ERC20 {
    address public target;
    bytes public payload;
    uint256 public reentries;

    constructor() ERC20("Reentrant", "REE") {}

    /// @notice Mints `amount` to `to`; anyone may call.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Calls `target_` with `payload_` on the next transfers (disarm with target_ = 0).
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transferFrom(from, to, value);
    }

    function _reenter() private {
        address target_ = target;
        if (target_ == address(0)) return;
        delete target; // one shot
        ++reentries;
        (bool ok, bytes memory data) = target_.call(payload);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(data, 32), mload(data))
            }
        }
    }
}
