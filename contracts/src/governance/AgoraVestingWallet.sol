// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";
import {VestingWalletCliff} from "@openzeppelin/contracts/finance/VestingWalletCliff.sol";

/// @title AgoraVestingWallet
/// @notice Holds one team member's or early contributor's AGORA from the declared allocation and
/// releases it linearly from `start` over `duration` seconds, nothing before `start + cliff`
/// (OpenZeppelin's VestingWallet with VestingWalletCliff). The beneficiary owns the wallet and may
/// pass it on; until released, the tokens carry no votes.
contract AgoraVestingWallet is VestingWalletCliff {
    /// @param beneficiary Receives the released tokens (the wallet's owner).
    /// @param start Unix time the vesting starts.
    /// @param duration Seconds from `start` until everything is vested.
    /// @param cliff Seconds from `start` before anything is vested (at most `duration`).
    constructor(address beneficiary, uint64 start, uint64 duration, uint64 cliff)
        VestingWallet(beneficiary, start, duration)
        VestingWalletCliff(cliff)
    {}
}
