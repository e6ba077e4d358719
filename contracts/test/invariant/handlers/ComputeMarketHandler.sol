// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {ComputeMarket} from "../../../src/ComputeMarket.sol";
import {AccessToken} from "../../../src/AccessToken.sol";
import {IComputeMarket} from "../../../src/interfaces/IComputeMarket.sol";
import {MockStablecoin} from "../../mocks/MockStablecoin.sol";

/// @notice Drives the compute market through whole job lives with bounded inputs: providers register,
/// stake and leave; consumers open jobs; providers post; anyone finalizes, refunds and disputes; the
/// timelock rules (within the ruling window) and tunes parameters; anyone settles a dispute left unruled
/// past its deadline; time moves. Ghosts sum every unit in and out per currency.
contract ComputeMarketHandler is CommonBase, StdCheats, StdUtils {
    ComputeMarket public immutable compute;
    MockStablecoin public immutable usd;
    AccessToken public immutable datasetToken;
    address public immutable datasetOwner;
    address public immutable timelock;
    uint256 public immutable datasetId;
    uint256 public immutable algorithmId;

    address[] internal _providers;
    address[] internal _consumers;
    address[] internal _challengers;
    address[2] internal _currencies;
    uint256[] internal _jobs;

    mapping(address currency => uint256) public ghost_in;
    mapping(address currency => uint256) public ghost_out;
    mapping(address currency => uint256) public ghost_feesReleased;
    mapping(bytes32 action => uint256) public calls;
    uint256 public ghost_skipped;

    modifier countCall(bytes32 action) {
        ++calls[action];
        _;
    }

    constructor(
        ComputeMarket compute_,
        MockStablecoin usd_,
        AccessToken datasetToken_,
        address datasetOwner_,
        address timelock_,
        uint256 datasetId_,
        uint256 algorithmId_,
        address[] memory providers_,
        address[] memory consumers_,
        address[] memory challengers_
    ) {
        compute = compute_;
        usd = usd_;
        datasetToken = datasetToken_;
        datasetOwner = datasetOwner_;
        timelock = timelock_;
        datasetId = datasetId_;
        algorithmId = algorithmId_;
        _providers = providers_;
        _consumers = consumers_;
        _challengers = challengers_;
        _currencies = [address(0), address(usd_)];
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
        vm.deal(provider, amount);
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
        vm.deal(provider, stake);
        vm.prank(provider);
        // forge-lint: disable-next-line(unsafe-typecast)
        compute.registerProvider{value: stake}("https://provider.example", currency, uint128(price));
        ghost_in[address(0)] += stake;
        return true;
    }

    /// @dev Opens a job with an active provider (registering one if there is none).
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

        vm.prank(datasetOwner);
        datasetToken.grant(consumer, 1);
        uint256 value;
        if (p.currency == address(0)) {
            vm.deal(consumer, p.price);
            value = p.price;
        } else {
            usd.mint(consumer, p.price);
            vm.prank(consumer);
            usd.approve(address(compute), p.price);
        }
        vm.prank(consumer);
        jobId = compute.openJob{value: value}(
            IComputeMarket.OpenJobParams({
                datasetId: datasetId,
                algorithmId: algorithmId,
                provider: provider,
                specCid: "bafkreispec",
                currency: p.currency,
                maxPayment: p.price,
                deadline: uint64(block.timestamp + _bound(duration, 1 hours, 3 days))
            })
        );
        _jobs.push(jobId);
        ghost_in[p.currency] += p.price;
        return (jobId, true);
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
        vm.deal(challenger, bond);
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

    function _skip() internal {
        ++ghost_skipped;
    }
}
