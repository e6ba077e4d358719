// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title AgoraToken
/// @notice The DAO's governance token ("Agora", "AGORA"): ERC-20 with checkpointed votes (ERC20Votes,
/// block-number clock) and EIP-2612 permit. The whole supply is minted once, at deployment.
contract AgoraToken is ERC20, ERC20Permit, ERC20Votes {
    /// @param initialHolder Receives the whole supply.
    /// @param initialSupply The supply, in wei-like units (18 decimals).
    constructor(address initialHolder, uint256 initialSupply) ERC20("Agora", "AGORA") ERC20Permit("Agora") {
        _mint(initialHolder, initialSupply);
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
