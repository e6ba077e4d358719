//! A network's DAO at deployment: its governance settings (seconds) and its AGORA allocation, as
//! `networks.toml` declares them under `[networks.<name>.dao]` and
//! `[networks.<name>.allocation]`. Whatever a network leaves out comes from the preset
//! (`agora deploy --preset`).
//!
//! Amounts are whole AGORA as strings (decimals allowed, `"2500000"` or `"0.5"`), durations and
//! times are seconds, so a file means the same on every chain.

use agora_contracts::deploy::{Allocation, DeployParams, Grant, Vesting};
use agora_contracts::words::Units;
use alloy::primitives::{Address, U256};
use serde::Deserialize;

/// `[networks.<name>.dao]`: governance settings, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaoConfig {
    /// Seconds between a proposal and its vote.
    pub voting_delay: Option<u64>,
    /// Seconds a vote lasts.
    pub voting_period: Option<u32>,
    /// Seconds a vote stays open at least after a late quorum.
    pub vote_extension: Option<u64>,
    /// Seconds between queueing a passed proposal and executing it.
    pub timelock_delay: Option<u64>,
    /// Quorum in percent of the AGORA supply.
    pub quorum_percent: Option<u64>,
    /// AGORA of votes needed to propose (whole AGORA).
    pub proposal_threshold: Option<String>,
    /// May cancel any proposal (default: the timelock, i.e. the DAO itself).
    pub guardian: Option<Address>,
    /// Seconds per rewards epoch.
    pub rewards_epoch_length: Option<u64>,
    /// When rewards epoch 0 starts (unix seconds).
    pub rewards_epoch_start: Option<u64>,
}

/// `[networks.<name>.allocation]`: the AGORA minted at deployment, replacing the preset's whole.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationConfig {
    /// The treasury's share (held by the timelock).
    pub treasury: String,
    /// The rewards reserve.
    pub rewards_reserve: String,
    /// Vesting wallets.
    #[serde(default)]
    pub vesting: Vec<VestingConfig>,
    /// Direct grants.
    #[serde(default)]
    pub grants: Vec<GrantConfig>,
}

/// One `[[networks.<name>.allocation.vesting]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VestingConfig {
    /// Who the wallet releases to.
    pub beneficiary: Address,
    /// Whole AGORA.
    pub amount: String,
    /// Unix time the vesting starts.
    pub start: u64,
    /// Seconds until everything is vested.
    pub duration: u64,
    /// Seconds before anything is vested.
    #[serde(default)]
    pub cliff: u64,
}

/// One `[[networks.<name>.allocation.grants]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// Who receives it.
    pub holder: Address,
    /// Whole AGORA.
    pub amount: String,
}

/// Whole AGORA (`"1000"`, `"0.5"`) in base units.
fn agora(field: &str, text: &str) -> Result<U256, String> {
    Units::agora().parse(text.trim()).map_err(|err| format!("{field} = {text:?}: {err}"))
}

impl AllocationConfig {
    /// The allocation in base units, checked.
    pub fn allocation(&self) -> Result<Allocation, String> {
        let allocation = Allocation {
            treasury: agora("treasury", &self.treasury)?,
            rewards_reserve: agora("rewards_reserve", &self.rewards_reserve)?,
            vesting: self
                .vesting
                .iter()
                .map(|v| {
                    Ok(Vesting {
                        beneficiary: v.beneficiary,
                        amount: agora("vesting amount", &v.amount)?,
                        start: v.start,
                        duration: v.duration,
                        cliff: v.cliff,
                    })
                })
                .collect::<Result<_, String>>()?,
            grants: self
                .grants
                .iter()
                .map(|g| Ok(Grant { holder: g.holder, amount: agora("grant amount", &g.amount)? }))
                .collect::<Result<_, String>>()?,
        };
        allocation.check()?;
        Ok(allocation)
    }
}

/// `base` with what a network's `dao` and `allocation` tables set.
pub fn apply(
    mut params: DeployParams,
    dao: Option<&DaoConfig>,
    allocation: Option<&AllocationConfig>,
) -> Result<DeployParams, String> {
    if let Some(dao) = dao {
        let DaoConfig {
            voting_delay,
            voting_period,
            vote_extension,
            timelock_delay,
            quorum_percent,
            proposal_threshold,
            guardian,
            rewards_epoch_length,
            rewards_epoch_start,
        } = dao.clone();
        if voting_period == Some(0) {
            return Err("voting_period must be at least one second".into());
        }
        if rewards_epoch_length == Some(0) {
            return Err("rewards_epoch_length must be at least one second".into());
        }
        if quorum_percent.is_some_and(|q| q > 100) {
            return Err("quorum_percent must be at most 100".into());
        }
        params.voting_delay = voting_delay.unwrap_or(params.voting_delay);
        params.voting_period = voting_period.unwrap_or(params.voting_period);
        params.vote_extension = vote_extension.unwrap_or(params.vote_extension);
        params.timelock_min_delay = timelock_delay.unwrap_or(params.timelock_min_delay);
        params.quorum_percent = quorum_percent.unwrap_or(params.quorum_percent);
        if let Some(threshold) = proposal_threshold {
            params.proposal_threshold = agora("proposal_threshold", &threshold)?;
        }
        params.guardian = guardian.or(params.guardian);
        params.rewards_epoch_length = rewards_epoch_length.unwrap_or(params.rewards_epoch_length);
        params.rewards_epoch_start = rewards_epoch_start.unwrap_or(params.rewards_epoch_start);
    }
    if let Some(allocation) = allocation {
        params.allocation = allocation.allocation()?;
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_overrides_the_preset_setting_by_setting() {
        let dao: DaoConfig = toml::from_str("voting_delay = 7\nproposal_threshold = \"1.5\"").unwrap();
        let params = apply(DeployParams::local(), Some(&dao), None).unwrap();
        assert_eq!(params.voting_delay, 7);
        assert_eq!(params.proposal_threshold, U256::from(1_500_000_000_000_000_000u128));
        assert_eq!(params.voting_period, DeployParams::local().voting_period);
    }

    #[test]
    fn an_allocation_is_whole_agora_and_checked() {
        let config: AllocationConfig = toml::from_str(
            r#"treasury = "600"
rewards_reserve = "400"
[[vesting]]
beneficiary = "0x00000000000000000000000000000000000000b1"
amount = "10"
start = 1767225600
duration = 31536000
cliff = 7776000
[[grants]]
holder = "0x00000000000000000000000000000000000000b2"
amount = "0.5"
"#,
        )
        .unwrap();
        let allocation = config.allocation().unwrap();
        assert_eq!(allocation.supply(), U256::from(1_010_500_000_000_000_000_000u128));
        assert_eq!(allocation.vesting[0].cliff, 7_776_000);

        let bad = AllocationConfig { treasury: "lots".into(), ..config.clone() };
        assert!(bad.allocation().unwrap_err().contains("treasury = \"lots\""));
        let mut long_cliff = config.clone();
        long_cliff.vesting[0].cliff = long_cliff.vesting[0].duration + 1;
        assert!(long_cliff.allocation().unwrap_err().contains("cliff"));
        assert!(
            toml::from_str::<AllocationConfig>("treasury = \"1\"\nrewards_reserve = \"1\"\nteam = 3")
                .is_err()
        );
    }

    #[test]
    fn nonsense_settings_are_refused() {
        for (text, expected) in [
            ("voting_period = 0", "voting_period"),
            ("rewards_epoch_length = 0", "rewards_epoch_length"),
            ("quorum_percent = 101", "quorum_percent"),
            ("proposal_threshold = \"-1\"", "proposal_threshold"),
        ] {
            let dao: DaoConfig = toml::from_str(text).unwrap();
            let err = apply(DeployParams::default(), Some(&dao), None).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
