// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IComputeMarket} from "./interfaces/IComputeMarket.sol";
import {IAssetRegistry} from "./interfaces/IAssetRegistry.sol";
import {IAccessToken} from "./interfaces/IAccessToken.sol";
import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {SplitMath} from "./libraries/SplitMath.sol";
import {ExactTransfer} from "./libraries/ExactTransfer.sol";

/// @title ComputeMarket
/// @notice See {IComputeMarket}. Owned by the DAO's timelock, which sets the parameters and rules disputes.
/// The currency allow-list is the marketplace's (found through the registry), so one DAO decision covers
/// both markets.
/// @dev Stakes and bonds are ETH; job payments are ETH or an ERC-20. Everything this contract holds, per
/// currency, is the sum of stakes, bonds, escrowed payments and accrued fees.
contract ComputeMarket is IComputeMarket, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice The protocol fee on jobs can never exceed 10%.
    uint16 public constant MAX_FEE_BPS = 1000;
    /// @notice Longest endpoint URL accepted.
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    /// @notice Longest CID accepted.
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @notice Longest challenge window, exit cooldown and ruling window the DAO may set.
    uint64 public constant MAX_PERIOD = 90 days;

    IAssetRegistry private immutable _REGISTRY;

    Params private _params;
    address private _feeRecipient;
    uint256 private _jobCount;

    mapping(address provider => Provider) private _providers;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(address currency => uint256) private _fees;
    mapping(address account => mapping(address currency => uint256)) private _claimable;
    mapping(uint256 datasetId => bool) private _restricted;
    mapping(uint256 datasetId => mapping(uint256 algorithmId => bool)) private _allowed;

    /// @param registry The asset registry.
    /// @param owner The DAO's timelock.
    /// @param feeRecipient_ The DAO treasury.
    /// @param feeBps Protocol fee on job payments.
    /// @param minStake Least ETH a provider must stake.
    /// @param challengeWindow Seconds a posted result stays open to dispute.
    /// @param exitCooldown Seconds between `requestExit` and withdrawing the stake.
    /// @param disputeBond ETH a challenger must bond.
    /// @param rulingWindow Seconds after a disputed result's challenge window the DAO has to rule.
    constructor(
        address registry,
        address owner,
        address feeRecipient_,
        uint16 feeBps,
        uint256 minStake,
        uint64 challengeWindow,
        uint64 exitCooldown,
        uint256 disputeBond,
        uint64 rulingWindow
    ) Ownable(owner) {
        if (registry == address(0) || feeRecipient_ == address(0)) {
            revert ComputeMarket__ZeroAddress();
        }
        _REGISTRY = IAssetRegistry(registry);
        _feeRecipient = feeRecipient_;
        _setParams(
            Params({
                minStake: minStake.toUint128(),
                disputeBond: disputeBond.toUint128(),
                challengeWindow: challengeWindow,
                exitCooldown: exitCooldown,
                feeBps: feeBps,
                rulingWindow: rulingWindow
            })
        );
    }

    /// @inheritdoc IComputeMarket
    function registerProvider(string calldata endpoint, address currency, uint128 price) external payable {
        Provider storage provider = _providers[msg.sender];
        if (provider.registered) revert ComputeMarket__AlreadyRegistered(msg.sender);
        _checkEndpoint(endpoint);
        _checkCurrency(currency);
        if (msg.value < _params.minStake) revert ComputeMarket__StakeTooLow(msg.value, _params.minStake);
        provider.stake = msg.value.toUint128();
        provider.price = price;
        provider.currency = currency;
        provider.exitAvailableAt = 0;
        provider.registered = true;
        provider.endpoint = endpoint;
        emit ProviderRegistered(msg.sender, endpoint, currency, price, msg.value);
    }

    /// @inheritdoc IComputeMarket
    function updateProvider(string calldata endpoint, address currency, uint128 price) external {
        Provider storage provider = _registered(msg.sender);
        _checkEndpoint(endpoint);
        _checkCurrency(currency);
        provider.price = price;
        provider.currency = currency;
        provider.endpoint = endpoint;
        emit ProviderUpdated(msg.sender, endpoint, currency, price);
    }

    /// @inheritdoc IComputeMarket
    function addStake() external payable {
        Provider storage provider = _registered(msg.sender);
        uint256 stake = provider.stake + msg.value;
        provider.stake = stake.toUint128();
        emit StakeAdded(msg.sender, msg.value, stake);
    }

    /// @inheritdoc IComputeMarket
    function requestExit() external {
        Provider storage provider = _registered(msg.sender);
        if (provider.exitAvailableAt != 0) revert ComputeMarket__ProviderExiting(msg.sender);
        uint64 availableAt = uint64(block.timestamp) + _params.exitCooldown;
        provider.exitAvailableAt = availableAt;
        emit ProviderExitRequested(msg.sender, availableAt);
    }

    /// @inheritdoc IComputeMarket
    function withdrawStake() external nonReentrant {
        Provider storage provider = _registered(msg.sender);
        uint256 availableAt = provider.exitAvailableAt;
        if (availableAt == 0) revert ComputeMarket__ExitNotRequested(msg.sender);
        if (block.timestamp < availableAt) revert ComputeMarket__CooldownActive(availableAt);
        if (provider.activeJobs != 0) revert ComputeMarket__JobsInFlight(provider.activeJobs);
        uint256 stake = provider.stake;
        delete _providers[msg.sender];
        emit ProviderExited(msg.sender, stake);
        Address.sendValue(payable(msg.sender), stake);
    }

    /// @inheritdoc IComputeMarket
    function setAlgorithmRestricted(uint256 datasetId, bool restricted) external {
        _checkDatasetOwner(datasetId);
        _restricted[datasetId] = restricted;
        emit AlgorithmPolicyUpdated(datasetId, restricted);
    }

    /// @inheritdoc IComputeMarket
    function setAlgorithmsAllowed(uint256 datasetId, uint256[] calldata algorithmIds, bool allowed) external {
        _checkDatasetOwner(datasetId);
        for (uint256 i; i < algorithmIds.length; ++i) {
            _allowed[datasetId][algorithmIds[i]] = allowed;
            emit AlgorithmAllowed(datasetId, algorithmIds[i], allowed);
        }
    }

    /// @inheritdoc IComputeMarket
    function openJob(OpenJobParams calldata p) external payable nonReentrant returns (uint256 jobId) {
        return _openJob(msg.sender, p, IMarketplace(_REGISTRY.marketplace()));
    }

    /// @inheritdoc IComputeMarket
    /// @dev Spends `consumer`'s tokens and, for an ERC-20 job, pulls the payment from `consumer`'s allowance
    /// to this contract, not from the caller's. That is safe only because the caller can only be the
    /// marketplace, which passes its own caller as `consumer`; opened to anyone, this would let them spend
    /// what any consumer approved here. The marketplace's and this contract's reentrancy guards are
    /// separate, so its `buyAndOpenJob` may call in; neither can be re-entered while the other runs.
    function openJobFor(address consumer, OpenJobParams calldata p)
        external
        payable
        nonReentrant
        returns (uint256 jobId)
    {
        address marketplace = _REGISTRY.marketplace();
        if (msg.sender != marketplace) revert ComputeMarket__NotMarketplace(msg.sender);
        return _openJob(consumer, p, IMarketplace(marketplace));
    }

    /// @inheritdoc IComputeMarket
    function postResult(uint256 jobId, string calldata resultCid, bytes32 outputHash) external {
        Job storage job = _jobInStatus(jobId, JobStatus.Open);
        if (msg.sender != job.provider) revert ComputeMarket__NotJobProvider(jobId, msg.sender);
        if (block.timestamp > job.deadline) revert ComputeMarket__DeadlinePassed(jobId, job.deadline);
        uint256 cidLength = bytes(resultCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH) revert ComputeMarket__InvalidCid(cidLength);
        if (outputHash == bytes32(0)) revert ComputeMarket__ZeroOutputHash();
        uint64 challengeEnd = uint64(block.timestamp) + _params.challengeWindow;
        job.status = JobStatus.ResultPosted;
        job.challengeEnd = challengeEnd;
        job.outputHash = outputHash;
        emit ResultPosted(jobId, resultCid, outputHash, challengeEnd);
    }

    /// @inheritdoc IComputeMarket
    function finalize(uint256 jobId) external nonReentrant {
        Job storage job = _jobInStatus(jobId, JobStatus.ResultPosted);
        if (block.timestamp <= job.challengeEnd) {
            revert ComputeMarket__ChallengeWindowOpen(jobId, job.challengeEnd);
        }
        job.status = JobStatus.Finalized;
        (address currency, uint256 payout) = _settleProvider(jobId, job);
        _pay(currency, job.provider, payout);
    }

    /// @inheritdoc IComputeMarket
    function refund(uint256 jobId) external nonReentrant {
        Job storage job = _jobInStatus(jobId, JobStatus.Open);
        if (block.timestamp <= job.deadline) revert ComputeMarket__DeadlineNotReached(jobId, job.deadline);
        job.status = JobStatus.Refunded;
        _providers[job.provider].activeJobs -= 1;
        uint256 amount = job.payment;
        emit JobRefunded(jobId, amount);
        _pay(job.currency, job.consumer, amount);
    }

    /// @inheritdoc IComputeMarket
    function declineJob(uint256 jobId) external nonReentrant {
        Job storage job = _jobInStatus(jobId, JobStatus.Open);
        if (msg.sender != job.provider) revert ComputeMarket__NotJobProvider(jobId, msg.sender);
        job.status = JobStatus.Refunded;
        _providers[job.provider].activeJobs -= 1;
        uint256 amount = job.payment;
        emit JobRefunded(jobId, amount);
        emit JobDeclined(jobId, msg.sender);
        _pay(job.currency, job.consumer, amount);
    }

    /// @inheritdoc IComputeMarket
    function dispute(uint256 jobId, string calldata reasonCid) external payable {
        Job storage job = _jobInStatus(jobId, JobStatus.ResultPosted);
        if (block.timestamp > job.challengeEnd) {
            revert ComputeMarket__ChallengeWindowClosed(jobId, job.challengeEnd);
        }
        uint256 cidLength = bytes(reasonCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH) revert ComputeMarket__InvalidCid(cidLength);
        if (msg.value != _params.disputeBond) {
            revert ComputeMarket__WrongValue(msg.value, _params.disputeBond);
        }
        job.status = JobStatus.Disputed;
        // Fixed now, like the fee at opening: a later parameter change neither shortens nor extends it.
        // At most MAX_PERIOD (checked in `_setParams`), which fits in 32 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        job.rulingWindow = uint32(_params.rulingWindow);
        job.challenger = msg.sender;
        job.bond = msg.value.toUint96();
        emit JobDisputed(jobId, msg.sender, msg.value, reasonCid);
    }

    /// @inheritdoc IComputeMarket
    function ruleDispute(uint256 jobId, bool providerAtFault, uint128 slash) external onlyOwner nonReentrant {
        Job storage job = _jobInStatus(jobId, JobStatus.Disputed);
        uint256 deadline = _rulingDeadline(job);
        if (block.timestamp > deadline) revert ComputeMarket__RulingWindowClosed(jobId, deadline);
        uint256 bond = job.bond;
        if (!providerAtFault) {
            job.status = JobStatus.Finalized;
            _fees[address(0)] += bond;
            emit DisputeRuled(jobId, false, 0);
            (address currency, uint256 payout) = _settleProvider(jobId, job);
            _credit(job.provider, currency, payout);
            return;
        }
        Provider storage provider = _providers[job.provider];
        if (slash > provider.stake) revert ComputeMarket__SlashTooLarge(slash, provider.stake);
        job.status = JobStatus.RuledAgainstProvider;
        provider.stake -= slash;
        provider.activeJobs -= 1;
        _fees[address(0)] += slash;
        emit DisputeRuled(jobId, true, slash);
        _credit(job.consumer, job.currency, job.payment);
        _credit(job.challenger, address(0), bond);
    }

    /// @inheritdoc IComputeMarket
    /// @dev Credits rather than pays, as rulings do: anyone may call, and no recipient can block it.
    function expireDispute(uint256 jobId) external nonReentrant {
        Job storage job = _jobInStatus(jobId, JobStatus.Disputed);
        uint256 deadline = _rulingDeadline(job);
        if (block.timestamp <= deadline) revert ComputeMarket__RulingWindowOpen(jobId, deadline);
        job.status = JobStatus.Finalized;
        (address currency, uint256 payout) = _settleProvider(jobId, job);
        _credit(job.provider, currency, payout);
        address challenger = job.challenger;
        uint256 bond = job.bond;
        _credit(challenger, address(0), bond);
        emit DisputeExpired(jobId, challenger, bond, deadline);
    }

    /// @inheritdoc IComputeMarket
    function claim(address currency) external nonReentrant returns (uint256 amount) {
        amount = _claimable[msg.sender][currency];
        if (amount == 0) revert ComputeMarket__NothingToClaim(msg.sender, currency);
        _claimable[msg.sender][currency] = 0;
        emit Claimed(msg.sender, currency, amount);
        _pay(currency, msg.sender, amount);
    }

    /// @inheritdoc IComputeMarket
    function setParams(Params calldata newParams) external onlyOwner {
        _setParams(newParams);
    }

    /// @inheritdoc IComputeMarket
    function setFeeRecipient(address recipient) external onlyOwner {
        if (recipient == address(0)) revert ComputeMarket__ZeroAddress();
        emit FeeRecipientUpdated(_feeRecipient, recipient);
        _feeRecipient = recipient;
    }

    /// @inheritdoc IComputeMarket
    function releaseFees(address currency) external nonReentrant returns (uint256 amount) {
        amount = _fees[currency];
        if (amount == 0) revert ComputeMarket__NothingToRelease(currency);
        _fees[currency] = 0;
        address recipient = _feeRecipient;
        emit FeesReleased(currency, recipient, amount);
        _pay(currency, recipient, amount);
    }

    /// @inheritdoc IComputeMarket
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @inheritdoc IComputeMarket
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @inheritdoc IComputeMarket
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @inheritdoc IComputeMarket
    function accruedFees(address currency) external view returns (uint256) {
        return _fees[currency];
    }

    /// @inheritdoc IComputeMarket
    function claimable(address account, address currency) external view returns (uint256) {
        return _claimable[account][currency];
    }

    /// @inheritdoc IComputeMarket
    function totalJobs() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IComputeMarket
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IComputeMarket
    function isAlgorithmAllowed(uint256 datasetId, uint256 algorithmId) public view returns (bool) {
        return !_restricted[datasetId] || _allowed[datasetId][algorithmId];
    }

    /// @dev `openJob` and `openJobFor`: checks the provider's terms, spends the inputs' tokens, then escrows
    /// the payment (so a consumer missing a token is refused before anything is escrowed).
    function _openJob(address consumer, OpenJobParams calldata p, IMarketplace marketplace)
        private
        returns (uint256 jobId)
    {
        Provider storage provider = _registered(p.provider);
        if (provider.exitAvailableAt != 0) revert ComputeMarket__ProviderExiting(p.provider);
        // A slashed provider must top its stake up before taking new work.
        if (provider.stake < _params.minStake) {
            revert ComputeMarket__StakeTooLow(provider.stake, _params.minStake);
        }
        if (p.deadline <= block.timestamp) revert ComputeMarket__InvalidDeadline(p.deadline);
        uint256 cidLength = bytes(p.specCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH) revert ComputeMarket__InvalidCid(cidLength);
        address currency = provider.currency;
        uint256 price = provider.price;
        if (currency != p.currency) revert ComputeMarket__WrongCurrency(p.currency, currency);
        if (price > p.maxPayment) revert ComputeMarket__PriceAboveMax(price, p.maxPayment);

        (uint256 orderId, uint256 algorithmOrderId) = _spendInputs(consumer, p, marketplace);
        _receive(currency, price, consumer);

        provider.activeJobs += 1;
        jobId = ++_jobCount;
        Job storage job = _jobs[jobId];
        job.consumer = consumer;
        job.deadline = p.deadline;
        job.status = JobStatus.Open;
        job.feeBps = _params.feeBps;
        job.provider = p.provider;
        job.currency = currency;
        job.payment = price.toUint96();
        job.datasetId = p.datasetId;
        job.algorithmId = p.algorithmId;
        _emitJobOpened(jobId, consumer, orderId, algorithmOrderId, p, currency, price);
    }

    /// @dev Its own frame: the event has more fields than `_openJob`'s stack has room for.
    function _emitJobOpened(
        uint256 jobId,
        address consumer,
        uint256 orderId,
        uint256 algorithmOrderId,
        OpenJobParams calldata p,
        address currency,
        uint256 price
    ) private {
        emit JobOpened(
            jobId,
            consumer,
            p.provider,
            p.datasetId,
            p.algorithmId,
            orderId,
            algorithmOrderId,
            currency,
            price,
            p.deadline,
            p.specCid
        );
    }

    /// @dev Checks the inputs (kinds, the dataset's algorithm policy, neither delisted) and spends one of
    /// `consumer`'s access tokens of each priced input, bound to the job's provider: the dataset's always,
    /// the algorithm's when its listing price is non-zero. Returns the orders (the algorithm's 0 when free).
    function _spendInputs(address consumer, OpenJobParams calldata p, IMarketplace marketplace)
        private
        returns (uint256 orderId, uint256 algorithmOrderId)
    {
        (address datasetToken, IAssetRegistry.AssetKind kind) = _REGISTRY.accessTokenAndKindOf(p.datasetId);
        if (kind != IAssetRegistry.AssetKind.Dataset) revert ComputeMarket__WrongAssetKind(p.datasetId);
        address algorithmToken;
        (algorithmToken, kind) = _REGISTRY.accessTokenAndKindOf(p.algorithmId);
        if (kind != IAssetRegistry.AssetKind.Algorithm && kind != IAssetRegistry.AssetKind.Model) {
            revert ComputeMarket__WrongAssetKind(p.algorithmId);
        }
        if (!isAlgorithmAllowed(p.datasetId, p.algorithmId)) {
            revert ComputeMarket__AlgorithmNotAllowed(p.datasetId, p.algorithmId);
        }
        if (marketplace.getListing(p.datasetId).delisted) revert ComputeMarket__InputDelisted(p.datasetId);
        IMarketplace.Listing memory algorithmListing = marketplace.getListing(p.algorithmId);
        if (algorithmListing.delisted) revert ComputeMarket__InputDelisted(p.algorithmId);

        orderId = _spend(datasetToken, p.datasetId, consumer, p.provider);
        if (algorithmListing.price != 0) {
            algorithmOrderId = _spend(algorithmToken, p.algorithmId, consumer, p.provider);
        }
    }

    /// @dev Spends one of `consumer`'s tokens of `assetId`, refusing by name a consumer who holds none.
    function _spend(address accessToken, uint256 assetId, address consumer, address provider)
        private
        returns (uint256 orderId)
    {
        if (IERC20(accessToken).balanceOf(consumer) == 0) {
            revert ComputeMarket__NoAccessToken(assetId, consumer);
        }
        return IAccessToken(accessToken).consumeFor(consumer, provider);
    }

    /// @dev Closes a job in the provider's favour: frees its slot, accrues the fee agreed at opening, and
    /// returns what the provider is owed (the caller pays or credits it).
    function _settleProvider(uint256 jobId, Job storage job)
        private
        returns (address currency, uint256 payout)
    {
        _providers[job.provider].activeJobs -= 1;
        uint256 payment = job.payment;
        uint256 fee = SplitMath.fee(payment, job.feeBps);
        currency = job.currency;
        if (fee != 0) _fees[currency] += fee;
        payout = payment - fee;
        emit JobFinalized(jobId, payout, fee);
    }

    function _credit(address account, address currency, uint256 amount) private {
        if (amount == 0) return;
        _claimable[account][currency] += amount;
        emit Credited(account, currency, amount);
    }

    /// @dev Takes `amount` of `currency` into escrow: ETH must come with the call, an ERC-20 is pulled from
    /// `payer` (the consumer, who approved this contract).
    function _receive(address currency, uint256 amount, address payer) private {
        if (currency == address(0)) {
            if (msg.value != amount) revert ComputeMarket__WrongValue(msg.value, amount);
            return;
        }
        if (msg.value != 0) revert ComputeMarket__WrongValue(msg.value, 0);
        if (amount == 0) return;
        uint256 arrived = ExactTransfer.pull(IERC20(currency), payer, address(this), amount);
        if (arrived != amount) revert ComputeMarket__TransferMismatch(amount, arrived);
    }

    function _pay(address currency, address to, uint256 amount) private {
        if (amount == 0) return;
        if (currency == address(0)) Address.sendValue(payable(to), amount);
        else IERC20(currency).safeTransfer(to, amount);
    }

    function _setParams(Params memory newParams) private {
        if (newParams.feeBps > MAX_FEE_BPS) revert ComputeMarket__FeeTooHigh(newParams.feeBps, MAX_FEE_BPS);
        if (
            newParams.challengeWindow == 0 || newParams.challengeWindow > MAX_PERIOD
                || newParams.exitCooldown > MAX_PERIOD || newParams.disputeBond == 0
                || newParams.disputeBond > type(uint96).max || newParams.rulingWindow == 0
                || newParams.rulingWindow > MAX_PERIOD
        ) revert ComputeMarket__InvalidParams();
        _params = newParams;
        emit ParamsUpdated(newParams);
    }

    /// @dev Asks the marketplace's allow-list (through the registry: the marketplace is wired after this
    /// contract is deployed). Only on registration and updates, never on a job's path.
    function _checkCurrency(address currency) private view {
        if (currency == address(0)) return;
        if (!IMarketplace(_REGISTRY.marketplace()).isCurrencyAllowed(currency)) {
            revert ComputeMarket__CurrencyNotAllowed(currency);
        }
    }

    /// @dev The last second the DAO may rule a disputed job.
    function _rulingDeadline(Job storage job) private view returns (uint256) {
        return uint256(job.challengeEnd) + job.rulingWindow;
    }

    function _registered(address account) private view returns (Provider storage provider) {
        provider = _providers[account];
        if (!provider.registered) revert ComputeMarket__NotProvider(account);
    }

    function _jobInStatus(uint256 jobId, JobStatus status) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status != status) revert ComputeMarket__WrongStatus(jobId, job.status);
    }

    function _checkDatasetOwner(uint256 datasetId) private view {
        if (IERC721(address(_REGISTRY)).ownerOf(datasetId) != msg.sender) {
            revert ComputeMarket__NotDatasetOwner(datasetId, msg.sender);
        }
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert ComputeMarket__InvalidEndpoint(length);
    }
}
