// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title AgoraToken
/// @notice The DAO's governance token ("Agora", "AGORA"): ERC-20 with checkpointed votes (ERC20Votes)
/// and EIP-2612 permit. Its clock is the block timestamp (ERC-6372 "mode=timestamp"), so the
/// governor's delays mean the same number of seconds on every chain. The whole supply is minted
/// once, at deployment, to the holders of the declared allocation (the timelock's treasury,
/// vesting wallets, the rewards reserve, grants); nobody can mint afterwards.
contract AgoraToken is ERC20, ERC20Permit, ERC20Votes {
    /// @notice One line of the allocation minted at deployment.
    struct InitialBalance {
        address holder;
        uint256 amount;
    }

    /// @notice The allocation names no holder, or a holder with nothing.
    error AgoraToken__EmptyAllocation();

    /// @param allocation Who receives what; the supply is their sum.
    constructor(InitialBalance[] memory allocation) ERC20("Agora", "AGORA") ERC20Permit("Agora") {
        if (allocation.length == 0) revert AgoraToken__EmptyAllocation();
        for (uint256 i = 0; i < allocation.length; ++i) {
            if (allocation[i].amount == 0) revert AgoraToken__EmptyAllocation();
            _mint(allocation[i].holder, allocation[i].amount);
        }
    }

    /// @notice ERC-6372: the votes clock is the block timestamp.
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice ERC-6372: the clock's description.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
