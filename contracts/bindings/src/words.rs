//! The protocol's values in words, the one table every surface uses (the CLI, the hub's pages
//! through its `/api/revert`, the Python package): custom errors as sentences for the cases users
//! meet (a price that changed, a balance too small, someone else's asset, an asset that does not
//! exist), job statuses and proposal states by name, and amounts in their currency's units
//! ("0.01 ETH", "2.5 mUSD").

use alloy::primitives::{
    Address, U256,
    utils::{ParseUnits, format_units, parse_units},
};

use crate::{
    Revert, access_token::AccessToken::AccessTokenErrors as AccessToken,
    agora_governor::AgoraGovernor::AgoraGovernorErrors as Governor,
    agora_rewards::AgoraRewards::AgoraRewardsErrors as Rewards,
    agora_token::AgoraToken::AgoraTokenErrors as AgoraToken,
    asset_registry::AssetRegistry::AssetRegistryErrors as Registry,
    compute_market::ComputeMarket::ComputeMarketErrors as Market,
    marketplace::Marketplace::MarketplaceErrors as Marketplace,
    revenue_splitter::RevenueSplitter::RevenueSplitterErrors as Splitter,
};

/// How amounts of one currency are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    /// Ticker, e.g. `ETH`.
    pub symbol: String,
    /// Decimals of the smallest unit.
    pub decimals: u8,
}

impl Units {
    /// ETH: 18 decimals.
    pub fn eth() -> Self {
        Self { symbol: "ETH".into(), decimals: 18 }
    }

    /// AGORA, the governance token: 18 decimals.
    pub fn agora() -> Self {
        Self { symbol: "AGORA".into(), decimals: 18 }
    }

    /// `amount` base units with up to 6 decimals, e.g. `0.012345 ETH`.
    pub fn format(&self, amount: U256) -> String {
        let Ok(text) = format_units(amount, self.decimals) else {
            return format!("{amount} base units of {}", self.symbol);
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let fraction = fraction.get(..6).unwrap_or(fraction).trim_end_matches('0');
        if fraction.is_empty() {
            format!("{whole} {}", self.symbol)
        } else {
            format!("{whole}.{fraction} {}", self.symbol)
        }
    }

    /// Parses a decimal amount (`0.01`) into base units.
    pub fn parse(&self, text: &str) -> Result<U256, AmountError> {
        // parse_units would silently drop the digits beyond the currency's precision.
        let fraction = text.split_once('.').map_or("", |(_, fraction)| fraction);
        let decimals = self.decimals;
        if fraction.len() > usize::from(decimals) {
            return Err(AmountError::TooPrecise {
                text: text.to_owned(),
                symbol: self.symbol.clone(),
                decimals,
            });
        }
        let not_an_amount =
            || AmountError::NotAnAmount { text: text.to_owned(), symbol: self.symbol.clone(), decimals };
        match parse_units(text, decimals) {
            Ok(ParseUnits::U256(amount)) => Ok(amount),
            // A negative amount would wrap around to a huge unsigned one.
            Ok(ParseUnits::I256(_)) | Err(_) => Err(not_an_amount()),
        }
    }
}

/// A decimal amount that does not fit its currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// More fraction digits than the currency has decimals.
    #[error("{text:?} has more decimals than {symbol} has ({decimals})")]
    TooPrecise {
        /// The amount as written.
        text: String,
        /// The currency's ticker.
        symbol: String,
        /// Its decimals.
        decimals: u8,
    },
    /// Not a decimal number.
    #[error("{text:?} is not an amount of {symbol} (up to {decimals} decimals)")]
    NotAnAmount {
        /// The amount as written.
        text: String,
        /// The currency's ticker.
        symbol: String,
        /// Its decimals.
        decimals: u8,
    },
}

/// What a page or a command says about `revert`: its sentence in [`sentence`]'s table, else the
/// decoded error with its values (`Marketplace__FeeTooHigh { feeBps: 5000, maxFeeBps: 1000 }`).
pub fn describe(revert: &Revert, units: &Units) -> String {
    sentence(revert, units).unwrap_or_else(|| format!("the contract refused: {}", decoded(revert)))
}

/// The custom error with its values, without the enums that wrap it
/// (`Marketplace__FeeTooHigh { feeBps: 5000, maxFeeBps: 1000 }`, `Marketplace__ZeroAmount`).
pub fn decoded(revert: &Revert) -> String {
    // `Contract(ContractErrors::Name(Name { fields }))` in Debug form; the innermost value is the error.
    let debug = format!("{revert:?}");
    match debug.find(" {") {
        Some(brace) => {
            let start = debug[..brace].rfind('(').map_or(0, |i| i + 1);
            let end = debug.rfind('}').map_or(debug.len(), |i| i + 1);
            debug[start..end].to_owned()
        }
        None => {
            let inner = debug.trim_end_matches(')');
            inner[inner.rfind('(').map_or(0, |i| i + 1)..].to_owned()
        }
    }
}

/// `wei` as ether with up to 6 decimals, e.g. `0.012345 ETH`.
pub fn ether(wei: U256) -> String {
    Units::eth().format(wei)
}

/// The asset kinds (`IAssetRegistry.AssetKind`) by their numbers.
pub const ASSET_KINDS: [&str; 5] = ["dataset", "model", "algorithm", "app", "notebook"];

/// An asset kind's name (`IAssetRegistry.AssetKind`), `unknown` past the known ones.
pub fn asset_kind_name(code: u8) -> &'static str {
    ASSET_KINDS.get(usize::from(code)).copied().unwrap_or("unknown")
}

/// An asset kind's number from its name.
pub fn asset_kind_code(name: &str) -> Option<u8> {
    ASSET_KINDS.iter().position(|kind| *kind == name).and_then(|code| u8::try_from(code).ok())
}

/// A compute job's status (`ComputeMarket.JobStatus`) by name.
pub fn job_status_name(status: u8) -> &'static str {
    match status {
        0 => "unknown",
        1 => "open",
        2 => "result posted",
        3 => "disputed",
        4 => "finalized",
        5 => "refunded",
        6 => "ruled against the provider",
        _ => "in an unknown state",
    }
}

/// A unix time as UTC `YYYY-MM-DD HH:MM`.
pub fn time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

/// A duration in seconds in the largest unit that divides it exactly: `5 days`, `1 day`, `2 h`,
/// `5 min`, `90 s` (governance settings, vesting, epochs).
pub fn duration(seconds: u64) -> String {
    match seconds {
        0 => "0 s".into(),
        s if s % 86_400 == 0 => {
            let days = s / 86_400;
            format!("{days} day{}", if days == 1 { "" } else { "s" })
        }
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// A vote's `support` in words (GovernorCountingSimple's 0, 1, 2).
pub fn support_name(support: u8) -> &'static str {
    match support {
        0 => "against",
        1 => "for",
        2 => "abstain",
        _ => "unknown",
    }
}

/// A governor proposal's state (OpenZeppelin's `IGovernor.ProposalState`) by name.
pub fn proposal_state_name(state: u8) -> &'static str {
    match state {
        0 => "pending",
        1 => "active",
        2 => "canceled",
        3 => "defeated",
        4 => "succeeded",
        5 => "queued",
        6 => "expired",
        7 => "executed",
        _ => "unknown",
    }
}

/// A sentence for `revert`, amounts written in `units` (the currency of the call at hand);
/// `None` for errors without one.
pub fn sentence(revert: &Revert, units: &Units) -> Option<String> {
    let not_owner = |asset: U256, caller: Address, owner: Address| {
        format!("not the owner: asset {asset} belongs to {owner}, not {caller}")
    };
    let balance = |holder: Address, balance: U256, needed: U256| {
        format!(
            "insufficient balance: {holder} has {}, needs {}",
            units.format(balance),
            units.format(needed)
        )
    };
    let allowance = |spender: Address, allowance: U256, needed: U256| {
        format!(
            "insufficient allowance: {spender} may spend {}, needs {}",
            units.format(allowance),
            units.format(needed)
        )
    };
    let text = match revert {
        Revert::Marketplace(err) => match err {
            Marketplace::Marketplace__PriceAboveMax(e) => format!(
                "price changed: you allowed {}, it is now {}",
                units.format(e.maxPrice),
                units.format(e.price)
            ),
            Marketplace::Marketplace__UnknownAsset(e) => unknown(e.assetId),
            Marketplace::Marketplace__NotAssetOwner(e) => not_owner(e.assetId, e.caller, e.owner),
            Marketplace::Marketplace__Delisted(e) => {
                format!("asset {} is delisted by the DAO and cannot be bought", e.assetId)
            }
            Marketplace::Marketplace__WrongCurrency(e) => format!(
                "wrong currency: asset {} is sold in {}, not {}",
                e.assetId,
                currency(e.actual),
                currency(e.expected)
            ),
            Marketplace::Marketplace__WrongValue(e) => format!(
                "wrong payment: sent {}, the purchase costs {}",
                units.format(e.sent),
                units.format(e.expected)
            ),
            Marketplace::Marketplace__ZeroAmount(_) => "the amount must be at least 1".into(),
            Marketplace::Marketplace__CurrencyNotAllowed(e) => format!(
                "currency {} is not on the DAO's allow-list: list in ETH or an allowed ERC-20 (a DAO proposal can allow one)",
                currency(e.currency)
            ),
            Marketplace::Marketplace__NotJobInput(e) => format!(
                "asset {} is not an input of this job (or is listed twice): only its dataset and algorithm can be bought with it",
                e.assetId
            ),
            Marketplace::Marketplace__CurrencyHasNoCode(e) => {
                format!("{} has no contract code: it cannot be a currency", e.currency)
            }
            _ => return None,
        },
        Revert::ComputeMarket(err) => match err {
            Market::ComputeMarket__NotProvider(e) => {
                format!("{} is not a registered provider (see `agora provider register`)", e.provider)
            }
            Market::ComputeMarket__AlreadyRegistered(e) => {
                format!("{} is already a registered provider", e.provider)
            }
            Market::ComputeMarket__StakeTooLow(e) => {
                format!("stake too low: {} staked, the minimum is {}", ether(e.stake), ether(e.minStake))
            }
            Market::ComputeMarket__ProviderExiting(e) => {
                format!(
                    "provider {} is leaving: it takes no new jobs and has already asked to exit",
                    e.provider
                )
            }
            Market::ComputeMarket__ExitNotRequested(e) => format!("{} has not asked to exit yet", e.provider),
            Market::ComputeMarket__CooldownActive(e) => {
                format!(
                    "the exit cooldown is still running: the stake can be withdrawn from {} (unix time)",
                    e.availableAt
                )
            }
            Market::ComputeMarket__JobsInFlight(e) => {
                format!(
                    "{} job(s) still in flight: the stake is released once they are settled",
                    e.activeJobs
                )
            }
            Market::ComputeMarket__InvalidEndpoint(e) => {
                format!("invalid endpoint: {} bytes, it must be 1 to 256", e.length)
            }
            Market::ComputeMarket__WrongAssetKind(e) => format!(
                "asset {} is of the wrong kind: a job takes a dataset and an algorithm or model",
                e.assetId
            ),
            Market::ComputeMarket__AlgorithmNotAllowed(e) => {
                format!(
                    "the owner of dataset {} does not allow algorithm {} on it",
                    e.datasetId, e.algorithmId
                )
            }
            Market::ComputeMarket__InvalidDeadline(e) => {
                format!("deadline {} is not in the future", e.deadline)
            }
            Market::ComputeMarket__PriceAboveMax(e) => format!(
                "price changed: you allowed {}, the provider charges {}",
                units.format(e.maxPayment),
                units.format(e.price)
            ),
            Market::ComputeMarket__WrongCurrency(e) => {
                format!("wrong currency: the provider is paid in {}, not {}", e.actual, e.expected)
            }
            Market::ComputeMarket__WrongValue(e) => {
                format!("wrong payment: sent {}, it costs {}", ether(e.sent), ether(e.expected))
            }
            Market::ComputeMarket__WrongStatus(e) => {
                format!("job {} is {}: not in a state that allows this", e.jobId, job_status_name(e.status))
            }
            Market::ComputeMarket__NotDatasetOwner(e) => {
                format!(
                    "{} does not own dataset {}: only its owner sets which algorithms may run on it",
                    e.caller, e.datasetId
                )
            }
            Market::ComputeMarket__NotJobProvider(e) => {
                format!("{} is not job {}'s provider", e.caller, e.jobId)
            }
            Market::ComputeMarket__DeadlinePassed(e) => {
                format!("job {}'s deadline {} has passed", e.jobId, e.deadline)
            }
            Market::ComputeMarket__DeadlineNotReached(e) => format!(
                "job {}'s deadline {} (unix time) has not passed: it can be refunded only after it",
                e.jobId, e.deadline
            ),
            Market::ComputeMarket__ChallengeWindowOpen(e) => {
                format!("job {}'s challenge window is open until {} (unix time)", e.jobId, e.challengeEnd)
            }
            Market::ComputeMarket__ChallengeWindowClosed(e) => format!(
                "job {}'s challenge window closed at {} (unix time): it can no longer be disputed",
                e.jobId, e.challengeEnd
            ),
            Market::ComputeMarket__CurrencyNotAllowed(e) => format!(
                "currency {} is not on the DAO's allow-list: jobs are priced in ETH or an allowed ERC-20",
                currency(e.currency)
            ),
            Market::ComputeMarket__RulingWindowOpen(e) => format!(
                "job {}'s dispute awaits the DAO's ruling until {} (unix time); after that anyone can settle it with `agora job expire-dispute {}`",
                e.jobId, e.rulingDeadline, e.jobId
            ),
            Market::ComputeMarket__RulingWindowClosed(e) => format!(
                "job {}'s ruling deadline passed at {} (unix time): the dispute is settled by its default (`agora job expire-dispute {}`)",
                e.jobId, e.rulingDeadline, e.jobId
            ),
            Market::ComputeMarket__NothingToClaim(e) => {
                format!(
                    "nothing to claim: no balance is credited to {} in {}",
                    e.account,
                    currency(e.currency)
                )
            }
            Market::ComputeMarket__NoAccessToken(e) => format!(
                "{} holds no access token of asset {}, an input this job must pay for: buy one (`agora asset buy {}`), or let `agora job submit` buy it with the job",
                e.consumer, e.assetId, e.assetId
            ),
            Market::ComputeMarket__InputDelisted(e) => {
                format!("asset {} is delisted by the DAO: no new job may use it", e.assetId)
            }
            _ => return None,
        },
        Revert::AssetRegistry(err) => match err {
            Registry::AssetRegistry__UnknownAsset(e) => unknown(e.assetId),
            Registry::ERC721NonexistentToken(e) => unknown(e.tokenId),
            Registry::AssetRegistry__NotAssetOwner(e) => not_owner(e.assetId, e.caller, e.owner),
            Registry::AssetRegistry__InvalidCid(e) => {
                format!("invalid metadata CID: {} bytes, must be 1 to {}", e.length, e.maxLength)
            }
            Registry::AssetRegistry__ZeroDigest(_) => "the content digest must not be zero".into(),
            _ => return None,
        },
        Revert::RevenueSplitter(err) => match err {
            Splitter::RevenueSplitter__NoSplit(e) => unknown(e.assetId),
            Splitter::RevenueSplitter__NotAssetOwner(e) => not_owner(e.assetId, e.caller, e.owner),
            Splitter::RevenueSplitter__NothingToRelease(e) => format!(
                "nothing to release: {} is owed nothing for asset {} in {}",
                e.recipient,
                e.assetId,
                currency(e.currency)
            ),
            Splitter::RevenueSplitter__SharesNotFull(e) => {
                format!("split shares sum to {} bps, they must sum to 10000", e.sum)
            }
            _ => return None,
        },
        // ERC-20 errors carry the same selector wherever they are declared; they decode as the
        // first contract's that declares them, whichever token raised them.
        Revert::AccessToken(err) => match err {
            AccessToken::AccessToken__NotAssetOwner(e) => {
                format!("not the owner: the asset belongs to {}, not {}", e.owner, e.caller)
            }
            AccessToken::AccessToken__InvalidGrant(_) => {
                "invalid grant: the recipient must not be zero and the amount at least 1".into()
            }
            AccessToken::ERC20InsufficientBalance(e) => balance(e.sender, e.balance, e.needed),
            AccessToken::InvalidAccountNonce(e) => used_nonce(e.account, e.currentNonce),
            AccessToken::ERC20InsufficientAllowance(e) => allowance(e.spender, e.allowance, e.needed),
            _ => return None,
        },
        Revert::AgoraGovernor(err) => match err {
            Governor::GovernorUnexpectedProposalState(e) => format!(
                "proposal {} is {}: not in a state that allows this",
                e.proposalId,
                proposal_state_name(e.current)
            ),
            Governor::GovernorNonexistentProposal(e) => format!("unknown proposal {}", e.proposalId),
            Governor::GovernorAlreadyCastVote(e) => format!("{} has already voted on this proposal", e.voter),
            Governor::GovernorRestrictedProposer(e) => format!(
                "the description ends in #proposer= naming another account: only that account may propose it, not {}",
                e.proposer
            ),
            Governor::GovernorInsufficientProposerVotes(e) => format!(
                "{} has {} of votes, proposing needs {}",
                e.proposer,
                Units::agora().format(e.votes),
                Units::agora().format(e.threshold)
            ),
            Governor::GovernorUnableToCancel(e) => format!(
                "{} may not cancel proposal {}: only the proposal guardian may, at any stage",
                e.account, e.proposalId
            ),
            Governor::GovernorInvalidSignature(e) => format!(
                "the vote signature is not {}'s for this governor, chain and nonce (signed elsewhere, or already used)",
                e.voter
            ),
            _ => return None,
        },
        Revert::AgoraRewards(err) => match err {
            Rewards::AgoraRewards__EpochAlreadyFunded(e) => {
                format!("rewards epoch {} is already funded", e.epoch)
            }
            Rewards::AgoraRewards__EpochNotFunded(e) => {
                format!("rewards epoch {} is not funded yet: the DAO funds an epoch by proposal", e.epoch)
            }
            Rewards::AgoraRewards__EpochNotEnded(e) => {
                format!("rewards epoch {} has not ended yet (it ends at unix time {})", e.epoch, e.endsAt)
            }
            Rewards::AgoraRewards__EmptyEpoch(_) => "a rewards epoch needs a non-zero root and total".into(),
            Rewards::AgoraRewards__InsufficientReserve(e) => format!(
                "the rewards reserve has {} left, the epoch needs {}",
                Units::agora().format(e.available),
                Units::agora().format(e.requested)
            ),
            Rewards::AgoraRewards__AlreadyClaimed(e) => {
                format!("{} has already claimed rewards epoch {}", e.account, e.epoch)
            }
            Rewards::AgoraRewards__InvalidProof(e) => format!(
                "{} for {} is not in rewards epoch {}'s tree: wrong amount, account or proof",
                Units::agora().format(e.amount),
                e.account,
                e.epoch
            ),
            Rewards::AgoraRewards__EpochOverdrawn(e) => format!(
                "rewards epoch {} has {} left, the claim is {}",
                e.epoch,
                Units::agora().format(e.remaining),
                Units::agora().format(e.amount)
            ),
            _ => return None,
        },
        Revert::AgoraToken(err) => match err {
            AgoraToken::InvalidAccountNonce(e) => used_nonce(e.account, e.currentNonce),
            AgoraToken::VotesExpiredSignature(e) => {
                format!("the signed delegation expired at {}: sign it again", unix_time(e.expiry))
            }
            AgoraToken::ERC20InsufficientBalance(e) => balance(e.sender, e.balance, e.needed),
            AgoraToken::ERC20InsufficientAllowance(e) => allowance(e.spender, e.allowance, e.needed),
            _ => return None,
        },
        _ => return None,
    };
    Some(text)
}

fn used_nonce(account: Address, next: U256) -> String {
    format!("the signature's nonce is used up ({account}'s next nonce is {next}): sign it again")
}

/// A unix time held in a uint256 (a governor timepoint, an expiry) in UTC, as [`time`] writes it.
pub fn unix_time(unix: U256) -> String {
    i64::try_from(unix).map(time).unwrap_or_else(|_| format!("unix time {unix}"))
}

fn unknown(asset: U256) -> String {
    format!("unknown asset {asset}: no asset with that id is published")
}

fn currency(address: Address) -> String {
    if address.is_zero() { "ETH".into() } else { address.to_string() }
}

#[cfg(test)]
mod tests {
    use crate::{access_token::AccessToken as AT, marketplace::Marketplace as M};
    use alloy::{primitives::address, sol_types::SolError};

    use super::*;

    fn decode<E: SolError>(error: E) -> Revert {
        Revert::decode(&error.abi_encode()).unwrap_or_else(|| panic!("{} does not decode", E::SIGNATURE))
    }

    const ALICE: Address = address!("0x00000000000000000000000000000000000000a1");
    const BOB: Address = address!("0x00000000000000000000000000000000000000b0");

    #[test]
    fn times_are_utc_minutes() {
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(time(1_796_558_400), "2026-12-06 12:00 UTC");
    }

    #[test]
    fn durations_use_the_largest_exact_unit() {
        let cases = [(0, "0 s"), (1, "1 s"), (90, "90 s"), (300, "5 min"), (7_200, "2 h"), (86_400, "1 day")];
        for (seconds, text) in cases.into_iter().chain([(432_000, "5 days")]) {
            assert_eq!(duration(seconds), text);
        }
    }

    #[test]
    fn a_changed_price_names_both_prices_in_the_currency() {
        let revert = decode(M::Marketplace__PriceAboveMax {
            assetId: U256::from(3),
            price: U256::from(1_200_000_000_000_000_000u128),
            maxPrice: U256::from(1_000_000_000_000_000_000u128),
        });
        assert_eq!(
            sentence(&revert, &Units::eth()).as_deref(),
            Some("price changed: you allowed 1 ETH, it is now 1.2 ETH")
        );
    }

    #[test]
    fn balances_owners_and_unknown_assets_read_as_sentences() {
        let usd = Units { symbol: "mUSD".into(), decimals: 6 };
        let revert = decode(AT::ERC20InsufficientBalance {
            sender: ALICE,
            balance: U256::from(1_000_000),
            needed: U256::from(2_500_000),
        });
        assert_eq!(
            sentence(&revert, &usd).as_deref(),
            Some(format!("insufficient balance: {ALICE} has 1 mUSD, needs 2.5 mUSD").as_str())
        );
        let revert =
            decode(M::Marketplace__NotAssetOwner { assetId: U256::from(7), caller: BOB, owner: ALICE });
        assert_eq!(
            sentence(&revert, &usd).as_deref(),
            Some(format!("not the owner: asset 7 belongs to {ALICE}, not {BOB}").as_str())
        );
        let revert = decode(AT::AccessToken__NotAssetOwner { caller: BOB, owner: ALICE });
        assert!(sentence(&revert, &usd).is_some_and(|s| s.starts_with("not the owner")));
        let revert = decode(M::Marketplace__UnknownAsset { assetId: U256::from(99) });
        assert!(sentence(&revert, &usd).is_some_and(|s| s.starts_with("unknown asset 99")));
        let revert = decode(M::Marketplace__WrongCurrency {
            assetId: U256::from(1),
            expected: ALICE,
            actual: Address::ZERO,
        });
        assert_eq!(
            sentence(&revert, &usd).as_deref(),
            Some(format!("wrong currency: asset 1 is sold in ETH, not {ALICE}").as_str())
        );
    }

    #[test]
    fn a_governance_step_taken_too_early_names_the_proposal_state() {
        let revert = decode(crate::agora_governor::AgoraGovernor::GovernorUnexpectedProposalState {
            proposalId: U256::from(42),
            current: 1,
            expectedStates: alloy::primitives::B256::ZERO,
        });
        assert_eq!(
            sentence(&revert, &Units::eth()).as_deref(),
            Some("proposal 42 is active: not in a state that allows this")
        );
    }

    #[test]
    fn errors_without_a_sentence_are_left_alone() {
        let revert =
            decode(M::Marketplace__FeeTooHigh { feeBps: U256::from(5000), maxFeeBps: U256::from(1000) });
        assert_eq!(sentence(&revert, &Units::eth()), None);
        assert_eq!(
            describe(&revert, &Units::eth()),
            "the contract refused: Marketplace__FeeTooHigh { feeBps: 5000, maxFeeBps: 1000 }"
        );
        assert_eq!(decoded(&decode(M::Marketplace__ZeroAmount {})), "Marketplace__ZeroAmount");
        assert_eq!(
            describe(&decode(M::Marketplace__ZeroAmount {}), &Units::eth()),
            "the amount must be at least 1"
        );
    }

    #[test]
    fn amounts_round_trip_through_their_units() {
        let usd = Units { symbol: "mUSD".into(), decimals: 6 };
        assert_eq!(usd.parse("2.5").unwrap(), U256::from(2_500_000));
        assert_eq!(usd.format(U256::from(2_500_000)), "2.5 mUSD");
        assert_eq!(Units::eth().format(Units::eth().parse("0.01").unwrap()), "0.01 ETH");
        assert!(usd.parse("0.0000001").unwrap_err().to_string().contains("more decimals"));
        assert!(usd.parse("lots").is_err());
        assert!(
            usd.parse("-1").unwrap_err().to_string().contains("not an amount"),
            "a negative amount would wrap"
        );
    }
}
