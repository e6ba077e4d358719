// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {MockStablecoin} from "./mocks/MockStablecoin.sol";
import {ComputeMarket} from "../src/ComputeMarket.sol";
import {AccessToken} from "../src/AccessToken.sol";
import {IComputeMarket} from "../src/interfaces/IComputeMarket.sol";
import {IAccessToken} from "../src/interfaces/IAccessToken.sol";
import {IAssetRegistry} from "../src/interfaces/IAssetRegistry.sol";

/// @dev A consumer contract that, when paid, tries to re-enter the compute market's `refund`.
contract ReentrantConsumer {
    ComputeMarket private immutable _MARKET;
    uint256 public reenterJob;
    bool public swallow;
    bytes public reentryError;
    uint256 public received;

    constructor(ComputeMarket market) {
        _MARKET = market;
    }

    function open(IComputeMarket.OpenJobParams calldata p) external payable returns (uint256) {
        return _MARKET.openJob{value: msg.value}(p);
    }

    /// @dev `swallow_`: catch the re-entry's revert (and record it) instead of letting it bubble.
    function arm(uint256 jobId, bool swallow_) external {
        reenterJob = jobId;
        swallow = swallow_;
    }

    receive() external payable {
        received += msg.value;
        uint256 jobId = reenterJob;
        if (jobId == 0) return;
        reenterJob = 0;
        if (!swallow) {
            _MARKET.refund(jobId);
            return;
        }
        try _MARKET.refund(jobId) {}
        catch (bytes memory err) {
            reentryError = err;
        }
    }
}

/// @dev A challenger whose `receive` always reverts.
contract EthRejectingChallenger {
    function dispute(ComputeMarket market, uint256 jobId, string calldata reasonCid) external payable {
        market.dispute{value: msg.value}(jobId, reasonCid);
    }

    receive() external payable {
        revert("no ETH");
    }
}

contract ComputeMarketTest is ProtocolFixture {
    string internal constant ENDPOINT = "https://provider.example/agora";
    string internal constant SPEC_CID = "bafkreispecspecspecspecspecspecspecspecspecspecspecspecspec";
    string internal constant RESULT_CID = "bafkreiresultresultresultresultresultresultresultresultres";
    string internal constant REASON_CID = "bafkreireasonreasonreasonreasonreasonreasonreasonreasonrea";
    bytes32 internal constant OUTPUT_HASH = keccak256("output");
    uint128 internal constant ETH_PRICE = 0.2 ether;
    uint128 internal constant USD_PRICE = 100e6;
    uint64 internal constant JOB_TIME = 1 days;

    address internal usdProvider = makeAddr("usdProvider");
    address internal challenger = makeAddr("challenger");

    uint256 internal datasetId;
    AccessToken internal datasetToken;
    uint256 internal algorithmId;
    uint256 internal modelId;
    uint256 internal appId;

    function setUp() public override {
        super.setUp();
        (datasetId, datasetToken) = _publish(_params(alice, address(0), 0.5 ether));
        algorithmId = _publishKind(IAssetRegistry.AssetKind.Algorithm, "algorithm");
        modelId = _publishKind(IAssetRegistry.AssetKind.Model, "model");
        appId = _publishKind(IAssetRegistry.AssetKind.App, "app");

        vm.prank(alice);
        datasetToken.grant(bob, 5);

        vm.deal(provider, 100 ether);
        vm.prank(provider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(0), ETH_PRICE);
        vm.deal(usdProvider, 100 ether);
        vm.prank(usdProvider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(usd), USD_PRICE);

        vm.deal(bob, 100 ether);
        usd.mint(bob, 1_000e6);
        vm.prank(bob);
        usd.approve(address(compute), type(uint256).max);
        vm.deal(challenger, 10 ether);
        vm.label(address(compute), "compute");
    }

    // ---------------------------------------------------------------- constructor and views

    function test_constructor_setsParamsOwnerAndRecipient() public view {
        IComputeMarket.Params memory p = compute.params();
        assertEq(p.minStake, MIN_STAKE);
        assertEq(p.disputeBond, DISPUTE_BOND);
        assertEq(p.challengeWindow, CHALLENGE_WINDOW);
        assertEq(p.exitCooldown, EXIT_COOLDOWN);
        assertEq(p.feeBps, FEE_BPS);
        assertEq(compute.owner(), address(timelock));
        assertEq(compute.feeRecipient(), address(timelock));
        assertEq(compute.totalJobs(), 0);
    }

    function test_constructor_revertsWhenRegistryZero() public {
        vm.expectRevert(IComputeMarket.ComputeMarket__ZeroAddress.selector);
        new ComputeMarket(address(0), address(timelock), address(timelock), 100, 1, 1, 1, 1, 1);
    }

    function test_constructor_revertsWhenFeeRecipientZero() public {
        vm.expectRevert(IComputeMarket.ComputeMarket__ZeroAddress.selector);
        new ComputeMarket(address(registry), address(timelock), address(0), 100, 1, 1, 1, 1, 1);
    }

    function test_constructor_revertsWhenFeeTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__FeeTooHigh.selector, 1001, 1000));
        new ComputeMarket(address(registry), address(timelock), address(timelock), 1001, 1, 1, 1, 1, 1);
    }

    function test_constructor_revertsWhenParamsInvalid() public {
        vm.expectRevert(IComputeMarket.ComputeMarket__InvalidParams.selector);
        new ComputeMarket(address(registry), address(timelock), address(timelock), 100, 1, 0, 1, 1, 1);
    }

    function test_constructor_revertsWhenMinStakeOverflows() public {
        uint256 tooBig = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, tooBig));
        new ComputeMarket(address(registry), address(timelock), address(timelock), 100, tooBig, 1, 1, 1, 1);
    }

    // ---------------------------------------------------------------- registerProvider

    function test_registerProvider_storesProviderAndEmits() public {
        vm.deal(carol, 5 ether);
        vm.expectEmit(address(compute));
        emit IComputeMarket.ProviderRegistered(carol, ENDPOINT, address(usd), 7e6, 2 ether);
        vm.prank(carol);
        compute.registerProvider{value: 2 ether}(ENDPOINT, address(usd), 7e6);

        IComputeMarket.Provider memory p = compute.getProvider(carol);
        assertTrue(p.registered);
        assertEq(p.stake, 2 ether);
        assertEq(p.price, 7e6);
        assertEq(p.currency, address(usd));
        assertEq(p.exitAvailableAt, 0);
        assertEq(p.activeJobs, 0);
        assertEq(p.endpoint, ENDPOINT);
        assertEq(address(compute).balance, 2 ether + 2 * MIN_STAKE);
    }

    function test_registerProvider_acceptsExactMinStake() public {
        vm.deal(carol, MIN_STAKE);
        vm.prank(carol);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(0), 0);
        assertEq(compute.getProvider(carol).stake, MIN_STAKE);
    }

    function test_registerProvider_revertsWhenAlreadyRegistered() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__AlreadyRegistered.selector, provider)
        );
        vm.prank(provider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(0), ETH_PRICE);
    }

    function test_registerProvider_revertsWhenStakeTooLow() public {
        vm.deal(carol, MIN_STAKE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE
            )
        );
        vm.prank(carol);
        compute.registerProvider{value: MIN_STAKE - 1}(ENDPOINT, address(0), ETH_PRICE);
    }

    function test_registerProvider_revertsWhenEndpointEmpty() public {
        vm.deal(carol, MIN_STAKE);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidEndpoint.selector, 0));
        vm.prank(carol);
        compute.registerProvider{value: MIN_STAKE}("", address(0), ETH_PRICE);
    }

    function test_registerProvider_revertsWhenEndpointTooLong() public {
        vm.deal(carol, MIN_STAKE);
        string memory endpoint = string(new bytes(257));
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidEndpoint.selector, 257));
        vm.prank(carol);
        compute.registerProvider{value: MIN_STAKE}(endpoint, address(0), ETH_PRICE);
    }

    // ---------------------------------------------------------------- updateProvider

    function test_updateProvider_changesTermsAndEmits() public {
        vm.expectEmit(address(compute));
        emit IComputeMarket.ProviderUpdated(provider, "https://new.example", address(usd), 5e6);
        vm.prank(provider);
        compute.updateProvider("https://new.example", address(usd), 5e6);

        IComputeMarket.Provider memory p = compute.getProvider(provider);
        assertEq(p.endpoint, "https://new.example");
        assertEq(p.currency, address(usd));
        assertEq(p.price, 5e6);
        assertEq(p.stake, MIN_STAKE);
    }

    function test_updateProvider_keepsEscrowedPriceOfOpenJobs() public {
        uint256 jobId = _openEthJob();
        vm.prank(provider);
        compute.updateProvider(ENDPOINT, address(0), 3 ether);
        assertEq(compute.getJob(jobId).payment, ETH_PRICE);
        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        uint256 before = provider.balance;
        compute.finalize(jobId);
        assertEq(provider.balance - before, ETH_PRICE - _fee(ETH_PRICE));
    }

    function test_updateProvider_revertsWhenNotProvider() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotProvider.selector, carol));
        vm.prank(carol);
        compute.updateProvider(ENDPOINT, address(0), 1);
    }

    function test_updateProvider_revertsWhenEndpointInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidEndpoint.selector, 0));
        vm.prank(provider);
        compute.updateProvider("", address(0), 1);
    }

    // ---------------------------------------------------------------- addStake

    function test_addStake_increasesStakeAndEmits() public {
        vm.expectEmit(address(compute));
        emit IComputeMarket.StakeAdded(provider, 0.5 ether, MIN_STAKE + 0.5 ether);
        vm.prank(provider);
        compute.addStake{value: 0.5 ether}();
        assertEq(compute.getProvider(provider).stake, MIN_STAKE + 0.5 ether);
    }

    function test_addStake_revertsWhenNotProvider() public {
        vm.deal(carol, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotProvider.selector, carol));
        vm.prank(carol);
        compute.addStake{value: 1 ether}();
    }

    // ---------------------------------------------------------------- requestExit / withdrawStake

    function test_requestExit_setsCooldownAndEmits() public {
        uint64 availableAt = uint64(block.timestamp) + EXIT_COOLDOWN;
        vm.expectEmit(address(compute));
        emit IComputeMarket.ProviderExitRequested(provider, availableAt);
        vm.prank(provider);
        compute.requestExit();
        assertEq(compute.getProvider(provider).exitAvailableAt, availableAt);
    }

    function test_requestExit_revertsWhenNotProvider() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotProvider.selector, carol));
        vm.prank(carol);
        compute.requestExit();
    }

    function test_requestExit_revertsWhenAlreadyExiting() public {
        vm.startPrank(provider);
        compute.requestExit();
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__ProviderExiting.selector, provider)
        );
        compute.requestExit();
        vm.stopPrank();
    }

    function test_withdrawStake_returnsStakeAfterCooldown() public {
        vm.prank(provider);
        compute.addStake{value: 1 ether}();
        vm.prank(provider);
        compute.requestExit();
        vm.warp(block.timestamp + EXIT_COOLDOWN);

        uint256 before = provider.balance;
        vm.expectEmit(address(compute));
        emit IComputeMarket.ProviderExited(provider, MIN_STAKE + 1 ether);
        vm.prank(provider);
        compute.withdrawStake();

        assertEq(provider.balance - before, MIN_STAKE + 1 ether);
        IComputeMarket.Provider memory p = compute.getProvider(provider);
        assertFalse(p.registered);
        assertEq(p.stake, 0);
        assertEq(address(compute).balance, MIN_STAKE);
    }

    function test_withdrawStake_revertsWhenNotProvider() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotProvider.selector, carol));
        vm.prank(carol);
        compute.withdrawStake();
    }

    function test_withdrawStake_revertsWhenExitNotRequested() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__ExitNotRequested.selector, provider)
        );
        vm.prank(provider);
        compute.withdrawStake();
    }

    function test_withdrawStake_revertsWhenCooldownActive() public {
        vm.prank(provider);
        compute.requestExit();
        uint256 availableAt = block.timestamp + EXIT_COOLDOWN;
        vm.warp(availableAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__CooldownActive.selector, availableAt)
        );
        vm.prank(provider);
        compute.withdrawStake();
    }

    function test_withdrawStake_revertsWhenJobsInFlight() public {
        uint256 jobId = _openEthJob();
        vm.prank(provider);
        compute.requestExit();
        vm.warp(block.timestamp + EXIT_COOLDOWN);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__JobsInFlight.selector, 1));
        vm.prank(provider);
        compute.withdrawStake();

        // Once the job settles (here: refunded past its deadline) the stake comes back.
        compute.refund(jobId);
        vm.prank(provider);
        compute.withdrawStake();
        assertFalse(compute.getProvider(provider).registered);
    }

    function test_registerProvider_againAfterExit() public {
        vm.prank(provider);
        compute.requestExit();
        vm.warp(block.timestamp + EXIT_COOLDOWN);
        vm.prank(provider);
        compute.withdrawStake();
        vm.prank(provider);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(0), 1 ether);
        IComputeMarket.Provider memory p = compute.getProvider(provider);
        assertTrue(p.registered);
        assertEq(p.exitAvailableAt, 0);
        assertEq(p.price, 1 ether);
    }

    // ---------------------------------------------------------------- algorithm policy

    function test_setAlgorithmRestricted_emitsAndRestricts() public {
        assertTrue(compute.isAlgorithmAllowed(datasetId, algorithmId));
        vm.expectEmit(address(compute));
        emit IComputeMarket.AlgorithmPolicyUpdated(datasetId, true);
        vm.prank(alice);
        compute.setAlgorithmRestricted(datasetId, true);
        assertFalse(compute.isAlgorithmAllowed(datasetId, algorithmId));
        assertFalse(compute.isAlgorithmAllowed(datasetId, modelId));
    }

    function test_setAlgorithmRestricted_revertsWhenNotDatasetOwner() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotDatasetOwner.selector, datasetId, bob)
        );
        vm.prank(bob);
        compute.setAlgorithmRestricted(datasetId, true);
    }

    function test_setAlgorithmsAllowed_emitsForEachAlgorithm() public {
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (algorithmId, modelId);
        vm.expectEmit(address(compute));
        emit IComputeMarket.AlgorithmAllowed(datasetId, algorithmId, true);
        vm.expectEmit(address(compute));
        emit IComputeMarket.AlgorithmAllowed(datasetId, modelId, true);
        vm.startPrank(alice);
        compute.setAlgorithmsAllowed(datasetId, ids, true);
        compute.setAlgorithmRestricted(datasetId, true);
        vm.stopPrank();
        assertTrue(compute.isAlgorithmAllowed(datasetId, algorithmId));
        assertTrue(compute.isAlgorithmAllowed(datasetId, modelId));
    }

    function test_setAlgorithmsAllowed_revertsWhenNotDatasetOwner() public {
        uint256[] memory ids = new uint256[](1);
        ids[0] = algorithmId;
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotDatasetOwner.selector, datasetId, bob)
        );
        vm.prank(bob);
        compute.setAlgorithmsAllowed(datasetId, ids, true);
    }

    function test_openJob_restrictedDatasetRunsOnlyListedAlgorithms() public {
        uint256[] memory ids = new uint256[](1);
        ids[0] = modelId;
        vm.startPrank(alice);
        compute.setAlgorithmRestricted(datasetId, true);
        compute.setAlgorithmsAllowed(datasetId, ids, true);
        vm.stopPrank();

        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__AlgorithmNotAllowed.selector, datasetId, algorithmId
            )
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);

        p.algorithmId = modelId;
        vm.prank(bob);
        uint256 jobId = compute.openJob{value: ETH_PRICE}(p);
        assertEq(compute.getJob(jobId).algorithmId, modelId);

        // Disallowing it again closes it; lifting the restriction opens everything.
        vm.prank(alice);
        compute.setAlgorithmsAllowed(datasetId, ids, false);
        assertFalse(compute.isAlgorithmAllowed(datasetId, modelId));
        vm.prank(alice);
        compute.setAlgorithmRestricted(datasetId, false);
        assertTrue(compute.isAlgorithmAllowed(datasetId, algorithmId));
    }

    // ---------------------------------------------------------------- openJob

    function test_openJob_withEthEscrowsSpendsTokenAndBindsOrder() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        uint256 bobBefore = bob.balance;
        vm.expectEmit(address(datasetToken));
        emit IAccessToken.AccessConsumed(1, bob, provider, 0);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobOpened(
            1, bob, provider, datasetId, algorithmId, 1, 0, address(0), ETH_PRICE, p.deadline, SPEC_CID
        );
        vm.prank(bob);
        uint256 jobId = compute.openJob{value: ETH_PRICE}(p);

        assertEq(jobId, 1);
        assertEq(compute.totalJobs(), 1);
        assertEq(bobBefore - bob.balance, ETH_PRICE);
        assertEq(address(compute).balance, 2 * MIN_STAKE + ETH_PRICE);
        assertEq(datasetToken.balanceOf(bob), 4);
        assertEq(datasetToken.totalSupply(), 4);
        assertEq(datasetToken.ordersIssued(), 1);
        assertEq(compute.getProvider(provider).activeJobs, 1);

        IComputeMarket.Job memory job = compute.getJob(jobId);
        assertEq(job.consumer, bob);
        assertEq(job.provider, provider);
        assertEq(job.deadline, p.deadline);
        assertEq(uint8(job.status), uint8(IComputeMarket.JobStatus.Open));
        assertEq(job.currency, address(0));
        assertEq(job.payment, ETH_PRICE);
        assertEq(job.datasetId, datasetId);
        assertEq(job.algorithmId, algorithmId);
        assertEq(job.challengeEnd, 0);
        assertEq(job.challenger, address(0));
    }

    function test_openJob_withErc20EscrowsStablecoin() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(usdProvider, address(usd), USD_PRICE);
        vm.expectEmit(address(datasetToken));
        emit IAccessToken.AccessConsumed(1, bob, usdProvider, 0);
        vm.prank(bob);
        uint256 jobId = compute.openJob(p);
        assertEq(usd.balanceOf(address(compute)), USD_PRICE);
        assertEq(usd.balanceOf(bob), 1_000e6 - USD_PRICE);
        assertEq(compute.getJob(jobId).currency, address(usd));
        assertEq(compute.getJob(jobId).payment, USD_PRICE);
        assertEq(datasetToken.balanceOf(bob), 4);
    }

    function test_openJob_withTokenBoughtOnMarketplace() public {
        vm.deal(carol, 10 ether);
        vm.startPrank(carol);
        marketplace.buy{value: 0.5 ether}(datasetId, 1, address(0), 0.5 ether);
        uint256 jobId = compute.openJob{value: ETH_PRICE}(_jobParams(provider, address(0), ETH_PRICE));
        vm.stopPrank();
        assertEq(compute.getJob(jobId).consumer, carol);
        assertEq(datasetToken.balanceOf(carol), 0);
    }

    function test_openJob_acceptsModel() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.algorithmId = modelId;
        vm.prank(bob);
        uint256 jobId = compute.openJob{value: ETH_PRICE}(p);
        assertEq(compute.getJob(jobId).algorithmId, modelId);
    }

    function test_openJob_withFreeErc20Provider() public {
        vm.prank(usdProvider);
        compute.updateProvider(ENDPOINT, address(usd), 0);
        vm.prank(bob);
        uint256 jobId = compute.openJob(_jobParams(usdProvider, address(usd), 0));
        assertEq(compute.getJob(jobId).payment, 0);
        assertEq(usd.balanceOf(address(compute)), 0);
    }

    function test_openJob_revertsWhenProviderNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotProvider.selector, carol));
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(_jobParams(carol, address(0), ETH_PRICE));
    }

    function test_openJob_revertsWhenProviderExiting() public {
        vm.prank(provider);
        compute.requestExit();
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__ProviderExiting.selector, provider)
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(_jobParams(provider, address(0), ETH_PRICE));
    }

    function test_openJob_revertsWhenDeadlineNotInFuture() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.deadline = uint64(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidDeadline.selector, block.timestamp)
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);
    }

    function test_openJob_revertsWhenSpecCidEmpty() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.specCid = "";
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidCid.selector, 0));
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);
    }

    function test_openJob_revertsWhenSpecCidTooLong() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.specCid = string(new bytes(129));
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidCid.selector, 129));
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);
    }

    function test_openJob_revertsWhenDatasetIsNotDatasetKind() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.datasetId = modelId;
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__WrongAssetKind.selector, modelId)
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);
    }

    function test_openJob_revertsWhenAlgorithmIsNotAlgorithmOrModel() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.algorithmId = appId;
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__WrongAssetKind.selector, appId));
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);

        p.algorithmId = datasetId;
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__WrongAssetKind.selector, datasetId)
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);
    }

    function test_openJob_revertsWhenAssetUnknown() public {
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.algorithmId = 999;
        vm.expectRevert(abi.encodeWithSelector(IAssetRegistry.AssetRegistry__UnknownAsset.selector, 999));
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(p);
    }

    function test_openJob_revertsWhenWrongCurrency() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__WrongCurrency.selector, address(usd), address(0)
            )
        );
        vm.prank(bob);
        compute.openJob(_jobParams(provider, address(usd), ETH_PRICE));
    }

    function test_openJob_revertsWhenPriceAboveMax() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__PriceAboveMax.selector, ETH_PRICE, ETH_PRICE - 1
            )
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE}(_jobParams(provider, address(0), ETH_PRICE - 1));
    }

    function test_openJob_revertsWhenEthValueWrong() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__WrongValue.selector, ETH_PRICE + 1, ETH_PRICE
            )
        );
        vm.prank(bob);
        compute.openJob{value: ETH_PRICE + 1}(_jobParams(provider, address(0), ETH_PRICE));
    }

    function test_openJob_revertsWhenEthSentForErc20Job() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__WrongValue.selector, 1, 0));
        vm.prank(bob);
        compute.openJob{value: 1}(_jobParams(usdProvider, address(usd), USD_PRICE));
    }

    function test_openJob_revertsWhenConsumerHoldsNoAccessToken() public {
        vm.deal(carol, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NoAccessToken.selector, datasetId, carol)
        );
        vm.prank(carol);
        compute.openJob{value: ETH_PRICE}(_jobParams(provider, address(0), ETH_PRICE));
    }

    function test_openJob_revertsWhenFeeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        // Allowed by the DAO and hostile anyway (e.g. upgraded later): the market defends itself.
        _allowCurrency(address(fot));
        vm.prank(usdProvider);
        compute.updateProvider(ENDPOINT, address(fot), 100e18);
        fot.mint(bob, 100e18);
        vm.prank(bob);
        fot.approve(address(compute), type(uint256).max);

        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__TransferMismatch.selector, 100e18, 99e18)
        );
        vm.prank(bob);
        compute.openJob(_jobParams(usdProvider, address(fot), 100e18));
    }

    // ---------------------------------------------------------------- postResult

    function test_postResult_recordsResultAndEmits() public {
        uint256 jobId = _openEthJob();
        uint64 challengeEnd = uint64(block.timestamp) + CHALLENGE_WINDOW;
        vm.expectEmit(address(compute));
        emit IComputeMarket.ResultPosted(jobId, RESULT_CID, OUTPUT_HASH, challengeEnd);
        vm.prank(provider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
        IComputeMarket.Job memory job = compute.getJob(jobId);
        assertEq(uint8(job.status), uint8(IComputeMarket.JobStatus.ResultPosted));
        assertEq(job.challengeEnd, challengeEnd);
        assertEq(job.outputHash, OUTPUT_HASH);
    }

    function test_postResult_succeedsAtDeadline() public {
        uint256 jobId = _openEthJob();
        vm.warp(compute.getJob(jobId).deadline);
        _post(jobId);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.ResultPosted));
    }

    function test_postResult_revertsWhenNotJobProvider() public {
        uint256 jobId = _openEthJob();
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotJobProvider.selector, jobId, usdProvider)
        );
        vm.prank(usdProvider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
    }

    function test_postResult_revertsWhenDeadlinePassed() public {
        uint256 jobId = _openEthJob();
        uint256 deadline = compute.getJob(jobId).deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__DeadlinePassed.selector, jobId, deadline)
        );
        vm.prank(provider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
    }

    function test_postResult_revertsWhenAlreadyPosted() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.ResultPosted));
        vm.prank(provider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
    }

    function test_postResult_revertsWhenJobUnknown() public {
        vm.expectRevert(_wrongStatus(42, IComputeMarket.JobStatus.None));
        vm.prank(provider);
        compute.postResult(42, RESULT_CID, OUTPUT_HASH);
    }

    function test_postResult_revertsWhenCidInvalid() public {
        uint256 jobId = _openEthJob();
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidCid.selector, 0));
        vm.prank(provider);
        compute.postResult(jobId, "", OUTPUT_HASH);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidCid.selector, 129));
        vm.prank(provider);
        compute.postResult(jobId, string(new bytes(129)), OUTPUT_HASH);
    }

    function test_postResult_revertsWhenOutputHashZero() public {
        uint256 jobId = _openEthJob();
        vm.expectRevert(IComputeMarket.ComputeMarket__ZeroOutputHash.selector);
        vm.prank(provider);
        compute.postResult(jobId, RESULT_CID, bytes32(0));
    }

    // ---------------------------------------------------------------- finalize

    function test_finalize_paysProviderMinusFeeAndAccruesFee() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        uint256 fee = _fee(ETH_PRICE);
        uint256 before = provider.balance;

        vm.expectEmit(address(compute));
        emit IComputeMarket.JobFinalized(jobId, ETH_PRICE - fee, fee);
        vm.prank(carol); // anyone may finalize
        compute.finalize(jobId);

        assertEq(provider.balance - before, ETH_PRICE - fee);
        assertEq(compute.accruedFees(address(0)), fee);
        assertEq(address(compute).balance, 2 * MIN_STAKE + fee);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Finalized));
        assertEq(compute.getProvider(provider).activeJobs, 0);

        uint256 treasuryBefore = address(timelock).balance;
        vm.expectEmit(address(compute));
        emit IComputeMarket.FeesReleased(address(0), address(timelock), fee);
        assertEq(compute.releaseFees(address(0)), fee);
        assertEq(address(timelock).balance - treasuryBefore, fee);
        assertEq(compute.accruedFees(address(0)), 0);
    }

    function test_finalize_usesFeeInForceWhenOpened() public {
        uint256 jobId = _openEthJob();
        uint256 agreedFee = _fee(ETH_PRICE);
        IComputeMarket.Params memory p = compute.params();
        p.feeBps = 1000; // the DAO raises the fee while the job runs
        vm.prank(address(timelock));
        compute.setParams(p);
        assertEq(compute.getJob(jobId).feeBps, FEE_BPS);

        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        uint256 before = provider.balance;
        compute.finalize(jobId);
        assertEq(provider.balance - before, ETH_PRICE - agreedFee);
        assertEq(compute.accruedFees(address(0)), agreedFee);
    }

    function test_finalize_paysErc20Provider() public {
        uint256 jobId = _openUsdJob();
        vm.prank(usdProvider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        compute.finalize(jobId);
        uint256 fee = _fee(USD_PRICE);
        assertEq(usd.balanceOf(usdProvider), USD_PRICE - fee);
        assertEq(compute.accruedFees(address(usd)), fee);
        assertEq(compute.releaseFees(address(usd)), fee);
        assertEq(usd.balanceOf(address(timelock)), fee);
        assertEq(usd.balanceOf(address(compute)), 0);
    }

    function test_finalize_revertsWhenChallengeWindowOpen() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        uint256 challengeEnd = compute.getJob(jobId).challengeEnd;
        vm.warp(challengeEnd);
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__ChallengeWindowOpen.selector, jobId, challengeEnd
            )
        );
        compute.finalize(jobId);
    }

    function test_finalize_revertsWhenAlreadyFinalized() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        compute.finalize(jobId);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.Finalized));
        compute.finalize(jobId);
    }

    function test_finalize_revertsWhenNoResultPosted() public {
        uint256 jobId = _openEthJob();
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.Open));
        compute.finalize(jobId);
    }

    // ---------------------------------------------------------------- refund

    function test_refund_returnsPaymentAfterDeadline() public {
        uint256 jobId = _openEthJob();
        vm.warp(compute.getJob(jobId).deadline + 1);
        uint256 before = bob.balance;
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobRefunded(jobId, ETH_PRICE);
        vm.prank(carol); // anyone may refund
        compute.refund(jobId);
        assertEq(bob.balance - before, ETH_PRICE);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Refunded));
        assertEq(compute.getProvider(provider).activeJobs, 0);
        assertEq(address(compute).balance, 2 * MIN_STAKE);
        // The access token stays spent.
        assertEq(datasetToken.balanceOf(bob), 4);
    }

    function test_declineJob_refundsConsumerAtOnce() public {
        uint256 jobId = _openEthJob();
        uint256 before = bob.balance;
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobRefunded(jobId, ETH_PRICE);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobDeclined(jobId, provider);
        vm.prank(provider);
        compute.declineJob(jobId);
        assertEq(bob.balance - before, ETH_PRICE);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Refunded));
        assertEq(compute.getProvider(provider).activeJobs, 0);
        assertEq(address(compute).balance, 2 * MIN_STAKE);
    }

    function test_declineJob_returnsErc20Payment() public {
        uint256 jobId = _openUsdJob();
        vm.prank(usdProvider);
        compute.declineJob(jobId);
        assertEq(usd.balanceOf(bob), 1_000e6);
        assertEq(usd.balanceOf(address(compute)), 0);
    }

    function test_declineJob_revertsWhenNotJobProvider() public {
        uint256 jobId = _openEthJob();
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NotJobProvider.selector, jobId, bob)
        );
        vm.prank(bob);
        compute.declineJob(jobId);
    }

    function test_declineJob_revertsWhenResultPosted() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.ResultPosted));
        vm.prank(provider);
        compute.declineJob(jobId);
    }

    function test_refund_returnsErc20Payment() public {
        uint256 jobId = _openUsdJob();
        vm.warp(compute.getJob(jobId).deadline + 1);
        compute.refund(jobId);
        assertEq(usd.balanceOf(bob), 1_000e6);
        assertEq(usd.balanceOf(address(compute)), 0);
    }

    function test_refund_revertsWhenDeadlineNotReached() public {
        uint256 jobId = _openEthJob();
        uint256 deadline = compute.getJob(jobId).deadline;
        vm.warp(deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__DeadlineNotReached.selector, jobId, deadline)
        );
        compute.refund(jobId);
    }

    function test_refund_revertsWhenResultPosted() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.warp(compute.getJob(jobId).deadline + 1);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.ResultPosted));
        compute.refund(jobId);
    }

    function test_refund_revertsWhenAlreadyRefunded() public {
        uint256 jobId = _openEthJob();
        vm.warp(compute.getJob(jobId).deadline + 1);
        compute.refund(jobId);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.Refunded));
        compute.refund(jobId);
    }

    function test_refund_reentrancyFromConsumerIsBlocked() public {
        ReentrantConsumer attacker = new ReentrantConsumer(compute);
        vm.prank(alice);
        datasetToken.grant(address(attacker), 2);
        vm.deal(address(attacker), 0);
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        uint256 first = attacker.open{value: ETH_PRICE}(p);
        uint256 second = attacker.open{value: ETH_PRICE}(p);
        vm.warp(p.deadline + 1);

        // Re-entry that bubbles up: the whole refund fails.
        attacker.arm(second, false);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        compute.refund(first);

        // Re-entry that is caught: the outer refund goes through, the inner one never runs.
        attacker.arm(second, true);
        compute.refund(first);
        assertEq(
            attacker.reentryError(),
            abi.encodePacked(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
        assertEq(attacker.received(), ETH_PRICE);
        assertEq(uint8(compute.getJob(first).status), uint8(IComputeMarket.JobStatus.Refunded));
        assertEq(uint8(compute.getJob(second).status), uint8(IComputeMarket.JobStatus.Open));
        assertEq(address(compute).balance, 2 * MIN_STAKE + ETH_PRICE);

        // The same job re-entered is blocked as well.
        attacker.arm(second, true);
        compute.refund(second);
        assertEq(attacker.received(), 2 * ETH_PRICE);
        assertEq(address(compute).balance, 2 * MIN_STAKE);
    }

    // ---------------------------------------------------------------- dispute

    function test_dispute_bondsAndEmits() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobDisputed(jobId, challenger, DISPUTE_BOND, REASON_CID);
        vm.prank(challenger);
        compute.dispute{value: DISPUTE_BOND}(jobId, REASON_CID);
        IComputeMarket.Job memory job = compute.getJob(jobId);
        assertEq(uint8(job.status), uint8(IComputeMarket.JobStatus.Disputed));
        assertEq(job.challenger, challenger);
        assertEq(job.bond, DISPUTE_BOND);
        assertEq(address(compute).balance, 2 * MIN_STAKE + ETH_PRICE + DISPUTE_BOND);
    }

    function test_dispute_succeedsAtChallengeEnd() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.warp(compute.getJob(jobId).challengeEnd);
        _dispute(jobId);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Disputed));
    }

    function test_dispute_revertsWhenBondWrong() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__WrongValue.selector, DISPUTE_BOND - 1, DISPUTE_BOND
            )
        );
        vm.prank(challenger);
        compute.dispute{value: DISPUTE_BOND - 1}(jobId, REASON_CID);
    }

    function test_dispute_revertsWhenChallengeWindowClosed() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        uint256 challengeEnd = compute.getJob(jobId).challengeEnd;
        vm.warp(challengeEnd + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__ChallengeWindowClosed.selector, jobId, challengeEnd
            )
        );
        vm.prank(challenger);
        compute.dispute{value: DISPUTE_BOND}(jobId, REASON_CID);
    }

    function test_dispute_revertsWhenNoResultPosted() public {
        uint256 jobId = _openEthJob();
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.Open));
        vm.prank(challenger);
        compute.dispute{value: DISPUTE_BOND}(jobId, REASON_CID);
    }

    function test_dispute_revertsWhenAlreadyDisputed() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        _dispute(jobId);
        vm.deal(carol, 1 ether);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.Disputed));
        vm.prank(carol);
        compute.dispute{value: DISPUTE_BOND}(jobId, REASON_CID);
    }

    function test_dispute_revertsWhenReasonInvalid() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__InvalidCid.selector, 0));
        vm.prank(challenger);
        compute.dispute{value: DISPUTE_BOND}(jobId, "");
    }

    function test_finalize_revertsWhenDisputed() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        _dispute(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.Disputed));
        compute.finalize(jobId);
    }

    // ---------------------------------------------------------------- ruleDispute

    function test_ruleDispute_atFaultCreditsConsumerAndChallengerAndSlashes() public {
        uint256 jobId = _disputedEthJob();
        uint128 slash = 0.4 ether;

        vm.expectEmit(address(compute));
        emit IComputeMarket.DisputeRuled(jobId, true, slash);
        vm.expectEmit(address(compute));
        emit IComputeMarket.Credited(bob, address(0), ETH_PRICE);
        vm.expectEmit(address(compute));
        emit IComputeMarket.Credited(challenger, address(0), DISPUTE_BOND);
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, slash);

        assertEq(compute.claimable(bob, address(0)), ETH_PRICE);
        assertEq(compute.claimable(challenger, address(0)), DISPUTE_BOND);
        assertEq(compute.accruedFees(address(0)), slash);
        IComputeMarket.Provider memory p = compute.getProvider(provider);
        assertEq(p.stake, MIN_STAKE - slash);
        assertEq(p.activeJobs, 0);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.RuledAgainstProvider));

        uint256 bobBefore = bob.balance;
        uint256 challengerBefore = challenger.balance;
        vm.expectEmit(address(compute));
        emit IComputeMarket.Claimed(bob, address(0), ETH_PRICE);
        vm.prank(bob);
        assertEq(compute.claim(address(0)), ETH_PRICE);
        vm.prank(challenger);
        compute.claim(address(0));
        assertEq(bob.balance - bobBefore, ETH_PRICE);
        assertEq(challenger.balance - challengerBefore, DISPUTE_BOND);
        assertEq(compute.claimable(bob, address(0)), 0);
        assertEq(address(compute).balance, 2 * MIN_STAKE);
    }

    function test_ruleDispute_atFaultCreditsErc20Consumer() public {
        uint256 jobId = _openUsdJob();
        vm.prank(usdProvider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
        _dispute(jobId);
        vm.prank(address(timelock));
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.ruleDispute(jobId, true, uint128(MIN_STAKE));
        assertEq(compute.claimable(bob, address(usd)), USD_PRICE);
        vm.prank(bob);
        compute.claim(address(usd));
        assertEq(usd.balanceOf(bob), 1_000e6);
        assertEq(compute.getProvider(usdProvider).stake, 0);
        assertEq(compute.accruedFees(address(0)), MIN_STAKE);
        assertEq(compute.accruedFees(address(usd)), 0);
    }

    function test_ruleDispute_notAtFaultCreditsProviderAndForfeitsBond() public {
        uint256 jobId = _disputedEthJob();
        uint256 challengerBefore = challenger.balance;
        uint256 fee = _fee(ETH_PRICE);

        vm.expectEmit(address(compute));
        emit IComputeMarket.DisputeRuled(jobId, false, 0);
        vm.expectEmit(address(compute));
        emit IComputeMarket.JobFinalized(jobId, ETH_PRICE - fee, fee);
        vm.expectEmit(address(compute));
        emit IComputeMarket.Credited(provider, address(0), ETH_PRICE - fee);
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, false, 0.4 ether); // the slash is ignored when not at fault

        assertEq(compute.claimable(provider, address(0)), ETH_PRICE - fee);
        assertEq(challenger.balance, challengerBefore);
        assertEq(compute.claimable(challenger, address(0)), 0);
        assertEq(compute.accruedFees(address(0)), fee + DISPUTE_BOND);
        assertEq(compute.getProvider(provider).stake, MIN_STAKE);
        assertEq(compute.getProvider(provider).activeJobs, 0);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Finalized));

        uint256 providerBefore = provider.balance;
        vm.prank(provider);
        compute.claim(address(0));
        assertEq(provider.balance - providerBefore, ETH_PRICE - fee);
        assertEq(address(compute).balance, 2 * MIN_STAKE + fee + DISPUTE_BOND);
    }

    function test_ruleDispute_revertsWhenSlashTooLarge() public {
        uint256 jobId = _disputedEthJob();
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__SlashTooLarge.selector, MIN_STAKE + 1, MIN_STAKE
            )
        );
        vm.prank(address(timelock));
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.ruleDispute(jobId, true, uint128(MIN_STAKE + 1));
    }

    function test_ruleDispute_revertsWhenNotDisputed() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.ResultPosted));
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0);
    }

    function test_ruleDispute_revertsWhenCallerNotOwner() public {
        uint256 jobId = _disputedEthJob();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, deployer));
        vm.prank(deployer);
        compute.ruleDispute(jobId, true, 0);
    }

    /// @dev Regression: rulings used to push ETH, so a challenger whose `receive` reverts blocked the
    /// at-fault ruling, and a provider could self-dispute its own bad result from such a contract and force
    /// "not at fault". Rulings now only credit; the rejecting challenger just cannot claim.
    function test_ruleDispute_atFaultSucceedsWhenChallengerRejectsEth() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        EthRejectingChallenger rejecting = new EthRejectingChallenger();
        vm.prank(provider);
        rejecting.dispute{value: DISPUTE_BOND}(compute, jobId, REASON_CID);

        vm.prank(address(timelock));
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.ruleDispute(jobId, true, uint128(MIN_STAKE));
        uint256 bobBefore = bob.balance;
        vm.prank(bob);
        compute.claim(address(0));
        assertEq(bob.balance - bobBefore, ETH_PRICE);
        assertEq(compute.claimable(address(rejecting), address(0)), DISPUTE_BOND);
        assertEq(compute.getProvider(provider).stake, 0);
    }

    function test_ruleDispute_succeedsAtRulingDeadline() public {
        uint256 jobId = _disputedEthJob();
        vm.warp(_rulingDeadline(jobId));
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0);
        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.RuledAgainstProvider));
    }

    function test_ruleDispute_revertsWhenRulingWindowClosed() public {
        uint256 jobId = _disputedEthJob();
        uint256 deadline = _rulingDeadline(jobId);
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__RulingWindowClosed.selector, jobId, deadline)
        );
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0);
    }

    // ---------------------------------------------------------------- expireDispute

    function test_dispute_fixesRulingWindow() public {
        uint256 jobId = _disputedEthJob();
        IComputeMarket.Job memory job = compute.getJob(jobId);
        assertEq(job.rulingWindow, RULING_WINDOW);
        assertEq(_rulingDeadline(jobId), uint256(job.challengeEnd) + RULING_WINDOW);
    }

    function test_expireDispute_revertsWhenRulingWindowOpen() public {
        uint256 jobId = _disputedEthJob();
        uint256 deadline = _rulingDeadline(jobId);
        vm.warp(deadline); // the DAO may still rule in the deadline's own second
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__RulingWindowOpen.selector, jobId, deadline)
        );
        compute.expireDispute(jobId);
    }

    function test_expireDispute_revertsWhenNotDisputed() public {
        uint256 jobId = _openEthJob();
        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + RULING_WINDOW + 1);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.ResultPosted));
        compute.expireDispute(jobId);
    }

    function test_expireDispute_revertsWhenAlreadyRuled() public {
        uint256 jobId = _disputedEthJob();
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0);
        vm.warp(_rulingDeadline(jobId) + 1);
        vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.RuledAgainstProvider));
        compute.expireDispute(jobId);
    }

    /// @dev The default: the result stands (provider paid less the fee), the bond goes back; no slash.
    function test_expireDispute_creditsProviderAndReturnsBond() public {
        uint256 jobId = _disputedEthJob();
        uint256 deadline = _rulingDeadline(jobId);
        uint256 fee = _fee(ETH_PRICE);
        uint256 held = address(compute).balance;
        assertEq(held, 2 * MIN_STAKE + ETH_PRICE + DISPUTE_BOND);
        vm.warp(deadline + 1);

        vm.expectEmit(address(compute));
        emit IComputeMarket.JobFinalized(jobId, ETH_PRICE - fee, fee);
        vm.expectEmit(address(compute));
        emit IComputeMarket.Credited(provider, address(0), ETH_PRICE - fee);
        vm.expectEmit(address(compute));
        emit IComputeMarket.Credited(challenger, address(0), DISPUTE_BOND);
        vm.expectEmit(address(compute));
        emit IComputeMarket.DisputeExpired(jobId, challenger, DISPUTE_BOND, deadline);
        vm.prank(carol); // anyone
        compute.expireDispute(jobId);

        assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Finalized));
        assertEq(compute.claimable(provider, address(0)), ETH_PRICE - fee);
        assertEq(compute.claimable(challenger, address(0)), DISPUTE_BOND);
        assertEq(compute.claimable(bob, address(0)), 0);
        assertEq(compute.accruedFees(address(0)), fee);
        IComputeMarket.Provider memory p = compute.getProvider(provider);
        assertEq(p.stake, MIN_STAKE);
        assertEq(p.activeJobs, 0);
        // Nothing moved yet: the market holds exactly what it owes.
        assertEq(address(compute).balance, held);
        assertEq(held, 2 * MIN_STAKE + (ETH_PRICE - fee) + DISPUTE_BOND + fee);

        uint256 challengerBefore = challenger.balance;
        vm.prank(challenger);
        compute.claim(address(0));
        assertEq(challenger.balance - challengerBefore, DISPUTE_BOND);
        vm.prank(provider);
        compute.claim(address(0));
        compute.releaseFees(address(0));
        assertEq(address(compute).balance, 2 * MIN_STAKE);
    }

    function test_expireDispute_creditsErc20Payout() public {
        uint256 jobId = _openUsdJob();
        _post(jobId);
        _dispute(jobId);
        vm.warp(_rulingDeadline(jobId) + 1);
        compute.expireDispute(jobId);
        uint256 fee = _fee(USD_PRICE);
        assertEq(compute.claimable(usdProvider, address(usd)), USD_PRICE - fee);
        assertEq(compute.accruedFees(address(usd)), fee);
        assertEq(compute.claimable(challenger, address(0)), DISPUTE_BOND);
        vm.prank(usdProvider);
        compute.claim(address(usd));
        assertEq(usd.balanceOf(usdProvider), USD_PRICE - fee);
        assertEq(usd.balanceOf(address(compute)), fee);
    }

    /// @dev The lock the deadline exists for: an unruled dispute no longer holds the provider's stake.
    function test_expireDispute_freesTheStakeOfAnExitingProvider() public {
        uint256 jobId = _disputedEthJob();
        vm.prank(provider);
        compute.requestExit();
        vm.warp(block.timestamp + EXIT_COOLDOWN);
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__JobsInFlight.selector, 1));
        vm.prank(provider);
        compute.withdrawStake();

        vm.warp(_rulingDeadline(jobId) + 1);
        compute.expireDispute(jobId);
        uint256 before = provider.balance;
        vm.prank(provider);
        compute.withdrawStake();
        assertEq(provider.balance - before, MIN_STAKE);
    }

    /// @dev A parameter change after the dispute neither shortens nor extends its deadline.
    function test_expireDispute_usesRulingWindowFixedAtDispute() public {
        uint256 jobId = _disputedEthJob();
        uint256 deadline = _rulingDeadline(jobId);
        IComputeMarket.Params memory p = compute.params();
        p.rulingWindow = 1 hours;
        vm.prank(address(timelock));
        compute.setParams(p);
        assertEq(_rulingDeadline(jobId), deadline);

        vm.warp(uint256(compute.getJob(jobId).challengeEnd) + 1 hours + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__RulingWindowOpen.selector, jobId, deadline)
        );
        compute.expireDispute(jobId);
        vm.warp(deadline + 1);
        compute.expireDispute(jobId);
    }

    /// @dev Either side of the deadline, for any window and any wait: before it only the DAO settles,
    /// after it only the default does, and the market always holds what it owes.
    function testFuzz_expireDispute_settlesOnlyAfterDeadlineAndConservesValue(uint64 window, uint256 wait)
        public
    {
        window = uint64(bound(window, 1, compute.MAX_PERIOD()));
        IComputeMarket.Params memory p = compute.params();
        p.rulingWindow = window;
        vm.prank(address(timelock));
        compute.setParams(p);
        uint256 jobId = _disputedEthJob();
        uint256 deadline = _rulingDeadline(jobId);
        assertEq(deadline, uint256(compute.getJob(jobId).challengeEnd) + window);
        uint256 held = address(compute).balance;

        vm.warp(bound(wait, block.timestamp, deadline + 365 days));
        if (block.timestamp <= deadline) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IComputeMarket.ComputeMarket__RulingWindowOpen.selector, jobId, deadline
                )
            );
            compute.expireDispute(jobId);
            return;
        }
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__RulingWindowClosed.selector, jobId, deadline)
        );
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0);
        compute.expireDispute(jobId);
        uint256 owed = compute.claimable(provider, address(0)) + compute.claimable(challenger, address(0))
            + compute.accruedFees(address(0)) + compute.getProvider(provider).stake
            + compute.getProvider(usdProvider).stake;
        assertEq(address(compute).balance, held);
        assertEq(owed, held);
    }

    // ---------------------------------------------------------------- currency allow-list

    function test_registerProvider_revertsWhenCurrencyNotAllowed() public {
        MockStablecoin other = new MockStablecoin();
        vm.deal(carol, MIN_STAKE);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__CurrencyNotAllowed.selector, address(other))
        );
        vm.prank(carol);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, address(other), 1e6);
    }

    function test_registerProvider_revertsWhenCurrencyHasNoCode() public {
        address nothing = makeAddr("not a token");
        vm.deal(carol, MIN_STAKE);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__CurrencyNotAllowed.selector, nothing)
        );
        vm.prank(carol);
        compute.registerProvider{value: MIN_STAKE}(ENDPOINT, nothing, 1e6);
    }

    function test_updateProvider_revertsWhenCurrencyNotAllowed() public {
        MockStablecoin other = new MockStablecoin();
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__CurrencyNotAllowed.selector, address(other))
        );
        vm.prank(provider);
        compute.updateProvider(ENDPOINT, address(other), 1e6);
    }

    /// @dev Disallowing a currency changes no existing terms and locks nothing: the provider's open job
    /// settles, it keeps taking jobs at its terms, and only new terms in the currency are refused.
    function test_disallowCurrency_keepsProviderTermsAndSettlesJobs() public {
        uint256 jobId = _openUsdJob();
        vm.prank(address(timelock));
        marketplace.disallowCurrency(address(usd));

        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        compute.finalize(jobId);
        assertEq(usd.balanceOf(usdProvider), USD_PRICE - _fee(USD_PRICE));
        assertEq(compute.releaseFees(address(usd)), _fee(USD_PRICE));
        uint256 refunded = _openUsdJob();
        vm.warp(block.timestamp + JOB_TIME + 1);
        compute.refund(refunded);
        assertEq(usd.balanceOf(address(compute)), 0);

        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__CurrencyNotAllowed.selector, address(usd))
        );
        vm.prank(usdProvider);
        compute.updateProvider(ENDPOINT, address(usd), USD_PRICE);
        vm.prank(usdProvider);
        compute.updateProvider(ENDPOINT, address(0), ETH_PRICE);
        assertEq(compute.getProvider(usdProvider).currency, address(0));
    }

    // ---------------------------------------------------------------- claim

    function test_claim_revertsWhenNothingCredited() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NothingToClaim.selector, bob, address(0))
        );
        vm.prank(bob);
        compute.claim(address(0));
    }

    function test_claim_revertsOnSecondClaim() public {
        uint256 jobId = _disputedEthJob();
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0);
        vm.startPrank(bob);
        compute.claim(address(0));
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NothingToClaim.selector, bob, address(0))
        );
        compute.claim(address(0));
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- slashed providers

    function test_openJob_revertsWhenSlashedBelowMinStake() public {
        uint256 jobId = _disputedEthJob();
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0.1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__StakeTooLow.selector, MIN_STAKE - 0.1 ether, MIN_STAKE
            )
        );
        _openEthJob();

        vm.prank(provider);
        compute.addStake{value: 0.1 ether}();
        _openEthJob(); // topped up: takes work again
    }

    // ---------------------------------------------------------------- setParams / setFeeRecipient / releaseFees

    function test_setParams_updatesAndEmits() public {
        IComputeMarket.Params memory p = IComputeMarket.Params({
            minStake: 2 ether,
            disputeBond: 0.5 ether,
            challengeWindow: 2 days,
            exitCooldown: 0,
            feeBps: 1000,
            rulingWindow: 30 days
        });
        vm.expectEmit(address(compute));
        emit IComputeMarket.ParamsUpdated(p);
        vm.prank(address(timelock));
        compute.setParams(p);
        IComputeMarket.Params memory stored = compute.params();
        assertEq(stored.minStake, 2 ether);
        assertEq(stored.disputeBond, 0.5 ether);
        assertEq(stored.challengeWindow, 2 days);
        assertEq(stored.exitCooldown, 0);
        assertEq(stored.feeBps, 1000);
        assertEq(stored.rulingWindow, 30 days);
    }

    function test_setParams_revertsWhenCallerNotOwner() public {
        IComputeMarket.Params memory p = compute.params();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        compute.setParams(p);
    }

    function test_setParams_revertsWhenFeeTooHigh() public {
        IComputeMarket.Params memory p = compute.params();
        p.feeBps = 1001;
        vm.expectRevert(abi.encodeWithSelector(IComputeMarket.ComputeMarket__FeeTooHigh.selector, 1001, 1000));
        vm.prank(address(timelock));
        compute.setParams(p);
    }

    function test_setParams_revertsWhenOutOfRange() public {
        uint64 maxPeriod = compute.MAX_PERIOD();
        IComputeMarket.Params memory base = compute.params();
        IComputeMarket.Params[7] memory bad;
        for (uint256 i; i < bad.length; ++i) {
            bad[i] = IComputeMarket.Params(
                base.minStake,
                base.disputeBond,
                base.challengeWindow,
                base.exitCooldown,
                base.feeBps,
                base.rulingWindow
            );
        }
        bad[0].challengeWindow = 0;
        bad[1].challengeWindow = maxPeriod + 1;
        bad[2].exitCooldown = maxPeriod + 1;
        bad[3].disputeBond = 0;
        bad[4].disputeBond = uint128(type(uint96).max) + 1;
        bad[5].rulingWindow = 0;
        bad[6].rulingWindow = maxPeriod + 1;
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(IComputeMarket.ComputeMarket__InvalidParams.selector);
            vm.prank(address(timelock));
            compute.setParams(bad[i]);
        }
    }

    function test_setFeeRecipient_updatesAndEmits() public {
        vm.expectEmit(address(compute));
        emit IComputeMarket.FeeRecipientUpdated(address(timelock), carol);
        vm.prank(address(timelock));
        compute.setFeeRecipient(carol);
        assertEq(compute.feeRecipient(), carol);

        // Fees now go to the new recipient.
        uint256 jobId = _disputedEthJob();
        vm.prank(address(timelock));
        compute.ruleDispute(jobId, true, 0.3 ether);
        compute.releaseFees(address(0));
        assertEq(carol.balance, 0.3 ether);
    }

    function test_setFeeRecipient_revertsWhenCallerNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, bob));
        vm.prank(bob);
        compute.setFeeRecipient(bob);
    }

    function test_setFeeRecipient_revertsWhenZero() public {
        vm.expectRevert(IComputeMarket.ComputeMarket__ZeroAddress.selector);
        vm.prank(address(timelock));
        compute.setFeeRecipient(address(0));
    }

    function test_releaseFees_revertsWhenNothingAccrued() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeMarket.ComputeMarket__NothingToRelease.selector, address(usd))
        );
        compute.releaseFees(address(usd));
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_finalize_feeMath(uint128 price, uint16 feeBps) public {
        price = uint128(bound(price, 0, type(uint96).max));
        feeBps = uint16(bound(feeBps, 0, compute.MAX_FEE_BPS()));
        IComputeMarket.Params memory p = compute.params();
        p.feeBps = feeBps;
        vm.prank(address(timelock));
        compute.setParams(p);
        vm.prank(provider);
        compute.updateProvider(ENDPOINT, address(0), price);
        vm.deal(bob, price);

        vm.prank(bob);
        uint256 jobId = compute.openJob{value: price}(_jobParams(provider, address(0), price));
        _post(jobId);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        uint256 before = provider.balance;
        compute.finalize(jobId);

        uint256 fee = uint256(price) * feeBps / 10_000;
        uint256 payout = provider.balance - before;
        assertEq(compute.accruedFees(address(0)), fee);
        assertEq(payout + fee, price);
        assertLe(fee * 10_000, uint256(price) * feeBps);
        assertEq(address(compute).balance, 2 * MIN_STAKE + fee);
    }

    function testFuzz_postResult_onlyUntilDeadline(uint64 duration, uint64 elapsed) public {
        duration = uint64(bound(duration, 1, 365 days));
        elapsed = uint64(bound(elapsed, 0, 2 * uint256(duration)));
        IComputeMarket.OpenJobParams memory p = _jobParams(provider, address(0), ETH_PRICE);
        p.deadline = uint64(block.timestamp) + duration;
        vm.prank(bob);
        uint256 jobId = compute.openJob{value: ETH_PRICE}(p);
        vm.warp(block.timestamp + elapsed);

        if (block.timestamp <= p.deadline) {
            _post(jobId);
            assertEq(compute.getJob(jobId).challengeEnd, block.timestamp + CHALLENGE_WINDOW);
            vm.expectRevert(_wrongStatus(jobId, IComputeMarket.JobStatus.ResultPosted));
            compute.refund(jobId);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IComputeMarket.ComputeMarket__DeadlinePassed.selector, jobId, p.deadline
                )
            );
            vm.prank(provider);
            compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
            compute.refund(jobId);
            assertEq(uint8(compute.getJob(jobId).status), uint8(IComputeMarket.JobStatus.Refunded));
        }
    }

    function testFuzz_finalizeAndDispute_splitAtChallengeEnd(uint64 window, uint64 elapsed) public {
        window = uint64(bound(window, 1, compute.MAX_PERIOD()));
        elapsed = uint64(bound(elapsed, 0, 2 * uint256(window)));
        IComputeMarket.Params memory p = compute.params();
        p.challengeWindow = window;
        vm.prank(address(timelock));
        compute.setParams(p);
        uint256 jobId = _openEthJob();
        _post(jobId);
        uint256 challengeEnd = block.timestamp + window;
        vm.warp(block.timestamp + elapsed);

        if (block.timestamp <= challengeEnd) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IComputeMarket.ComputeMarket__ChallengeWindowOpen.selector, jobId, challengeEnd
                )
            );
            compute.finalize(jobId);
            _dispute(jobId);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IComputeMarket.ComputeMarket__ChallengeWindowClosed.selector, jobId, challengeEnd
                )
            );
            vm.prank(challenger);
            compute.dispute{value: DISPUTE_BOND}(jobId, REASON_CID);
            compute.finalize(jobId);
        }
    }

    function testFuzz_ruleDispute_slashBoundedByStake(uint128 slash, uint128 extraStake) public {
        extraStake = uint128(bound(extraStake, 0, 50 ether));
        if (extraStake != 0) {
            vm.prank(provider);
            compute.addStake{value: extraStake}();
        }
        uint256 stake = MIN_STAKE + extraStake;
        uint256 jobId = _disputedEthJob();
        if (slash > stake) {
            vm.expectRevert(
                abi.encodeWithSelector(IComputeMarket.ComputeMarket__SlashTooLarge.selector, slash, stake)
            );
            vm.prank(address(timelock));
            compute.ruleDispute(jobId, true, slash);
        } else {
            vm.prank(address(timelock));
            compute.ruleDispute(jobId, true, slash);
            assertEq(compute.getProvider(provider).stake, stake - slash);
            assertEq(compute.accruedFees(address(0)), slash);
            // The consumer's payment and the challenger's bond wait, credited, for their claims.
            assertEq(address(compute).balance, MIN_STAKE + stake + ETH_PRICE + DISPUTE_BOND);
        }
    }

    // ---------------------------------------------------------------- helpers

    function _publishKind(IAssetRegistry.AssetKind kind, string memory salt) internal returns (uint256 id) {
        IAssetRegistry.PublishParams memory p = _params(alice, address(0), 0);
        p.kind = kind;
        p.contentDigest = keccak256(bytes(salt));
        (id,) = _publish(p);
    }

    function _jobParams(address provider_, address currency, uint256 maxPayment)
        internal
        view
        returns (IComputeMarket.OpenJobParams memory)
    {
        return IComputeMarket.OpenJobParams({
            datasetId: datasetId,
            algorithmId: algorithmId,
            provider: provider_,
            specCid: SPEC_CID,
            currency: currency,
            maxPayment: maxPayment,
            deadline: uint64(block.timestamp) + JOB_TIME
        });
    }

    function _openEthJob() internal returns (uint256 jobId) {
        vm.prank(bob);
        jobId = compute.openJob{value: ETH_PRICE}(_jobParams(provider, address(0), ETH_PRICE));
    }

    function _openUsdJob() internal returns (uint256 jobId) {
        vm.prank(bob);
        jobId = compute.openJob(_jobParams(usdProvider, address(usd), USD_PRICE));
    }

    function _post(uint256 jobId) internal {
        vm.prank(compute.getJob(jobId).provider);
        compute.postResult(jobId, RESULT_CID, OUTPUT_HASH);
    }

    function _dispute(uint256 jobId) internal {
        vm.prank(challenger);
        compute.dispute{value: DISPUTE_BOND}(jobId, REASON_CID);
    }

    function _disputedEthJob() internal returns (uint256 jobId) {
        jobId = _openEthJob();
        _post(jobId);
        _dispute(jobId);
    }

    function _rulingDeadline(uint256 jobId) internal view returns (uint256) {
        IComputeMarket.Job memory job = compute.getJob(jobId);
        return uint256(job.challengeEnd) + job.rulingWindow;
    }

    function _fee(uint256 amount) internal pure returns (uint256) {
        return amount * FEE_BPS / 10_000;
    }

    function _wrongStatus(uint256 jobId, IComputeMarket.JobStatus status)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(IComputeMarket.ComputeMarket__WrongStatus.selector, jobId, status);
    }
}
