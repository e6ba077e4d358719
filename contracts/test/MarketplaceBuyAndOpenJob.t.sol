// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {JobInputsFixture} from "./utils/JobInputsFixture.sol";
import {ReentrantERC20} from "./mocks/ReentrantERC20.sol";
import {IMarketplace} from "../src/interfaces/IMarketplace.sol";
import {IComputeMarket} from "../src/interfaces/IComputeMarket.sol";
import {IAccessToken} from "../src/interfaces/IAccessToken.sol";

/// @notice `buyAndOpenJob`: buys the job's inputs' access tokens exactly as `buy` does and opens the job
/// with them, in one transaction.
contract MarketplaceBuyAndOpenJobTest is JobInputsFixture {
    IMarketplace.Purchase[] internal _none;

    // ---------------------------------------------------------------- paths

    function test_buyAndOpenJob_withEthBuysBothInputsAndOpens() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, provider);
        uint256 total = DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE;
        uint256 before = bob.balance;

        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(datasetId, bob, address(0), 1, 0, DATASET_PRICE, _fee(DATASET_PRICE));
        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(modelId, bob, address(0), 1, 0, MODEL_PRICE, _fee(MODEL_PRICE));
        vm.expectEmit(address(datasetToken));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.expectEmit(address(modelToken));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobOpened(
            1, bob, provider, datasetId, modelId, 1, 1, address(0), JOB_ETH_PRICE, p.deadline, SPEC_CID
        );
        vm.prank(bob);
        uint256 jobId = marketplace.buyAndOpenJob{value: total}(_purchases(datasetId, modelId), p);

        assertEq(jobId, 1);
        assertEq(before - bob.balance, total);
        assertEq(address(splitter).balance, DATASET_PRICE + MODEL_PRICE);
        assertEq(address(compute).balance, 2 * MIN_STAKE + JOB_ETH_PRICE);
        assertEq(address(marketplace).balance, 0);
        assertEq(datasetToken.balanceOf(bob), 0);
        assertEq(modelToken.balanceOf(bob), 0);
        assertEq(datasetToken.totalSupply(), 0);
        assertEq(modelToken.totalSupply(), 0);
        IComputeMarket.Job memory job = compute.getJob(jobId);
        assertEq(job.consumer, bob);
        assertEq(job.payment, JOB_ETH_PRICE);
        assertEq(job.datasetId, datasetId);
        assertEq(job.algorithmId, modelId);
    }

    /// @dev The gas snapshot's figure for buying both inputs and opening in one transaction.
    function test_buyAndOpenJob_gas_ethBothInputs() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, provider);
        IMarketplace.Purchase[] memory purchases = _purchases(datasetId, modelId);
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE}(purchases, p);
    }

    /// @dev An mUSD dataset, an ETH model and an ETH provider: the ETH sent is the model's price plus the
    /// job's, the mUSD comes from the allowance to the marketplace.
    function test_buyAndOpenJob_mixesErc20DatasetWithEthModelAndProvider() public {
        uint256 ethBefore = bob.balance;
        uint256 usdBefore = usd.balanceOf(bob);
        vm.prank(bob);
        uint256 jobId = marketplace.buyAndOpenJob{value: MODEL_PRICE + JOB_ETH_PRICE}(
            _purchases(usdDatasetId, modelId), _job(usdDatasetId, modelId, provider)
        );
        assertEq(ethBefore - bob.balance, MODEL_PRICE + JOB_ETH_PRICE);
        assertEq(usdBefore - usd.balanceOf(bob), DATASET_USD_PRICE);
        assertEq(usd.balanceOf(address(splitter)), DATASET_USD_PRICE);
        assertEq(address(splitter).balance, MODEL_PRICE);
        assertEq(address(compute).balance, 2 * MIN_STAKE + JOB_ETH_PRICE);
        assertEq(compute.getJob(jobId).consumer, bob);
        assertEq(usdDatasetToken.ordersIssued(), 1);
        assertEq(modelToken.ordersIssued(), 1);
    }

    /// @dev An ETH dataset, an mUSD model and an mUSD provider: the ETH sent is the dataset's price only;
    /// the job's mUSD comes from the allowance to the compute market.
    function test_buyAndOpenJob_withErc20JobPaymentPullsFromConsumer() public {
        uint256 usdBefore = usd.balanceOf(bob);
        vm.prank(bob);
        uint256 jobId = marketplace.buyAndOpenJob{value: DATASET_PRICE}(
            _purchases(datasetId, usdModelId), _job(datasetId, usdModelId, usdProvider)
        );
        assertEq(usdBefore - usd.balanceOf(bob), MODEL_USD_PRICE + JOB_USD_PRICE);
        assertEq(usd.balanceOf(address(splitter)), MODEL_USD_PRICE);
        assertEq(usd.balanceOf(address(compute)), JOB_USD_PRICE);
        assertEq(address(splitter).balance, DATASET_PRICE);
        assertEq(compute.getJob(jobId).currency, address(usd));
        assertEq(usd.balanceOf(address(marketplace)), 0);
    }

    /// @dev Only what the consumer lacks is bought; the dataset token it already holds is spent.
    function test_buyAndOpenJob_buysOnlyTheModelWhenDatasetHeld() public {
        vm.prank(alice);
        datasetToken.grant(bob, 1);
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: MODEL_PRICE + JOB_ETH_PRICE}(
            _purchases(modelId), _job(datasetId, modelId, provider)
        );
        assertEq(datasetToken.balanceOf(bob), 0);
        assertEq(datasetToken.ordersIssued(), 1);
        assertEq(address(splitter).balance, MODEL_PRICE);
    }

    function test_buyAndOpenJob_withFreeAlgorithmBuysOnlyTheDataset() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, freeAlgorithmId, provider);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobOpened(
            1,
            bob,
            provider,
            datasetId,
            freeAlgorithmId,
            1,
            0,
            address(0),
            JOB_ETH_PRICE,
            p.deadline,
            SPEC_CID
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + JOB_ETH_PRICE}(_purchases(datasetId), p);
        assertEq(freeAlgorithmToken.ordersIssued(), 0);
    }

    /// @dev With nothing to buy it is `openJob` through the marketplace.
    function test_buyAndOpenJob_withNothingToBuyOpensWithHeldTokens() public {
        _buy(bob, datasetId);
        _buy(bob, usdModelId);
        vm.prank(bob);
        uint256 jobId = marketplace.buyAndOpenJob(_none, _job(datasetId, usdModelId, usdProvider));
        assertEq(compute.getJob(jobId).consumer, bob);
        assertEq(usdModelToken.balanceOf(bob), 0);
    }

    /// @dev The free tier applies as in `buy`: the free dataset token costs nothing and is counted.
    function test_buyAndOpenJob_usesTheFreeTier() public {
        vm.prank(alice);
        marketplace.setListing(datasetId, address(0), DATASET_PRICE, 1);
        vm.expectEmit(address(marketplace));
        emit IMarketplace.Purchased(datasetId, bob, address(0), 1, 1, 0, 0);
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: MODEL_PRICE + JOB_ETH_PRICE}(
            _purchases(datasetId, modelId), _job(datasetId, modelId, provider)
        );
        assertEq(marketplace.freeClaimed(datasetId, bob), 1);
        assertEq(splitter.totalReceived(datasetId, address(0)), 0);
    }

    /// @dev A job over a priced dataset (alice's) and a priced model (carol 60%, dave 40%) pays each
    /// owner's split its price less the protocol fee, the treasury the fees, and the provider its price
    /// less the compute fee; the consumer pays exactly the sum.
    function test_buyAndOpenJob_paysBothOwnersSplitsExactly() public {
        uint256 usdBefore = usd.balanceOf(bob);
        uint256 ethBefore = bob.balance;
        vm.prank(bob);
        uint256 jobId = marketplace.buyAndOpenJob{value: DATASET_PRICE + JOB_ETH_PRICE}(
            _purchases(usdModelId, datasetId), _job(datasetId, usdModelId, provider)
        );
        assertEq(ethBefore - bob.balance, DATASET_PRICE + JOB_ETH_PRICE);
        assertEq(usdBefore - usd.balanceOf(bob), MODEL_USD_PRICE);

        uint256 datasetNet = DATASET_PRICE - _fee(DATASET_PRICE);
        uint256 modelNet = MODEL_USD_PRICE - _fee(MODEL_USD_PRICE);
        assertEq(splitter.totalReceived(datasetId, address(0)), datasetNet);
        assertEq(splitter.totalReceived(usdModelId, address(usd)), modelNet);
        assertEq(splitter.releasable(datasetId, address(0), alice), datasetNet);
        assertEq(splitter.releasable(usdModelId, address(usd), carol), modelNet * CAROL_BPS / 10_000);
        assertEq(splitter.releasable(usdModelId, address(usd), dave), modelNet * DAVE_BPS / 10_000);
        assertEq(splitter.accruedFees(address(0)), _fee(DATASET_PRICE));
        assertEq(splitter.accruedFees(address(usd)), _fee(MODEL_USD_PRICE));
        // Neither owner earns from the other's input.
        assertEq(splitter.releasable(datasetId, address(usd), alice), 0);
        assertEq(splitter.releasable(usdModelId, address(0), carol), 0);

        uint256 aliceBefore = alice.balance;
        splitter.release(datasetId, address(0), alice);
        splitter.release(usdModelId, address(usd), carol);
        splitter.release(usdModelId, address(usd), dave);
        splitter.releaseFees(address(0));
        splitter.releaseFees(address(usd));
        assertEq(alice.balance - aliceBefore, datasetNet);
        assertEq(usd.balanceOf(carol), modelNet * CAROL_BPS / 10_000);
        assertEq(usd.balanceOf(dave), modelNet * DAVE_BPS / 10_000);
        assertEq(address(timelock).balance, _fee(DATASET_PRICE));
        assertEq(usd.balanceOf(address(timelock)), _fee(MODEL_USD_PRICE));
        assertEq(address(splitter).balance, 0);
        assertEq(usd.balanceOf(address(splitter)), 0);

        vm.prank(provider);
        compute.postResult(jobId, SPEC_CID, keccak256("output"));
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        uint256 providerBefore = provider.balance;
        compute.finalize(jobId);
        assertEq(provider.balance - providerBefore, JOB_ETH_PRICE - _fee(JOB_ETH_PRICE));
        assertEq(compute.accruedFees(address(0)), _fee(JOB_ETH_PRICE));
    }

    // ---------------------------------------------------------------- value

    function test_buyAndOpenJob_revertsWhenEthShortOfAPurchase() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, provider);
        IMarketplace.Purchase[] memory purchases = _purchases(datasetId, modelId);
        // Short of the first purchase.
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__WrongValue.selector, DATASET_PRICE - 1, DATASET_PRICE
            )
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE - 1}(purchases, p);
        // Enough for the first, short of the second: what is left is named.
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__WrongValue.selector, MODEL_PRICE - 1, MODEL_PRICE
            )
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + MODEL_PRICE - 1}(purchases, p);
    }

    function test_buyAndOpenJob_revertsWhenEthShortOfTheJob() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__WrongValue.selector, JOB_ETH_PRICE - 1, JOB_ETH_PRICE
            )
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE - 1}(
            _purchases(datasetId, modelId), _job(datasetId, modelId, provider)
        );
    }

    function test_buyAndOpenJob_revertsWhenEthLeftOver() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__WrongValue.selector, JOB_ETH_PRICE + 1, JOB_ETH_PRICE
            )
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE + 1}(
            _purchases(datasetId, modelId), _job(datasetId, modelId, provider)
        );
    }

    /// @dev An mUSD job and mUSD purchases take no ETH at all: any sent is left over and refused.
    function test_buyAndOpenJob_revertsWhenEthSentForErc20Only() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__WrongValue.selector, 1, 0));
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: 1}(
            _purchases(usdDatasetId, usdModelId), _job(usdDatasetId, usdModelId, usdProvider)
        );
    }

    // ---------------------------------------------------------------- what may be bought

    function test_buyAndOpenJob_revertsWhenBuyingAnAssetNotAnInput() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__NotJobInput.selector, usdDatasetId));
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + JOB_ETH_PRICE}(
            _purchases(usdDatasetId), _job(datasetId, freeAlgorithmId, provider)
        );

        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__NotJobInput.selector, usdModelId));
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + JOB_ETH_PRICE}(
            _purchases(datasetId, usdModelId), _job(datasetId, modelId, provider)
        );
    }

    function test_buyAndOpenJob_revertsWhenBuyingAnInputTwice() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__NotJobInput.selector, datasetId));
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: 2 * DATASET_PRICE + JOB_ETH_PRICE}(
            _purchases(datasetId, datasetId), _job(datasetId, freeAlgorithmId, provider)
        );
    }

    function test_buyAndOpenJob_revertsWhenPricedModelNotBoughtNorHeld() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, modelId, bob)
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + JOB_ETH_PRICE}(
            _purchases(datasetId), _job(datasetId, modelId, provider)
        );
    }

    /// @dev Each purchase keeps `buy`'s guards.
    function test_buyAndOpenJob_keepsThePurchaseGuards() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, provider);
        IMarketplace.Purchase[] memory purchases = _purchases(datasetId, modelId);
        uint256 total = DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE;

        purchases[1].maxPrice = MODEL_PRICE - 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__PriceAboveMax.selector, modelId, MODEL_PRICE, MODEL_PRICE - 1
            )
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: total}(purchases, p);

        purchases[1] = _purchase(modelId);
        purchases[0].currency = address(usd);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.Marketplace__WrongCurrency.selector, datasetId, address(usd), address(0)
            )
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: total}(purchases, p);
    }

    function test_buyAndOpenJob_revertsWhenInputDelisted() public {
        _delist(modelId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.Marketplace__Delisted.selector, modelId));
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE}(
            _purchases(datasetId, modelId), _job(datasetId, modelId, provider)
        );

        // Held rather than bought, the delisted input is refused by the compute market.
        _delist(datasetId);
        vm.prank(alice);
        datasetToken.grant(bob, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__InputDelisted.selector, datasetId)
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: JOB_ETH_PRICE}(_none, _job(datasetId, freeAlgorithmId, provider));
    }

    /// @dev A failed job leaves nothing bought: the purchases revert with it.
    function test_buyAndOpenJob_revertsPurchasesWhenTheJobFails() public {
        vm.prank(provider);
        compute.requestExit();
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__ProviderExiting.selector, provider)
        );
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE + MODEL_PRICE + JOB_ETH_PRICE}(
            _purchases(datasetId, modelId), _job(datasetId, modelId, provider)
        );
        assertEq(address(splitter).balance, 0);
        assertEq(datasetToken.totalSupply(), 0);
    }

    // ---------------------------------------------------------------- reentrancy

    /// @dev A hostile job currency re-entering either market from the job payment's `transferFrom` is
    /// stopped by that market's own guard, both held for the whole call.
    function test_buyAndOpenJob_currencyCannotReenterEitherMarket() public {
        ReentrantERC20 evil = new ReentrantERC20();
        _allowCurrency(address(evil));
        address evilProvider = makeAddr("evilProvider");
        vm.deal(evilProvider, MIN_STAKE);
        vm.prank(evilProvider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(evil), 100);
        evil.mint(bob, 1_000);
        vm.prank(bob);
        evil.approve(address(compute), type(uint256).max);
        IComputeMarket.OpenJobParams memory p =
            _job(datasetId, freeAlgorithmId, evilProvider, address(evil), 100);
        IMarketplace.Purchase[] memory purchases = _purchases(datasetId);

        evil.arm(address(marketplace), abi.encodeCall(marketplace.buy, (datasetId, 1, address(0), 0)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE}(purchases, p);

        evil.arm(address(compute), abi.encodeCall(compute.openJob, (p)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(bob);
        marketplace.buyAndOpenJob{value: DATASET_PRICE}(purchases, p);

        evil.arm(address(0), "");
        vm.prank(bob);
        uint256 jobId = marketplace.buyAndOpenJob{value: DATASET_PRICE}(purchases, p);
        assertEq(evil.balanceOf(address(compute)), 100);
        assertEq(compute.getJob(jobId).consumer, bob);
    }
}
