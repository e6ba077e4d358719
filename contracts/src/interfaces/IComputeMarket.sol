// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IComputeMarket
/// @notice Compute over data. Providers register with an ETH stake; a consumer opens a job on a
/// dataset with an algorithm or model, spending one access token of each priced input (always the
/// dataset's; the algorithm's or model's when its marketplace listing has a non-zero price, so its
/// owner is paid for compute as for downloads) and escrowing the provider's price. The provider posts a
/// result (CID + output hash); after a challenge window the provider is paid (minus the protocol fee),
/// or the consumer is refunded after the deadline if nothing was posted.
/// Anyone can dispute a posted result with a bond; the DAO (timelock, this contract's owner) rules.
///
/// A dispute the DAO does not rule on by its ruling deadline (`rulingWindow` seconds after the challenge
/// window closed, the window fixed when the dispute was raised) is settled by anyone with `expireDispute`,
/// by a default that punishes no one: the posted result stands (the provider is paid, less the fee, as if
/// the result had gone undisputed) and the challenger's bond is returned. Why this default:
/// - refunding the consumer instead would let a consumer get any result for free by disputing it and
///   hoping the DAO stays silent, and let anyone grief an honest provider out of its pay;
/// - confiscating the bond (to the treasury) would pay a captured or idle DAO for not ruling, and make
///   an honest challenger lose its bond to the DAO's silence; sending it to the provider would do the
///   latter too;
/// - so no party gains from the DAO's silence, and a griefing challenger's worst case is to delay the
///   provider's pay by a bounded time, with its own bond locked and at risk of a ruling meanwhile.
/// No slash is possible by default: slashing needs a ruling. After the deadline the DAO can no longer
/// rule, so the outcome at the deadline is fixed and no one can race it.
///
/// Providers name their currency from the DAO's allow-list, which lives in the {IMarketplace} (see there);
/// a currency disallowed later does not stop a provider's existing terms or settle any job differently.
///
/// Inputs the DAO delisted on the marketplace (its emergency stop for one asset) cannot be used in new
/// jobs, even with access tokens bought before: a provider must not be made to run an algorithm, or to
/// read a dataset, that the DAO took down. Jobs already open are not affected.
///
/// The marketplace's `buyAndOpenJob` buys the inputs' tokens and opens the job in one transaction,
/// through `openJobFor`, which only the marketplace may call.
interface IComputeMarket {
    /// @notice Where a job is in its life.
    enum JobStatus {
        None,
        Open,
        ResultPosted,
        Disputed,
        Finalized,
        Refunded,
        RuledAgainstProvider
    }

    /// @notice A registered provider.
    /// @param stake ETH staked.
    /// @param price Price of one job in `currency`.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @param exitAvailableAt When the stake may be withdrawn after `requestExit`; 0 while active.
    /// @param activeJobs Jobs not yet finalized, refunded or ruled.
    /// @param registered True while registered.
    /// @param endpoint The provider's HTTP endpoint.
    struct Provider {
        uint128 stake;
        uint128 price;
        address currency;
        uint64 exitAvailableAt;
        uint24 activeJobs;
        bool registered;
        string endpoint;
    }

    /// @notice A job.
    /// @param consumer Who opened and paid for it.
    /// @param deadline The provider must post a result by then.
    /// @param status Where it is.
    /// @param provider Who runs it.
    /// @param challengeEnd When the challenge window of a posted result closes.
    /// @param rulingWindow Seconds after `challengeEnd` the DAO has to rule a dispute, fixed when the result
    /// was disputed (0 until then): the ruling deadline is `challengeEnd + rulingWindow`.
    /// @param currency What the payment is in.
    /// @param payment Escrowed payment.
    /// @param datasetId The dataset asset.
    /// @param algorithmId The algorithm or model asset.
    /// @param outputHash Hash of the posted output.
    /// @param challenger Who disputed the result.
    /// @param bond The challenger's ETH bond.
    struct Job {
        address consumer;
        uint64 deadline;
        JobStatus status;
        /// @notice The protocol fee in force when the job was opened, which its payout uses.
        uint16 feeBps;
        address provider;
        uint64 challengeEnd;
        uint32 rulingWindow;
        address currency;
        uint96 payment;
        uint256 datasetId;
        uint256 algorithmId;
        bytes32 outputHash;
        address challenger;
        uint96 bond;
    }

    /// @notice What opening a job needs.
    /// @param datasetId The dataset asset (one of its access tokens is always spent).
    /// @param algorithmId The algorithm or model asset (one of its access tokens is spent when its
    /// marketplace listing has a non-zero price; a free one needs no token).
    /// @param provider The registered provider.
    /// @param specCid IPFS CID of the job spec.
    /// @param currency The currency the consumer means to pay with.
    /// @param maxPayment The most the consumer accepts.
    /// @param deadline When the provider must have posted a result.
    struct OpenJobParams {
        uint256 datasetId;
        uint256 algorithmId;
        address provider;
        string specCid;
        address currency;
        uint256 maxPayment;
        uint64 deadline;
    }

    /// @notice The DAO-set parameters.
    /// @param minStake Least ETH a provider must stake.
    /// @param disputeBond ETH a challenger must bond.
    /// @param challengeWindow Seconds a posted result stays open to dispute.
    /// @param exitCooldown Seconds between `requestExit` and withdrawing the stake.
    /// @param feeBps Protocol fee on job payments, basis points.
    /// @param rulingWindow Seconds after a disputed result's challenge window the DAO has to rule, after
    /// which anyone settles the dispute by the default (`expireDispute`).
    struct Params {
        uint128 minStake;
        uint128 disputeBond;
        uint64 challengeWindow;
        uint64 exitCooldown;
        uint16 feeBps;
        uint64 rulingWindow;
    }

    /// @notice The provider is not registered.
    /// @param provider The address.
    error ComputeMarket__NotProvider(address provider);
    /// @notice The provider is already registered.
    /// @param provider The address.
    error ComputeMarket__AlreadyRegistered(address provider);
    /// @notice The stake is below the minimum.
    /// @param stake Stake offered.
    /// @param minStake The minimum.
    error ComputeMarket__StakeTooLow(uint256 stake, uint256 minStake);
    /// @notice The provider is leaving and takes no new jobs.
    /// @param provider The provider.
    error ComputeMarket__ProviderExiting(address provider);
    /// @notice The provider has not asked to leave.
    /// @param provider The provider.
    error ComputeMarket__ExitNotRequested(address provider);
    /// @notice The exit cooldown has not passed.
    /// @param availableAt When it passes.
    error ComputeMarket__CooldownActive(uint256 availableAt);
    /// @notice The provider still has jobs in flight.
    /// @param activeJobs How many.
    error ComputeMarket__JobsInFlight(uint256 activeJobs);
    /// @notice An endpoint was empty or too long.
    /// @param length Its length.
    error ComputeMarket__InvalidEndpoint(uint256 length);
    /// @notice A CID was empty or too long.
    /// @param length Its length.
    error ComputeMarket__InvalidCid(uint256 length);
    /// @notice The asset is not of a kind that fits here.
    /// @param assetId The asset.
    error ComputeMarket__WrongAssetKind(uint256 assetId);
    /// @notice The dataset's owner does not allow this algorithm on it.
    /// @param datasetId The dataset.
    /// @param algorithmId The algorithm.
    error ComputeMarket__AlgorithmNotAllowed(uint256 datasetId, uint256 algorithmId);
    /// @notice Only the dataset's owner may do this.
    /// @param datasetId The dataset.
    /// @param caller The caller.
    error ComputeMarket__NotDatasetOwner(uint256 datasetId, address caller);
    /// @notice The deadline is not in the future.
    /// @param deadline The deadline.
    error ComputeMarket__InvalidDeadline(uint256 deadline);
    /// @notice The provider's price is above what the consumer allowed.
    /// @param price The price.
    /// @param maxPayment The most allowed.
    error ComputeMarket__PriceAboveMax(uint256 price, uint256 maxPayment);
    /// @notice The provider's currency is not the one the consumer meant to pay with.
    /// @param expected The consumer's currency.
    /// @param actual The provider's.
    error ComputeMarket__WrongCurrency(address expected, address actual);
    /// @notice The ETH sent does not match what is owed.
    /// @param sent ETH sent.
    /// @param expected ETH owed.
    error ComputeMarket__WrongValue(uint256 sent, uint256 expected);
    /// @notice The escrow received a different amount than was sent (fee-on-transfer tokens are refused).
    /// @param expected Amount sent.
    /// @param received Amount that arrived.
    error ComputeMarket__TransferMismatch(uint256 expected, uint256 received);
    /// @notice The job is not in the status this needs.
    /// @param jobId The job.
    /// @param status Its status.
    error ComputeMarket__WrongStatus(uint256 jobId, JobStatus status);
    /// @notice Only the job's provider may do this.
    /// @param jobId The job.
    /// @param caller The caller.
    error ComputeMarket__NotJobProvider(uint256 jobId, address caller);
    /// @notice The job's deadline has passed.
    /// @param jobId The job.
    /// @param deadline The deadline.
    error ComputeMarket__DeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice The job's deadline has not passed yet.
    /// @param jobId The job.
    /// @param deadline The deadline.
    error ComputeMarket__DeadlineNotReached(uint256 jobId, uint256 deadline);
    /// @notice The challenge window is still open.
    /// @param jobId The job.
    /// @param challengeEnd When it closes.
    error ComputeMarket__ChallengeWindowOpen(uint256 jobId, uint256 challengeEnd);
    /// @notice The challenge window has closed.
    /// @param jobId The job.
    /// @param challengeEnd When it closed.
    error ComputeMarket__ChallengeWindowClosed(uint256 jobId, uint256 challengeEnd);
    /// @notice A zero output hash.
    error ComputeMarket__ZeroOutputHash();
    /// @notice A slash larger than the provider's stake.
    /// @param slash The slash asked for.
    /// @param stake The stake.
    error ComputeMarket__SlashTooLarge(uint256 slash, uint256 stake);
    /// @notice The fee is above the cap written in code.
    /// @param feeBps The fee asked for.
    /// @param maxFeeBps The cap.
    error ComputeMarket__FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice A parameter is out of its allowed range.
    error ComputeMarket__InvalidParams();
    /// @notice An address that must be set was zero.
    error ComputeMarket__ZeroAddress();
    /// @notice No fees to release in this currency.
    /// @param currency The currency.
    error ComputeMarket__NothingToRelease(address currency);
    /// @notice The currency is not on the DAO's allow-list (kept by the marketplace; ETH always is).
    /// @param currency The currency.
    error ComputeMarket__CurrencyNotAllowed(address currency);
    /// @notice The DAO may still rule this dispute: it cannot be settled by default yet.
    /// @param jobId The job.
    /// @param rulingDeadline The last second the DAO may rule.
    error ComputeMarket__RulingWindowOpen(uint256 jobId, uint256 rulingDeadline);
    /// @notice The DAO's time to rule this dispute is over; it settles by default (`expireDispute`).
    /// @param jobId The job.
    /// @param rulingDeadline The last second the DAO could rule.
    error ComputeMarket__RulingWindowClosed(uint256 jobId, uint256 rulingDeadline);
    /// @notice Nothing is credited to the caller in this currency.
    /// @param account The caller.
    /// @param currency The currency.
    error ComputeMarket__NothingToClaim(address account, address currency);
    /// @notice The consumer holds no access token of an input the job must pay for (the dataset, or a
    /// priced algorithm or model); nothing was spent or escrowed.
    /// @param assetId The input.
    /// @param consumer The consumer.
    error ComputeMarket__NoAccessToken(uint256 assetId, address consumer);
    /// @notice The DAO delisted this input on the marketplace: no new job may use it until it is relisted.
    /// @param assetId The input.
    error ComputeMarket__InputDelisted(uint256 assetId);
    /// @notice Only the marketplace may do this.
    /// @param caller The caller.
    error ComputeMarket__NotMarketplace(address caller);

    /// @notice A provider registered.
    /// @param provider The provider.
    /// @param endpoint Its HTTP endpoint.
    /// @param currency Its currency.
    /// @param price Its price per job.
    /// @param stake Its stake.
    event ProviderRegistered(
        address indexed provider, string endpoint, address currency, uint256 price, uint256 stake
    );
    /// @notice A provider changed its endpoint or price.
    /// @param provider The provider.
    /// @param endpoint Its HTTP endpoint.
    /// @param currency Its currency.
    /// @param price Its price per job.
    event ProviderUpdated(address indexed provider, string endpoint, address currency, uint256 price);
    /// @notice A provider added stake.
    /// @param provider The provider.
    /// @param amount Added.
    /// @param stake New total.
    event StakeAdded(address indexed provider, uint256 amount, uint256 stake);
    /// @notice A provider asked to leave.
    /// @param provider The provider.
    /// @param availableAt When its stake can be withdrawn.
    event ProviderExitRequested(address indexed provider, uint64 availableAt);
    /// @notice A provider left and took back its stake.
    /// @param provider The provider.
    /// @param stake Returned stake.
    event ProviderExited(address indexed provider, uint256 stake);
    /// @notice A dataset owner restricted (or opened) which algorithms may run on it.
    /// @param datasetId The dataset.
    /// @param restricted True when only allowed algorithms may run.
    event AlgorithmPolicyUpdated(uint256 indexed datasetId, bool restricted);
    /// @notice A dataset owner allowed or disallowed an algorithm.
    /// @param datasetId The dataset.
    /// @param algorithmId The algorithm.
    /// @param allowed Whether it may run.
    event AlgorithmAllowed(uint256 indexed datasetId, uint256 indexed algorithmId, bool allowed);
    /// @notice A job was opened and its payment escrowed, after the `AccessConsumed` events of the orders
    /// spent for it (in the inputs' access tokens, bound to `provider`).
    /// @param jobId The job.
    /// @param consumer Who opened it (and paid, also through the marketplace's `buyAndOpenJob`).
    /// @param provider Who runs it.
    /// @param datasetId The dataset.
    /// @param algorithmId The algorithm or model.
    /// @param orderId The order spent in the dataset's access token.
    /// @param algorithmOrderId The order spent in the algorithm's or model's access token; 0 when it is
    /// free (its listing price was 0 at opening, so no token was spent).
    /// @param currency Payment currency.
    /// @param payment Escrowed payment.
    /// @param deadline Result deadline.
    /// @param specCid IPFS CID of the job spec.
    event JobOpened(
        uint256 indexed jobId,
        address indexed consumer,
        address indexed provider,
        uint256 datasetId,
        uint256 algorithmId,
        uint256 orderId,
        uint256 algorithmOrderId,
        address currency,
        uint256 payment,
        uint64 deadline,
        string specCid
    );
    /// @notice The provider posted a result.
    /// @param jobId The job.
    /// @param resultCid IPFS CID of the result.
    /// @param outputHash Hash of the output.
    /// @param challengeEnd When the challenge window closes.
    event ResultPosted(uint256 indexed jobId, string resultCid, bytes32 outputHash, uint64 challengeEnd);
    /// @notice The job was finalized and the provider paid.
    /// @param jobId The job.
    /// @param providerPayout Paid to the provider.
    /// @param fee Protocol fee.
    event JobFinalized(uint256 indexed jobId, uint256 providerPayout, uint256 fee);
    /// @notice The consumer was refunded (nothing was posted by the deadline).
    /// @param jobId The job.
    /// @param amount Refunded.
    event JobRefunded(uint256 indexed jobId, uint256 amount);
    /// @notice The job's provider declined an open job it will not run; emitted after the
    /// `JobRefunded` that returned its payment.
    /// @param jobId The job.
    /// @param provider The provider that declined it.
    event JobDeclined(uint256 indexed jobId, address indexed provider);
    /// @notice A result was disputed.
    /// @param jobId The job.
    /// @param challenger The challenger.
    /// @param bond Its bond.
    /// @param reasonCid IPFS CID of the reason.
    event JobDisputed(uint256 indexed jobId, address indexed challenger, uint256 bond, string reasonCid);
    /// @notice The DAO ruled a dispute.
    /// @param jobId The job.
    /// @param providerAtFault True when the provider lost.
    /// @param slashed Stake slashed from the provider (to the treasury).
    event DisputeRuled(uint256 indexed jobId, bool providerAtFault, uint256 slashed);
    /// @notice A dispute went unruled past its deadline and was settled by default: the provider's payout
    /// was credited to it (with `JobFinalized` and `Credited` before this event) and the bond credited
    /// back to the challenger.
    /// @param jobId The job.
    /// @param challenger Who disputed, and got its bond back.
    /// @param bond The bond credited back.
    /// @param rulingDeadline The deadline that passed.
    event DisputeExpired(
        uint256 indexed jobId, address indexed challenger, uint256 bond, uint256 rulingDeadline
    );
    /// @notice A dispute ruling credited `amount` to `account`, which it withdraws with `claim` (rulings
    /// never push funds, so no recipient can block one).
    /// @param account Who may claim.
    /// @param currency The currency.
    /// @param amount How much was credited.
    event Credited(address indexed account, address indexed currency, uint256 amount);
    /// @notice An account withdrew what rulings credited to it.
    /// @param account Who claimed.
    /// @param currency The currency.
    /// @param amount How much.
    event Claimed(address indexed account, address indexed currency, uint256 amount);
    /// @notice The DAO changed the parameters.
    /// @param params The new parameters.
    event ParamsUpdated(Params params);
    /// @notice The fee recipient (the treasury) changed.
    /// @param oldRecipient Previous.
    /// @param newRecipient New.
    event FeeRecipientUpdated(address oldRecipient, address newRecipient);
    /// @notice Accrued protocol fees (and slashed stakes, forfeited bonds) were paid to the fee recipient.
    /// @param currency The currency.
    /// @param recipient The fee recipient.
    /// @param amount How much.
    event FeesReleased(address indexed currency, address indexed recipient, uint256 amount);

    /// @notice Registers the caller as a provider, staking the ETH sent.
    /// @param endpoint The provider's HTTP endpoint.
    /// @param currency address(0) for ETH, otherwise an ERC-20 on the DAO's allow-list.
    /// @param price Price of one job.
    function registerProvider(string calldata endpoint, address currency, uint128 price) external payable;

    /// @notice Changes the caller's endpoint or price (open jobs keep their escrowed price).
    /// @param endpoint The provider's HTTP endpoint.
    /// @param currency address(0) for ETH, otherwise an ERC-20 on the DAO's allow-list (checked even when
    /// unchanged).
    /// @param price Price of one job.
    function updateProvider(string calldata endpoint, address currency, uint128 price) external;

    /// @notice Adds the ETH sent to the caller's stake.
    function addStake() external payable;

    /// @notice Starts the caller's exit; it takes no new jobs from now on.
    function requestExit() external;

    /// @notice Ends the caller's registration and returns its stake, after the cooldown and with no jobs in flight.
    function withdrawStake() external;

    /// @notice Restricts which algorithms may run on a dataset (or lifts the restriction); only its owner.
    /// @param datasetId The dataset.
    /// @param restricted True to allow only listed algorithms.
    function setAlgorithmRestricted(uint256 datasetId, bool restricted) external;

    /// @notice Allows or disallows algorithms on a dataset; only its owner.
    /// @param datasetId The dataset.
    /// @param algorithmIds The algorithms.
    /// @param allowed Whether they may run.
    function setAlgorithmsAllowed(uint256 datasetId, uint256[] calldata algorithmIds, bool allowed) external;

    /// @notice Opens a job: spends one of the caller's access tokens of each priced input (the dataset's
    /// always, the algorithm's or model's when its listing price is non-zero) and escrows the provider's
    /// price (ETH sent with the call, or an ERC-20 the caller approved to this contract). Delisted inputs
    /// are refused.
    /// @param params The job.
    /// @return jobId The job's id.
    function openJob(OpenJobParams calldata params) external payable returns (uint256 jobId);

    /// @notice `openJob` for `consumer`, who spends the tokens and pays; only the marketplace (its
    /// `buyAndOpenJob`, which buys the tokens first and names its own caller as the consumer). An ETH
    /// payment comes with the call; an ERC-20 payment is taken from `consumer`, who approved this contract.
    /// @param consumer Who opens the job and pays for it.
    /// @param params The job.
    /// @return jobId The job's id.
    function openJobFor(address consumer, OpenJobParams calldata params)
        external
        payable
        returns (uint256 jobId);

    /// @notice Posts a job's result; only its provider, by the deadline.
    /// @param jobId The job.
    /// @param resultCid IPFS CID of the result.
    /// @param outputHash Hash of the output.
    function postResult(uint256 jobId, string calldata resultCid, bytes32 outputHash) external;

    /// @notice Pays the provider after the challenge window closed undisputed. Anyone may call.
    /// @param jobId The job.
    function finalize(uint256 jobId) external;

    /// @notice Refunds the consumer when no result was posted by the deadline. Anyone may call.
    /// @param jobId The job.
    function refund(uint256 jobId) external;

    /// @notice The job's provider declines an open job it will not run (a spec or input it can
    /// never run, a key it does not hold, a run that failed): the consumer gets the escrowed
    /// payment back at once instead of at the deadline. The inputs' access tokens stay spent,
    /// as with any refund.
    /// @param jobId The job.
    function declineJob(uint256 jobId) external;

    /// @notice Disputes a posted result within the challenge window, bonding `disputeBond` ETH.
    /// @param jobId The job.
    /// @param reasonCid IPFS CID of the reason.
    function dispute(uint256 jobId, string calldata reasonCid) external payable;

    /// @notice Rules a dispute; only the DAO, by the ruling deadline (`challengeEnd + rulingWindow`). At fault: the consumer's payment and the challenger's bond are
    /// credited back to them and `slash` of the provider's stake goes to the treasury. Not at fault: the
    /// provider's payout is credited to it and the bond goes to the treasury. Credits are withdrawn with `claim`.
    /// @param jobId The job.
    /// @param providerAtFault The ruling.
    /// @param slash Stake to slash when at fault.
    function ruleDispute(uint256 jobId, bool providerAtFault, uint128 slash) external;

    /// @notice Settles a dispute the DAO left unruled past its deadline, by the default: the provider's
    /// payout (less the fee agreed at opening) and the challenger's bond are credited to them, and the job
    /// is finalized, so it no longer holds the provider's stake. Anyone may call.
    /// @param jobId The job.
    function expireDispute(uint256 jobId) external;

    /// @notice Withdraws everything dispute rulings credited to the caller in a currency.
    /// @param currency address(0) for ETH, otherwise an ERC-20.
    /// @return amount How much was paid.
    function claim(address currency) external returns (uint256 amount);

    /// @notice Sets the parameters; only the DAO.
    /// @param params The new parameters.
    function setParams(Params calldata params) external;

    /// @notice Sets who receives fees, slashed stakes and forfeited bonds; only the DAO.
    /// @param recipient The new recipient.
    function setFeeRecipient(address recipient) external;

    /// @notice Pays accrued fees in a currency to the fee recipient. Anyone may call.
    /// @param currency The currency.
    /// @return amount How much was paid.
    function releaseFees(address currency) external returns (uint256 amount);

    /// @notice A provider.
    /// @param provider The address.
    /// @return The provider.
    function getProvider(address provider) external view returns (Provider memory);

    /// @notice A job.
    /// @param jobId The job.
    /// @return The job.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice Whether an algorithm may run on a dataset.
    /// @param datasetId The dataset.
    /// @param algorithmId The algorithm.
    /// @return True when allowed.
    function isAlgorithmAllowed(uint256 datasetId, uint256 algorithmId) external view returns (bool);

    /// @notice The parameters.
    /// @return The parameters.
    function params() external view returns (Params memory);

    /// @notice Fees accrued and not yet released in a currency.
    /// @param currency The currency.
    /// @return The amount.
    function accruedFees(address currency) external view returns (uint256);

    /// @notice What dispute rulings credited to an account and it has not claimed yet.
    /// @param account The account.
    /// @param currency The currency.
    /// @return The amount.
    function claimable(address account, address currency) external view returns (uint256);

    /// @notice Number of jobs opened (ids run from 1 to this).
    /// @return The count.
    function totalJobs() external view returns (uint256);

    /// @notice Who receives fees.
    /// @return The recipient.
    function feeRecipient() external view returns (address);
}
