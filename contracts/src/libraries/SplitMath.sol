// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title SplitMath
/// @notice Pure arithmetic of basis-point revenue splits and fees.
library SplitMath {
    /// @notice 100% in basis points.
    uint256 internal constant FULL_BPS = 10_000;

    /// @notice The fee part of `amount` at `feeBps`, rounded down (in the payer's favour).
    /// @param amount The gross amount.
    /// @param feeBps The fee in basis points.
    /// @return The fee.
    function fee(uint256 amount, uint256 feeBps) internal pure returns (uint256) {
        return amount * feeBps / FULL_BPS;
    }

    /// @notice A `bps` share of `total`, rounded down. While a split is in force each recipient may
    /// release only this much, so what it may release never shrinks as revenue grows.
    /// @param total The amount to split.
    /// @param bps The share.
    /// @return The share, rounded down.
    function share(uint256 total, uint16 bps) internal pure returns (uint256) {
        return total * bps / FULL_BPS;
    }

    /// @notice Recipient `index`'s entitlement to `total` under `bps` (which sum to 10,000). Every
    /// recipient but the first gets its share rounded down; the first gets the rest, so the
    /// entitlements always sum to exactly `total` and no dust is ever stranded. Used when an epoch
    /// closes: the dust is final only then, since a larger total may round differently.
    /// @param total The amount to split.
    /// @param bps The shares.
    /// @param index The recipient.
    /// @return The entitlement.
    function entitlement(uint256 total, uint16[] memory bps, uint256 index) internal pure returns (uint256) {
        if (index != 0) return share(total, bps[index]);
        uint256 others;
        for (uint256 i = 1; i < bps.length; ++i) {
            others += share(total, bps[i]);
        }
        return total - others;
    }
}
