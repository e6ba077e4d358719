// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {ComputeMarketHandler} from "./handlers/ComputeMarketHandler.sol";
import {IAssetRegistry} from "../../src/interfaces/IAssetRegistry.sol";
import {IComputeMarket} from "../../src/interfaces/IComputeMarket.sol";

/// @notice The compute market's escrow, per currency (ETH and mUSD): it holds exactly the stakes, the
/// payments of jobs in flight, the bonds of disputed jobs and the accrued fees. With jobs opened on an
/// ETH-priced dataset and a model its owner prices in mUSD (or makes free), directly or with
/// `buyAndOpenJob`: every job spent one order per priced input, and every unit is conserved across the
/// consumers, the owners (through the splitter), the providers and the treasury.
contract ComputeEscrowInvariantTest is ProtocolFixture {
    ComputeMarketHandler internal handler;
    address internal modelOwner = makeAddr("modelOwner");
    /// @dev ETH the handler's holders had before it ran (none expected, but not assumed).
    uint256 internal initialEth;

    function setUp() public override {
        super.setUp();
        (uint256 datasetId,) = _publish(_params(alice, address(0), 0.01 ether));
        IAssetRegistry.PublishParams memory algo = _params(alice, address(0), 0);
        algo.kind = IAssetRegistry.AssetKind.Algorithm;
        algo.contentDigest = keccak256("algorithm");
        (uint256 algorithmId,) = _publish(algo);
        IAssetRegistry.PublishParams memory model = _params(modelOwner, address(usd), 5e6);
        model.kind = IAssetRegistry.AssetKind.Model;
        model.contentDigest = keccak256("model");
        (uint256 modelId,) = _publish(model);

        address[] memory providers = new address[](4);
        for (uint256 i; i < providers.length; ++i) {
            providers[i] = makeAddr(string.concat("provider", vm.toString(i)));
        }
        address[] memory consumers = new address[](3);
        (consumers[0], consumers[1], consumers[2]) = (bob, carol, makeAddr("consumer3"));
        address[] memory challengers = new address[](2);
        (challengers[0], challengers[1]) = (makeAddr("challenger1"), makeAddr("challenger2"));

        handler = new ComputeMarketHandler(
            ComputeMarketHandler.Setup({
                compute: compute,
                marketplace: marketplace,
                usd: usd,
                timelock: address(timelock),
                datasetId: datasetId,
                datasetOwner: alice,
                algorithmId: algorithmId,
                modelId: modelId,
                modelOwner: modelOwner
            }),
            providers,
            consumers,
            challengers
        );
        address[] memory holders = handler.holders();
        for (uint256 i; i < holders.length; ++i) {
            initialEth += holders[i].balance;
        }

        bytes4[] memory selectors = new bytes4[](20);
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
        selectors[17] = ComputeMarketHandler.openWithoutModelToken.selector;
        selectors[18] = ComputeMarketHandler.setModelPrice.selector;
        selectors[19] = ComputeMarketHandler.releaseSales.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @dev One pass over providers and jobs checks, per currency (ETH, mUSD):
    /// - balance == Σ stakes + Σ escrow of open, posted and disputed jobs + Σ bonds held + accrued fees;
    /// - ghost in − ghost out == balance, and the treasury received exactly the fees released;
    /// - each provider's `activeJobs` counts its jobs in flight; job ids run 1..totalJobs;
    /// - the treasury received exactly the fees released by both markets;
    /// - every job spent exactly one order per input it had to pay for (the dataset, and the model when it
    ///   was priced; counted by the handler as each job opens), its `JobOpened` names those orders, and no
    ///   consumer ran the priced model without its token.
    /// `afterInvariant` checks the rest at the end of each run: the splitter holds exactly the sales not
    /// yet released and each owner's split got its prices less the marketplace fee, and every unit the
    /// handler created is still held by a consumer, provider, challenger, owner, the treasury or a
    /// contract: nothing is lost or made up anywhere.
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
            assertEq(
                _balance(currency, address(timelock)),
                handler.ghost_feesReleased(currency) + handler.ghost_saleFeesReleased(currency),
                "treasury"
            );
        }
        assertEq(handler.ghost_jobsWithWrongOrders(), 0, "job without one order per priced input");
        assertEq(handler.ghost_unpaidJobs(), 0, "priced model run without its token");
        assertEq(handler.ghost_wrongRefusals(), 0, "missing model token refused with another error");
        assertEq(handler.ghost_orderIdMismatches(), 0, "JobOpened order ids != orders spent");
    }

    /// @dev Once per run, after its last call, the properties that read every holder and asset (a loss
    /// or a stray order would persist to the end of the run, so checking there finds it at a fraction of
    /// the cost of checking after every call):
    /// - the inputs' tokens recorded no order besides the jobs';
    /// - per currency, the splitter's sales accounting and the conservation of every unit created.
    function afterInvariant() public view {
        assertEq(
            handler.datasetToken().ordersIssued() + handler.modelToken().ordersIssued(),
            handler.ghost_orders(),
            "orders outside jobs"
        );
        address[2] memory currencies = handler.currencies();
        for (uint256 c; c < currencies.length; ++c) {
            _assertSales(currencies[c]);
            _assertConserved(currencies[c]);
        }
    }

    /// @dev The splitter holds the sales not yet released, and each owner's split what it was paid.
    function _assertSales(address currency) internal view {
        uint256 datasetId = handler.datasetId();
        uint256 modelId = handler.modelId();
        assertEq(
            _balance(currency, address(splitter)),
            handler.ghost_salesIn(currency) - handler.ghost_salesReleased(currency)
                - handler.ghost_saleFeesReleased(currency),
            "splitter != sales - released"
        );
        assertEq(
            splitter.totalReceived(datasetId, currency),
            handler.ghost_ownerNet(datasetId, currency),
            "dataset net"
        );
        assertEq(
            splitter.totalReceived(modelId, currency), handler.ghost_ownerNet(modelId, currency), "model net"
        );
        assertEq(
            splitter.totalReceived(datasetId, currency) + splitter.totalReceived(modelId, currency)
                + splitter.accruedFees(currency) + handler.ghost_saleFeesReleased(currency),
            handler.ghost_salesIn(currency),
            "sales != owners' nets + fees"
        );
    }

    /// @dev Everything the handler created is held by one of the holders.
    function _assertConserved(address currency) internal view {
        address[] memory holders = handler.holders();
        uint256 held;
        for (uint256 i; i < holders.length; ++i) {
            held += _balance(currency, holders[i]);
        }
        uint256 initial = currency == address(0) ? initialEth : 0;
        assertEq(held, initial + handler.ghost_created(currency), "value created != value held");
        if (currency != address(0)) assertEq(usd.totalSupply(), held, "mUSD outside the holders");
    }

    function _balance(address currency, address account) internal view returns (uint256) {
        return currency == address(0) ? account.balance : usd.balanceOf(account);
    }

    function _inFlight(IComputeMarket.JobStatus status) internal pure returns (bool) {
        return status == IComputeMarket.JobStatus.Open || status == IComputeMarket.JobStatus.ResultPosted
            || status == IComputeMarket.JobStatus.Disputed;
    }
}
