// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Vm} from "forge-std/Vm.sol";
import {ComputeMarket} from "../../../src/ComputeMarket.sol";
import {Marketplace} from "../../../src/Marketplace.sol";
import {RevenueSplitter} from "../../../src/RevenueSplitter.sol";
import {AccessToken} from "../../../src/AccessToken.sol";
import {IComputeMarket} from "../../../src/interfaces/IComputeMarket.sol";
import {IMarketplace} from "../../../src/interfaces/IMarketplace.sol";
import {IAccessToken} from "../../../src/interfaces/IAccessToken.sol";
import {IAssetRegistry} from "../../../src/interfaces/IAssetRegistry.sol";
import {MockStablecoin} from "../../mocks/MockStablecoin.sol";

/// @notice Drives the compute market through whole job lives with bounded inputs: providers register,
/// stake and leave; consumers open jobs, on a free algorithm or a model whose owner prices it (mUSD) or
/// makes it free, with tokens they hold or bought in the same call (`buyAndOpenJob`, an ETH dataset and
/// an mUSD model), and try to run a priced model without its token; providers post; anyone finalizes,
/// refunds and disputes; the timelock rules (within the ruling window) and tunes parameters; anyone
/// settles a dispute left unruled past its deadline; the owners and the treasury release sale revenue;
/// time moves. Ghosts sum every unit in and out per currency, every unit the handler created (dealt or
/// minted), and the orders each job spent against the priced inputs it had.
contract ComputeMarketHandler is CommonBase, StdCheats, StdUtils {
    /// @notice What the handler drives.
    struct Setup {
        ComputeMarket compute;
        Marketplace marketplace;
        MockStablecoin usd;
        address timelock;
        uint256 datasetId;
        address datasetOwner;
        uint256 algorithmId;
        uint256 modelId;
        address modelOwner;
    }

    ComputeMarket public immutable compute;
    Marketplace public immutable marketplace;
    RevenueSplitter public immutable splitter;
    MockStablecoin public immutable usd;
    AccessToken public immutable datasetToken;
    AccessToken public immutable modelToken;
    address public immutable datasetOwner;
    address public immutable modelOwner;
    address public immutable timelock;
    uint256 public immutable datasetId;
    uint256 public immutable algorithmId;
    uint256 public immutable modelId;

    address[] internal _providers;
    address[] internal _consumers;
    address[] internal _challengers;
    address[2] internal _currencies;
    uint256[] internal _jobs;

    mapping(address currency => uint256) public ghost_in;
    mapping(address currency => uint256) public ghost_out;
    mapping(address currency => uint256) public ghost_feesReleased;
    /// @dev Units the handler created (ETH dealt, mUSD minted): every one of them must stay with an actor.
    mapping(address currency => uint256) public ghost_created;
    /// @dev Sale revenue paid into the splitter, released to the owners, and released as fees.
    mapping(address currency => uint256) public ghost_salesIn;
    mapping(address currency => uint256) public ghost_salesReleased;
    mapping(address currency => uint256) public ghost_saleFeesReleased;
    /// @dev What each owner's split was paid: the price less the marketplace fee, summed per sale.
    mapping(uint256 assetId => mapping(address currency => uint256)) public ghost_ownerNet;
    /// @dev Orders spent opening jobs (the inputs' `AccessConsumed` events in each opening transaction).
    uint256 public ghost_orders;
    /// @dev Jobs whose orders were not exactly one per input that had to be paid for (the dataset, and the
    /// model when its listing price was non-zero as the job opened); must stay 0.
    uint256 public ghost_jobsWithWrongOrders;
    /// @dev Jobs a consumer without the priced model's token managed to open; must stay 0.
    uint256 public ghost_unpaidJobs;
    /// @dev Refusals of such a job with another error than `ComputeMarket__NoAccessToken`; must stay 0.
    uint256 public ghost_wrongRefusals;
    /// @dev `JobOpened` order ids that are not the orders the inputs' tokens recorded; must stay 0.
    uint256 public ghost_orderIdMismatches;
    mapping(bytes32 action => uint256) public calls;
    uint256 public ghost_skipped;

    modifier countCall(bytes32 action) {
        ++calls[action];
        _;
    }

    constructor(
        Setup memory setup,
        address[] memory providers_,
        address[] memory consumers_,
        address[] memory challengers_
    ) {
        compute = setup.compute;
        marketplace = setup.marketplace;
        splitter = RevenueSplitter(setup.marketplace.splitter());
        usd = setup.usd;
        IAssetRegistry registry = IAssetRegistry(setup.marketplace.registry());
        datasetToken = AccessToken(registry.accessTokenOf(setup.datasetId));
        modelToken = AccessToken(registry.accessTokenOf(setup.modelId));
        datasetOwner = setup.datasetOwner;
        modelOwner = setup.modelOwner;
        timelock = setup.timelock;
        datasetId = setup.datasetId;
        algorithmId = setup.algorithmId;
        modelId = setup.modelId;
        _providers = providers_;
        _consumers = consumers_;
        _challengers = challengers_;
        _currencies = [address(0), address(setup.usd)];
    }

    // ---------------------------------------------------------------- providers

    function registerProvider(uint256 providerSeed, uint256 currencySeed, uint256 price, uint256 stake)
        external
        countCall("registerProvider")
    {
        if (!_register(providerSeed, currencySeed, price, stake)) _skip();
    }

    function updateProvider(uint256 providerSeed, uint256 currencySeed, uint256 price)
        external
        countCall("updateProvider")
    {
        (address provider, bool found) = _pickProvider(providerSeed, true, false);
        if (!found) return _skip();
        address currency = _currencies[currencySeed % 2];
        price = _bound(price, 0, currency == address(0) ? 1 ether : 1_000e6);
        vm.prank(provider);
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.updateProvider("https://provider.example/v2", currency, uint128(price));
    }

    function addStake(uint256 providerSeed, uint256 amount) external countCall("addStake") {
        (address provider, bool found) = _pickProvider(providerSeed, true, false);
        if (!found) return _skip();
        amount = _bound(amount, 0, 5 ether);
        _deal(provider, amount);
        vm.prank(provider);
        compute.addStake{value: amount}();
        ghost_in[address(0)] += amount;
    }

    function requestExit(uint256 providerSeed) external countCall("requestExit") {
        (address provider, bool found) = _pickProvider(providerSeed, true, true);
        if (!found) return _skip();
        vm.prank(provider);
        compute.requestExit();
    }

    /// @dev Withdraws an exiting provider with no jobs in flight (asking an idle one to exit first if
    /// none is exiting), waiting out the cooldown if needed.
    function withdrawStake(uint256 providerSeed) external countCall("withdrawStake") {
        uint256 n = _providers.length;
        for (uint256 pass; pass < 2; ++pass) {
            for (uint256 i; i < n; ++i) {
                address provider = _providers[(providerSeed % n + i) % n];
                IComputeMarket.Provider memory p = compute.getProvider(provider);
                if (!p.registered || p.activeJobs != 0) continue;
                if (p.exitAvailableAt == 0) {
                    if (pass == 0) continue;
                    vm.prank(provider);
                    compute.requestExit();
                    p.exitAvailableAt = compute.getProvider(provider).exitAvailableAt;
                }
                if (block.timestamp < p.exitAvailableAt) vm.warp(p.exitAvailableAt);
                uint256 before = provider.balance;
                vm.prank(provider);
                compute.withdrawStake();
                ghost_out[address(0)] += provider.balance - before;
                return;
            }
        }
        _skip();
    }

    // ---------------------------------------------------------------- jobs
    // Each step finds a job in the status it needs or, when there is none, walks a new job there first,
    // so that the deep states (posted, disputed) are reached in almost every run.

    function openJob(uint256 consumerSeed, uint256 providerSeed, uint256 duration)
        external
        countCall("openJob")
    {
        (, bool opened) = _open(consumerSeed, providerSeed, duration);
        if (!opened) _skip();
    }

    /// @dev A consumer holding the dataset's token but none of the priced model's tries to open a job with
    /// the model: it must be refused, by name.
    function openWithoutModelToken(uint256 consumerSeed, uint256 providerSeed)
        external
        countCall("openWithoutModelToken")
    {
        if (marketplace.getListing(modelId).price == 0) return _skip();
        (address provider, bool found) = _pickProvider(providerSeed, true, true);
        address consumer = _consumers[consumerSeed % _consumers.length];
        if (!found || modelToken.balanceOf(consumer) != 0) return _skip();
        vm.prank(datasetOwner);
        datasetToken.grant(consumer, 1);
        IComputeMarket.Provider memory p = compute.getProvider(provider);
        uint256 value = _fundJob(consumer, p.currency, p.price);
        vm.prank(consumer);
        try compute.openJob{value: value}(_jobParams(provider, p, modelId, consumerSeed)) returns (
            uint256 jobId
        ) {
            ++ghost_unpaidJobs;
            _jobs.push(jobId);
            ghost_in[p.currency] += p.price;
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(
                IComputeMarket.ComputeMarket__NoAccessToken.selector, modelId, consumer
            );
            if (keccak256(reason) != keccak256(expected)) ++ghost_wrongRefusals;
        }
    }

    /// @dev The model's owner prices it in mUSD or, a third of the time, makes it free.
    function setModelPrice(uint256 priceSeed) external countCall("setModelPrice") {
        uint256 price = priceSeed % 3 == 0 ? 0 : _bound(priceSeed, 1, 50) * 1e6;
        vm.prank(modelOwner);
        // forge-lint: disable-next-line(unsafe-typecast)
        marketplace.setListing(modelId, address(usd), uint80(price), 0);
    }

    /// @dev An input's owner, or the treasury for the fees, takes sale revenue out of the splitter.
    function releaseSales(uint256 seed) external countCall("releaseSales") {
        address currency = _currencies[seed % 2];
        if ((seed >> 1) % 3 == 0) {
            if (splitter.accruedFees(currency) == 0) return _skip();
            uint256 fees = splitter.releaseFees(currency);
            ghost_saleFeesReleased[currency] += fees;
            return;
        }
        (uint256 assetId, address owner) =
            (seed >> 1) % 3 == 1 ? (datasetId, datasetOwner) : (modelId, modelOwner);
        if (splitter.releasable(assetId, currency, owner) == 0) return _skip();
        ghost_salesReleased[currency] += splitter.release(assetId, currency, owner);
    }

    function postResult(uint256 jobSeed) external countCall("postResult") {
        (, bool posted) = _openAndPost(jobSeed);
        if (!posted) _skip();
    }

    function finalize(uint256 jobSeed) external countCall("finalize") {
        (uint256 jobId, IComputeMarket.Job memory job, bool found) =
            _pickJob(jobSeed, IComputeMarket.JobStatus.ResultPosted);
        if (!found) {
            (jobId, found) = _openAndPost(jobSeed);
            if (!found) return _skip();
            job = compute.getJob(jobId);
        }
        if (block.timestamp <= job.challengeEnd) vm.warp(uint256(job.challengeEnd) + 1);
        uint256 before = _balance(job.currency, job.provider);
        compute.finalize(jobId);
        ghost_out[job.currency] += _balance(job.currency, job.provider) - before;
    }

    function refund(uint256 jobSeed) external countCall("refund") {
        (uint256 jobId, IComputeMarket.Job memory job, bool found) = _pickOrOpenJob(jobSeed);
        if (!found) return _skip();
        if (block.timestamp <= job.deadline) vm.warp(uint256(job.deadline) + 1);
        uint256 before = _balance(job.currency, job.consumer);
        compute.refund(jobId);
        ghost_out[job.currency] += _balance(job.currency, job.consumer) - before;
    }

    /// An open job picked by `jobSeed`, or one opened for the call when there is none.
    function _pickOrOpenJob(uint256 jobSeed)
        internal
        returns (uint256 jobId, IComputeMarket.Job memory job, bool found)
    {
        (jobId, job, found) = _pickJob(jobSeed, IComputeMarket.JobStatus.Open);
        if (found) return (jobId, job, true);
        (jobId, found) = _open(jobSeed, jobSeed >> 8, jobSeed >> 16);
        if (found) job = compute.getJob(jobId);
    }

    function declineJob(uint256 jobSeed) external countCall("declineJob") {
        (uint256 jobId, IComputeMarket.Job memory job, bool found) = _pickOrOpenJob(jobSeed);
        if (!found) return _skip();
        uint256 before = _balance(job.currency, job.consumer);
        vm.prank(job.provider);
        compute.declineJob(jobId);
        ghost_out[job.currency] += _balance(job.currency, job.consumer) - before;
    }

    function dispute(uint256 jobSeed, uint256 challengerSeed) external countCall("dispute") {
        if (!_dispute(jobSeed, challengerSeed)) _skip();
    }

    function ruleDispute(uint256 jobSeed, bool providerAtFault, uint256 slash)
        external
        countCall("ruleDispute")
    {
        (uint256 jobId, IComputeMarket.Job memory job, bool found) = _pickRulableJob(jobSeed);
        if (!found) {
            if (!_dispute(jobSeed, slash)) return _skip();
            (jobId, job, found) = _pickRulableJob(jobSeed);
        }
        slash = _bound(slash, 0, compute.getProvider(job.provider).stake);
        vm.prank(timelock);
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.ruleDispute(jobId, providerAtFault, uint128(slash));
    }

    /// @dev Settles a dispute the DAO left unruled (disputing one first if there is none), waiting out its
    /// ruling deadline if needed. Credits only: nothing leaves the market, so no ghost moves.
    function expireDispute(uint256 jobSeed, uint256 challengerSeed) external countCall("expireDispute") {
        (uint256 jobId, IComputeMarket.Job memory job, bool found) =
            _pickJob(jobSeed, IComputeMarket.JobStatus.Disputed);
        if (!found) {
            if (!_dispute(jobSeed, challengerSeed)) return _skip();
            (jobId, job, found) = _pickJob(jobSeed, IComputeMarket.JobStatus.Disputed);
        }
        uint256 deadline = uint256(job.challengeEnd) + job.rulingWindow;
        if (block.timestamp <= deadline) vm.warp(deadline + 1);
        compute.expireDispute(jobId);
    }

    /// @dev Whoever a ruling credited (a consumer, a challenger or a provider) withdraws it.
    function claim(uint256 accountSeed, uint256 currencySeed) external countCall("claim") {
        address currency = _currencies[currencySeed % 2];
        address[] memory accounts = claimants();
        for (uint256 i; i < accounts.length; ++i) {
            address account = accounts[(accountSeed % accounts.length + i) % accounts.length];
            if (compute.claimable(account, currency) == 0) continue;
            vm.prank(account);
            ghost_out[currency] += compute.claim(currency);
            return;
        }
        _skip();
    }

    // ---------------------------------------------------------------- DAO and time

    function releaseFees(uint256 currencySeed) external countCall("releaseFees") {
        address currency = _currencies[currencySeed % 2];
        if (compute.accruedFees(currency) == 0) return _skip();
        uint256 amount = compute.releaseFees(currency);
        ghost_out[currency] += amount;
        ghost_feesReleased[currency] += amount;
    }

    function setParams(uint256 feeBps, uint256 disputeBond, uint256 challengeWindow, uint256 rulingWindow)
        external
        countCall("setParams")
    {
        IComputeMarket.Params memory p = compute.params();
        // forge-lint: disable-next-line(unsafe-typecast)
        p.feeBps = uint16(_bound(feeBps, 0, compute.MAX_FEE_BPS()));
        // forge-lint: disable-next-line(unsafe-typecast)
        p.disputeBond = uint128(_bound(disputeBond, 0.01 ether, 1 ether));
        // forge-lint: disable-next-line(unsafe-typecast)
        p.challengeWindow = uint64(_bound(challengeWindow, 1 hours, 2 days));
        // forge-lint: disable-next-line(unsafe-typecast)
        p.rulingWindow = uint64(_bound(rulingWindow, 1 hours, 7 days));
        vm.prank(timelock);
        compute.setParams(p);
    }

    function warp(uint256 seconds_) external countCall("warp") {
        vm.warp(block.timestamp + _bound(seconds_, 1, 2 days));
    }

    // ---------------------------------------------------------------- views for the suite

    function jobs() external view returns (uint256[] memory) {
        return _jobs;
    }

    /// @dev Every account a ruling can credit: consumers, challengers and providers.
    function claimants() public view returns (address[] memory accounts) {
        accounts = new address[](_consumers.length + _challengers.length + _providers.length);
        uint256 k;
        for (uint256 i; i < _consumers.length; ++i) {
            accounts[k++] = _consumers[i];
        }
        for (uint256 i; i < _challengers.length; ++i) {
            accounts[k++] = _challengers[i];
        }
        for (uint256 i; i < _providers.length; ++i) {
            accounts[k++] = _providers[i];
        }
    }

    function providers() external view returns (address[] memory) {
        return _providers;
    }

    /// @dev Every address value can reach: the actors, the owners, the treasury and the contracts.
    function holders() external view returns (address[] memory accounts) {
        address[] memory claimants_ = claimants();
        accounts = new address[](claimants_.length + 6);
        for (uint256 i; i < claimants_.length; ++i) {
            accounts[i] = claimants_[i];
        }
        uint256 k = claimants_.length;
        (accounts[k], accounts[k + 1], accounts[k + 2]) = (datasetOwner, modelOwner, timelock);
        (accounts[k + 3], accounts[k + 4], accounts[k + 5]) =
        (address(compute), address(splitter), address(marketplace));
    }

    function currencies() external view returns (address[2] memory) {
        return _currencies;
    }

    // ---------------------------------------------------------------- internals

    function _register(uint256 providerSeed, uint256 currencySeed, uint256 price, uint256 stake)
        internal
        returns (bool)
    {
        (address provider, bool found) = _pickProvider(providerSeed, false, false);
        if (!found) return false;
        address currency = _currencies[currencySeed % 2];
        price = _bound(price, 0, currency == address(0) ? 1 ether : 1_000e6);
        stake = _bound(stake, compute.params().minStake, 10 ether);
        _deal(provider, stake);
        vm.prank(provider);
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.registerProvider{value: stake}("https://provider.example", currency, uint128(price));
        ghost_in[address(0)] += stake;
        return true;
    }

    /// @dev Opens a job with an active provider (registering one if there is none), on the free algorithm
    /// or the model (bit 8 of `consumerSeed`), either with tokens the consumer holds (a granted dataset
    /// token, the model's bought with `buy` when it is priced) or buying them in the same call with
    /// `buyAndOpenJob` (bit 9), and records the orders it spent against the inputs it had to pay for.
    function _open(uint256 consumerSeed, uint256 providerSeed, uint256 duration)
        internal
        returns (uint256 jobId, bool opened)
    {
        (address provider, bool found) = _pickProvider(providerSeed, true, true);
        if (!found) {
            if (!_register(providerSeed, consumerSeed, duration, providerSeed)) return (0, false);
            (provider,) = _pickProvider(providerSeed, true, true);
        }
        address consumer = _consumers[consumerSeed % _consumers.length];
        IComputeMarket.Provider memory p = compute.getProvider(provider);
        uint256 algorithm = (consumerSeed >> 8) & 1 == 1 ? modelId : algorithmId;
        bool modelPriced = algorithm == modelId && marketplace.getListing(modelId).price != 0;
        IComputeMarket.OpenJobParams memory params = _jobParams(provider, p, algorithm, duration);

        uint256 value = _fundJob(consumer, p.currency, p.price);
        vm.recordLogs();
        if ((consumerSeed >> 9) & 1 == 1) {
            IMarketplace.Purchase[] memory purchases = new IMarketplace.Purchase[](modelPriced ? 2 : 1);
            uint256 ethCost;
            (purchases[0], ethCost) = _fundPurchase(consumer, datasetId);
            value += ethCost;
            if (modelPriced) {
                (purchases[1], ethCost) = _fundPurchase(consumer, modelId);
                value += ethCost;
            }
            vm.prank(consumer);
            jobId = marketplace.buyAndOpenJob{value: value}(purchases, params);
        } else {
            vm.prank(datasetOwner);
            datasetToken.grant(consumer, 1);
            if (modelPriced) {
                (IMarketplace.Purchase memory purchase, uint256 ethCost) = _fundPurchase(consumer, modelId);
                vm.prank(consumer);
                marketplace.buy{value: ethCost}(modelId, 1, purchase.currency, purchase.maxPrice);
            }
            vm.prank(consumer);
            jobId = compute.openJob{value: value}(params);
        }
        _recordOrders(jobId, modelPriced ? 2 : 1);
        _jobs.push(jobId);
        ghost_in[p.currency] += p.price;
        return (jobId, true);
    }

    function _jobParams(
        address provider,
        IComputeMarket.Provider memory p,
        uint256 algorithm,
        uint256 duration
    ) internal view returns (IComputeMarket.OpenJobParams memory) {
        return IComputeMarket.OpenJobParams({
            datasetId: datasetId,
            algorithmId: algorithm,
            provider: provider,
            specCid: "bafkreispec",
            currency: p.currency,
            maxPayment: p.price,
            deadline: uint64(block.timestamp + _bound(duration, 1 hours, 3 days))
        });
    }

    /// @dev Gives `consumer` a job's payment: ETH to send (returned), or mUSD approved to the compute market.
    function _fundJob(address consumer, address currency, uint256 price) internal returns (uint256 value) {
        if (currency == address(0)) {
            _deal(consumer, price);
            return price;
        }
        _mintUsd(consumer, price);
        vm.prank(consumer);
        usd.approve(address(compute), price);
    }

    /// @dev Gives `consumer` what one token of `assetId` costs it now (after its free tier): ETH to send
    /// (returned), or mUSD approved to the marketplace; counts the sale in the ghosts.
    function _fundPurchase(address consumer, uint256 assetId)
        internal
        returns (IMarketplace.Purchase memory purchase, uint256 ethCost)
    {
        IMarketplace.Listing memory listing = marketplace.getListing(assetId);
        (uint256 cost,) = marketplace.quote(assetId, consumer, 1);
        purchase =
            IMarketplace.Purchase({assetId: assetId, currency: listing.currency, maxPrice: listing.price});
        if (listing.currency == address(0)) {
            _deal(consumer, cost);
            ethCost = cost;
        } else {
            _mintUsd(consumer, cost);
            vm.prank(consumer);
            usd.approve(address(marketplace), cost);
        }
        ghost_salesIn[listing.currency] += cost;
        ghost_ownerNet[assetId][listing.currency] += cost - cost * marketplace.protocolFeeBps() / 10_000;
    }

    /// @dev Counts the orders the recorded logs show spent for `jobId` (the inputs' `AccessConsumed`) against
    /// the inputs it had to pay for, and checks them against the order ids its `JobOpened` names.
    function _recordOrders(uint256 jobId, uint256 pricedInputs) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 datasetOrder;
        uint256 modelOrder;
        uint256 orders;
        (uint256 namedOrder, uint256 namedModelOrder) = (type(uint256).max, type(uint256).max);
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            bytes32 topic = log.topics[0];
            if (topic == IAccessToken.AccessConsumed.selector) {
                if (log.emitter == address(datasetToken)) datasetOrder = uint256(log.topics[1]);
                else if (log.emitter == address(modelToken)) modelOrder = uint256(log.topics[1]);
                else continue;
                ++orders;
            } else if (topic == IComputeMarket.JobOpened.selector && uint256(log.topics[1]) == jobId) {
                (,, namedOrder, namedModelOrder) = abi.decode(log.data, (uint256, uint256, uint256, uint256));
            }
        }
        if (namedOrder != datasetOrder || namedModelOrder != modelOrder) ++ghost_orderIdMismatches;
        if (orders != pricedInputs) ++ghost_jobsWithWrongOrders;
        ghost_orders += orders;
    }

    /// @dev Posts the result of an open job still before its deadline (opening one if there is none).
    function _openAndPost(uint256 jobSeed) internal returns (uint256 jobId, bool posted) {
        uint256 n = _jobs.length;
        bool found;
        for (uint256 i; i < n; ++i) {
            jobId = _jobs[(jobSeed % n + i) % n];
            IComputeMarket.Job memory job = compute.getJob(jobId);
            if (job.status == IComputeMarket.JobStatus.Open && block.timestamp <= job.deadline) {
                found = true;
                break;
            }
        }
        if (!found) {
            (jobId, found) = _open(jobSeed, jobSeed >> 8, jobSeed >> 16);
            if (!found) return (0, false);
        }
        vm.prank(compute.getJob(jobId).provider);
        compute.postResult(jobId, "bafkreiresult", keccak256(abi.encode(jobId)));
        return (jobId, true);
    }

    /// @dev Disputes a posted result still in its window (posting one if there is none).
    function _dispute(uint256 jobSeed, uint256 challengerSeed) internal returns (bool) {
        uint256 n = _jobs.length;
        uint256 jobId;
        bool found;
        for (uint256 i; i < n; ++i) {
            jobId = _jobs[(jobSeed % n + i) % n];
            IComputeMarket.Job memory job = compute.getJob(jobId);
            if (job.status == IComputeMarket.JobStatus.ResultPosted && block.timestamp <= job.challengeEnd) {
                found = true;
                break;
            }
        }
        if (!found) {
            (jobId, found) = _openAndPost(jobSeed);
            if (!found) return false;
        }
        address challenger = _challengers[challengerSeed % _challengers.length];
        uint256 bond = compute.params().disputeBond;
        _deal(challenger, bond);
        vm.prank(challenger);
        compute.dispute{value: bond}(jobId, "bafkreireason");
        ghost_in[address(0)] += bond;
        return true;
    }

    /// @dev The first provider from `seed` on that is (`registered`) or is not registered; with
    /// `active`, also not exiting and staked at least the minimum (not slashed below it).
    function _pickProvider(uint256 seed, bool registered, bool active) internal view returns (address, bool) {
        uint256 n = _providers.length;
        for (uint256 i; i < n; ++i) {
            address provider = _providers[(seed % n + i) % n];
            IComputeMarket.Provider memory p = compute.getProvider(provider);
            if (p.registered != registered) continue;
            if (active && (p.exitAvailableAt != 0 || p.stake < compute.params().minStake)) continue;
            return (provider, true);
        }
        return (address(0), false);
    }

    function _pickJob(uint256 seed, IComputeMarket.JobStatus status)
        internal
        view
        returns (uint256 jobId, IComputeMarket.Job memory job, bool found)
    {
        uint256 n = _jobs.length;
        for (uint256 i; i < n; ++i) {
            jobId = _jobs[(seed % n + i) % n];
            job = compute.getJob(jobId);
            if (job.status == status) return (jobId, job, true);
        }
    }

    /// @dev A disputed job the DAO may still rule (its ruling deadline not passed).
    function _pickRulableJob(uint256 seed)
        internal
        view
        returns (uint256 jobId, IComputeMarket.Job memory job, bool found)
    {
        uint256 n = _jobs.length;
        for (uint256 i; i < n; ++i) {
            jobId = _jobs[(seed % n + i) % n];
            job = compute.getJob(jobId);
            if (
                job.status == IComputeMarket.JobStatus.Disputed
                    && block.timestamp <= uint256(job.challengeEnd) + job.rulingWindow
            ) return (jobId, job, true);
        }
    }

    function _balance(address currency, address account) internal view returns (uint256) {
        return currency == address(0) ? account.balance : usd.balanceOf(account);
    }

    /// @dev Adds ETH to `account` (never overwrites what it holds) and counts it as created.
    function _deal(address account, uint256 amount) internal {
        vm.deal(account, account.balance + amount);
        ghost_created[address(0)] += amount;
    }

    function _mintUsd(address account, uint256 amount) internal {
        usd.mint(account, amount);
        ghost_created[address(usd)] += amount;
    }

    function _skip() internal {
        ++ghost_skipped;
    }
}
