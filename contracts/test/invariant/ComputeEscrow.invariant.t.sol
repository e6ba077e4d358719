// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {ComputeMarketHandler} from "./handlers/ComputeMarketHandler.sol";
import {AccessToken} from "../../src/AccessToken.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";
import {IComputeMarket} from "../../src/interfaces/IComputeMarket.sol";

/// @notice The compute market's escrow, per currency (ETH and mUSD): it holds exactly the stakes, the
/// payments of jobs in flight, the bonds of disputed jobs and the accrued fees.
contract ComputeEscrowInvariantTest is ProtocolFixture {
    ComputeMarketHandler internal handler;

    function setUp() public override {
        super.setUp();
        (uint256 datasetId, AccessToken datasetToken) = _publish(_params(alice, address(0), 1 ether));
        IAssetRegistry.PublishParams memory algo = _params(alice, address(0), 0);
        algo.kind = IAssetRegistry.AssetKind.Algorithm;
        algo.contentDigest = keccak256("algorithm");
        (uint256 algorithmId,) = _publish(algo);

        address[] memory providers = new address[](4);
        for (uint256 i; i < providers.length; ++i) {
            providers[i] = makeAddr(string.concat("provider", vm.toString(i)));
        }
        address[] memory consumers = new address[](3);
        (consumers[0], consumers[1], consumers[2]) = (bob, carol, makeAddr("consumer3"));
        address[] memory challengers = new address[](2);
        (challengers[0], challengers[1]) = (makeAddr("challenger1"), makeAddr("challenger2"));

        handler = new ComputeMarketHandler(
            compute,
            usd,
            datasetToken,
            alice,
            address(timelock),
            datasetId,
            algorithmId,
            providers,
            consumers,
            challengers
        );

        bytes4[] memory selectors = new bytes4[](17);
        selectors[0] = ComputeMarketHandler.registerProvider.selector;
        selectors[1] = ComputeMarketHandler.updateProvider.selector;
        selectors[2] = ComputeMarketHandler.addStake.selector;
        selectors[3] = ComputeMarketHandler.requestExit.selector;
        selectors[4] = ComputeMarketHandler.withdrawStake.selector;
        selectors[5] = ComputeMarketHandler.openJob.selector;
        selectors[6] = ComputeMarketHandler.postResult.selector;
        selectors[7] = ComputeMarketHandler.finalize.selector;
        selectors[8] = ComputeMarketHandler.refund.selector;
        selectors[9] = ComputeMarketHandler.dispute.selector;
        selectors[10] = ComputeMarketHandler.ruleDispute.selector;
        selectors[11] = ComputeMarketHandler.releaseFees.selector;
        selectors[12] = ComputeMarketHandler.setParams.selector;
        selectors[13] = ComputeMarketHandler.warp.selector;
        selectors[14] = ComputeMarketHandler.claim.selector;
        selectors[15] = ComputeMarketHandler.expireDispute.selector;
        selectors[16] = ComputeMarketHandler.declineJob.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @dev One pass over providers and jobs checks, per currency (ETH, mUSD):
    /// - balance == Σ stakes + Σ escrow of open, posted and disputed jobs + Σ bonds held + accrued fees;
    /// - ghost in − ghost out == balance, and the treasury received exactly the fees released;
    /// - each provider's `activeJobs` counts its jobs in flight; job ids run 1..totalJobs.
    /// Foundry runs every `invariant_` function of a contract as its own campaign over the very same call
    /// sequences (same seed), so the properties share one campaign and one pass over the state: the same
    /// coverage at a fraction of the ci-profile time. Each assertion names its property.
    function invariant_escrowIsConservedPerCurrency() public view {
        address[2] memory currencies = handler.currencies();
        uint256[2] memory held = [compute.accruedFees(currencies[0]), compute.accruedFees(currencies[1])];
        address[] memory providers = handler.providers();
        uint256[] memory inFlight = new uint256[](providers.length);

        uint256[] memory jobs = handler.jobs();
        assertEq(compute.totalJobs(), jobs.length, "totalJobs != jobs opened");
        for (uint256 j; j < jobs.length; ++j) {
            assertEq(jobs[j], j + 1, "job ids not sequential");
            IComputeMarket.Job memory job = compute.getJob(jobs[j]);
            if (!_inFlight(job.status)) continue;
            held[job.currency == currencies[0] ? 0 : 1] += job.payment;
            if (job.status == IComputeMarket.JobStatus.Disputed) held[0] += job.bond;
            for (uint256 i; i < providers.length; ++i) {
                if (providers[i] == job.provider) ++inFlight[i];
            }
        }
        address[] memory claimants = handler.claimants();
        for (uint256 i; i < claimants.length; ++i) {
            held[0] += compute.claimable(claimants[i], currencies[0]);
            held[1] += compute.claimable(claimants[i], currencies[1]);
        }
        for (uint256 i; i < providers.length; ++i) {
            IComputeMarket.Provider memory p = compute.getProvider(providers[i]);
            held[0] += p.stake;
            assertEq(p.activeJobs, inFlight[i], "activeJobs != jobs in flight");
        }

        for (uint256 c; c < currencies.length; ++c) {
            address currency = currencies[c];
            uint256 balance = _balance(currency, address(compute));
            assertEq(balance, held[c], "balance != stakes + escrow + bonds + fees + credits");
            assertEq(handler.ghost_in(currency) - handler.ghost_out(currency), balance, "in - out != balance");
            assertEq(_balance(currency, address(timelock)), handler.ghost_feesReleased(currency), "treasury");
        }
    }

    function _balance(address currency, address account) internal view returns (uint256) {
        return currency == address(0) ? account.balance : usd.balanceOf(account);
    }

    function _inFlight(IComputeMarket.JobStatus status) internal pure returns (bool) {
        return status == IComputeMarket.JobStatus.Open || status == IComputeMarket.JobStatus.ResultPosted
            || status == IComputeMarket.JobStatus.Disputed;
    }
}
