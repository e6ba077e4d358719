// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {JobInputsFixture} from "./utils/JobInputsFixture.sol";
import {IComputeMarket} from "../src/interfaces/IComputeMarket.sol";
import {IAccessToken} from "../src/interfaces/IAccessToken.sol";

/// @notice `openJob` spends one access token of every priced input: the dataset's always, the algorithm's
/// or model's when its listing price is non-zero; delisted inputs are refused; `openJobFor` is the
/// marketplace's alone.
contract ComputeMarketInputsTest is JobInputsFixture {
    // ---------------------------------------------------------------- priced model

    function test_openJob_spendsPricedModelTokenAndRecordsBothOrders() public {
        _buy(bob, datasetId);
        _buy(bob, modelId);
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, provider);

        vm.expectEmit(address(datasetToken));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.expectEmit(address(modelToken));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobOpened(
            1, bob, provider, datasetId, modelId, 1, 1, address(0), JOB_ETH_PRICE, p.deadline, SPEC_CID
        );
        vm.prank(bob);
        uint256 jobId = compute.openJob{value: JOB_ETH_PRICE}(p);

        assertEq(datasetToken.balanceOf(bob), 0);
        assertEq(modelToken.balanceOf(bob), 0);
        assertEq(datasetToken.ordersIssued(), 1);
        assertEq(modelToken.ordersIssued(), 1);
        assertEq(modelToken.totalSupply(), 0);
        IComputeMarket.Job memory job = compute.getJob(jobId);
        assertEq(job.consumer, bob);
        assertEq(job.algorithmId, modelId);
        assertEq(job.payment, JOB_ETH_PRICE);
    }

    function test_openJob_spendsOneModelTokenOfSeveral() public {
        _buy(bob, datasetId);
        _buy(bob, datasetId);
        vm.prank(carol);
        modelToken.grant(bob, 3);
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, usdProvider);
        vm.startPrank(bob);
        compute.openJob(p);
        compute.openJob(p);
        vm.stopPrank();
        assertEq(modelToken.balanceOf(bob), 1);
        assertEq(modelToken.ordersIssued(), 2);
        assertEq(datasetToken.ordersIssued(), 2);
    }

    function test_openJob_revertsWhenPricedModelTokenMissing() public {
        _buy(bob, datasetId);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, modelId, bob)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
    }

    /// @dev Refused before anything is escrowed: a payment that would itself fail (no allowance, wrong
    /// ETH) never gets to fail, and no order is recorded.
    function test_openJob_refusesMissingModelTokenBeforeAnyEscrow() public {
        _buy(bob, datasetId);
        vm.prank(bob);
        usd.approve(address(compute), 0);
        bytes memory missing =
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, usdModelId, bob);

        vm.expectRevert(missing);
        vm.prank(bob);
        compute.openJob(_job(datasetId, usdModelId, usdProvider));

        vm.expectRevert(missing);
        vm.prank(bob);
        compute.openJob{value: 1 wei}(_job(datasetId, usdModelId, provider));

        assertEq(datasetToken.balanceOf(bob), 1);
        assertEq(datasetToken.ordersIssued(), 0);
        assertEq(usd.balanceOf(address(compute)), 0);
        assertEq(compute.totalJobs(), 0);
    }

    function test_openJob_revertsWhenDatasetTokenMissingThoughModelHeld() public {
        _buy(bob, modelId);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, datasetId, bob)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
    }

    /// @dev A token of another asset is no substitute: each input's own token is spent.
    function test_openJob_revertsWhenModelTokenIsAnotherModels() public {
        _buy(bob, datasetId);
        _buy(bob, usdModelId);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, modelId, bob)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
    }

    // ---------------------------------------------------------------- free algorithm

    function test_openJob_freeAlgorithmNeedsNoToken() public {
        _buy(bob, datasetId);
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
        compute.openJob{value: JOB_ETH_PRICE}(p);
        assertEq(freeAlgorithmToken.ordersIssued(), 0);
    }

    function test_openJob_freeAlgorithmTokenHeldIsNotSpent() public {
        _buy(bob, datasetId);
        vm.prank(carol);
        freeAlgorithmToken.grant(bob, 1);
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, freeAlgorithmId, provider));
        assertEq(freeAlgorithmToken.balanceOf(bob), 1);
        assertEq(freeAlgorithmToken.ordersIssued(), 0);
    }

    /// @dev The listing's price when the job opens decides: a model made free needs no token, one priced
    /// again does.
    function test_openJob_followsTheModelsPriceAtOpening() public {
        _buy(bob, datasetId);
        _buy(bob, datasetId);
        vm.prank(carol);
        marketplace.setListing(modelId, address(0), 0, 0);
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
        assertEq(modelToken.ordersIssued(), 0);

        vm.prank(carol);
        marketplace.setListing(modelId, address(usd), 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, modelId, bob)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
    }

    /// @dev The dataset is always paid for, even when its listing is free.
    function test_openJob_freeDatasetStillSpendsAToken() public {
        vm.prank(alice);
        marketplace.setListing(datasetId, address(0), 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, datasetId, bob)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, freeAlgorithmId, provider));

        _buy(bob, datasetId);
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, freeAlgorithmId, provider));
        assertEq(datasetToken.ordersIssued(), 1);
    }

    // ---------------------------------------------------------------- delisted inputs

    function test_openJob_revertsWhenModelDelistedEvenWithToken() public {
        _buy(bob, datasetId);
        _buy(bob, modelId);
        _delist(modelId);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InputDelisted.selector, modelId));
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));

        vm.prank(address(timelock));
        marketplace.relist(modelId, "bafkreireason");
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
        assertEq(modelToken.ordersIssued(), 1);
    }

    function test_openJob_revertsWhenFreeAlgorithmDelisted() public {
        _buy(bob, datasetId);
        _delist(freeAlgorithmId);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__InputDelisted.selector, freeAlgorithmId)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, freeAlgorithmId, provider));
    }

    function test_openJob_revertsWhenDatasetDelistedEvenWithToken() public {
        _buy(bob, datasetId);
        _delist(datasetId);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__InputDelisted.selector, datasetId)
        );
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, freeAlgorithmId, provider));
    }

    /// @dev Delisting stops new jobs only: one already open settles as usual.
    function test_openJob_delistingKeepsOpenJobsRunning() public {
        _buy(bob, datasetId);
        _buy(bob, modelId);
        vm.prank(bob);
        uint256 jobId = compute.openJob{value: JOB_ETH_PRICE}(_job(datasetId, modelId, provider));
        _delist(modelId);
        _delist(datasetId);
        vm.prank(provider);
        compute.postResult(jobId, SPEC_CID, keccak256("output"));
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        compute.finalize(jobId);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Finalized));
    }

    // ---------------------------------------------------------------- openJobFor

    function test_openJobFor_revertsWhenNotMarketplace() public {
        _buy(bob, datasetId);
        IComputeMarket.OpenJobParams memory p = _job(datasetId, freeAlgorithmId, usdProvider);
        // Anyone else could spend bob's tokens and his allowance to the compute market.
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotMarketplace.selector, carol));
        vm.prank(carol);
        compute.openJobFor(bob, p);
        // Bob himself goes through `openJob`.
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotMarketplace.selector, bob));
        vm.prank(bob);
        compute.openJobFor(bob, p);
        assertEq(datasetToken.balanceOf(bob), 1);
    }

    function test_openJobFor_fromMarketplacePaysFromConsumer() public {
        _buy(bob, datasetId);
        _buy(bob, usdModelId);
        uint256 before = usd.balanceOf(bob);
        vm.prank(address(marketplace));
        uint256 jobId = compute.openJobFor(bob, _job(datasetId, usdModelId, usdProvider));
        assertEq(compute.getJob(jobId).consumer, bob);
        assertEq(before - usd.balanceOf(bob), JOB_USD_PRICE);
        assertEq(usd.balanceOf(address(compute)), JOB_USD_PRICE);
        assertEq(usdModelToken.balanceOf(bob), 0);
    }

    /// @dev Without the consumer's allowance to the compute market, the ERC-20 payment fails as it would
    /// for `openJob`.
    function test_openJobFor_revertsWithoutConsumersAllowance() public {
        _buy(bob, datasetId);
        vm.prank(bob);
        usd.approve(address(compute), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(compute), 0, JOB_USD_PRICE
            )
        );
        vm.prank(address(marketplace));
        compute.openJobFor(bob, _job(datasetId, freeAlgorithmId, usdProvider));
    }
}

/// @notice Gas of `openJob` alone, for the snapshot: the consumer holds every token it needs before the
/// test, so each test is one `openJob` (compare `ComputeMarketTest:test_openJob_acceptsModel`).
contract ComputeMarketInputsGasTest is JobInputsFixture {
    function setUp() public override {
        super.setUp();
        vm.prank(alice);
        datasetToken.grant(bob, 2);
        vm.prank(carol);
        modelToken.grant(bob, 2);
    }

    /// @dev One order: the dataset's.
    function test_openJob_withFreeModel() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, freeAlgorithmId, provider);
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(p);
    }

    /// @dev Two orders: the dataset's and the model's.
    function test_openJob_withPricedModel() public {
        IComputeMarket.OpenJobParams memory p = _job(datasetId, modelId, provider);
        vm.prank(bob);
        compute.openJob{value: JOB_ETH_PRICE}(p);
    }
}
