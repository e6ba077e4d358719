//! AGORA earned by use: what each account earned in one rewards epoch, computed by anyone from the
//! chain's own records, and the Merkle tree `AgoraRewards` pays it out by.
//!
//! **The formula.** An epoch is the seconds `[start, end)` of `AgoraRewards.epochWindow(epoch)`,
//! by block timestamp. In it, every account earns points for what the chain records:
//!
//! | record | points |
//! |---|---|
//! | `Marketplace.Purchased` that paid a protocol fee (free-tier and zero-fee sales earn nothing) | [`BUYER_POINTS`] to the buyer, [`OWNER_POINTS`] to the asset's owner at the epoch's end |
//! | `AccessConsumed` of one of the registry's access tokens (a download or a job's order) | [`ORDER_POINTS`] to the consumer |
//! | `ComputeMarket.JobFinalized` | [`PROVIDER_POINTS`] to the job's provider, [`JOB_CONSUMER_POINTS`] to its consumer |
//!
//! The protocol's own contracts and the zero address earn nothing. The epoch's budget `B` (set by
//! the DAO's proposal that funds it) is shared in proportion to points, rounded down, and no
//! account receives more than `cap_bps` of `B` ([`DEFAULT_CAP_BPS`] = 10 %); what the cap and
//! rounding leave stays in the reserve. The funded total is the sum of the amounts.
//!
//! Points count actions, not value (currencies differ and the chain has no prices), so a purchase
//! must pay a fee to count, the cap bounds any one account, and the DAO votes on every epoch's
//! root and total: a distribution that looks farmed need not be funded.
//!
//! **The tree** is OpenZeppelin's standard Merkle tree leaf, `keccak256(bytes.concat(keccak256(
//! abi.encode(account, amount))))`, with pairs hashed in sorted order (`MerkleProof`'s rule); the
//! leaves are sorted, so the same amounts always give the same root.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::{SolEvent, SolValue},
};

use crate::{
    AccessToken, AgoraRewards, AssetRegistry, ComputeMarket, ContractAddresses, Deployment, Marketplace,
    tx::{self, Error},
};

/// Points for the buyer of a sale that paid a fee.
pub const BUYER_POINTS: u64 = 1;
/// Points for the owner of the asset sold.
pub const OWNER_POINTS: u64 = 1;
/// Points for the consumer of an access order.
pub const ORDER_POINTS: u64 = 1;
/// Points for the provider of a finalized job.
pub const PROVIDER_POINTS: u64 = 2;
/// Points for the consumer of a finalized job.
pub const JOB_CONSUMER_POINTS: u64 = 1;
/// The most of an epoch's budget one account receives, in basis points.
pub const DEFAULT_CAP_BPS: u16 = 1_000;
/// An epoch's budget unless the DAO's proposal names another: this share of the deployment's
/// rewards reserve, in basis points (0.5 %: weekly epochs spend a 40 M reserve in about four years).
pub const DEFAULT_EPOCH_BUDGET_BPS: u64 = 50;

/// The default budget of an epoch of `deployment`: [`DEFAULT_EPOCH_BUDGET_BPS`] of its reserve.
pub fn default_budget(deployment: &Deployment) -> U256 {
    let reserve = deployment.allocation.as_ref().map(|a| a.rewards_reserve).unwrap_or_default();
    reserve * U256::from(DEFAULT_EPOCH_BUDGET_BPS) / U256::from(10_000)
}

/// Points per account in one epoch.
pub type Usage = BTreeMap<Address, u64>;

/// Each account's share of `budget`: proportional to its points, rounded down, at most
/// `cap_bps` of the budget. Accounts with nothing are left out.
pub fn allocate(usage: &Usage, budget: U256, cap_bps: u16) -> BTreeMap<Address, U256> {
    let total: u64 = usage.values().sum();
    if total == 0 {
        return BTreeMap::new();
    }
    let cap = budget * U256::from(cap_bps) / U256::from(10_000);
    usage
        .iter()
        .map(|(account, points)| (*account, (budget * U256::from(*points) / U256::from(total)).min(cap)))
        .filter(|(_, amount)| !amount.is_zero())
        .collect()
}

/// The tree's leaf for `account` receiving `amount`.
pub fn leaf(account: Address, amount: U256) -> B256 {
    keccak256(keccak256((account, amount).abi_encode()))
}

fn hash_pair(a: B256, b: B256) -> B256 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    keccak256([low.as_slice(), high.as_slice()].concat())
}

/// An epoch's distribution: the amounts, their tree, and each account's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// Each account's amount.
    pub amounts: BTreeMap<Address, U256>,
    /// The tree's layers, leaves (sorted) first, the root last.
    layers: Vec<Vec<B256>>,
}

impl Distribution {
    /// The distribution of `amounts`.
    pub fn new(amounts: BTreeMap<Address, U256>) -> Self {
        let mut leaves: Vec<B256> = amounts.iter().map(|(a, v)| leaf(*a, *v)).collect();
        leaves.sort();
        let mut layers = vec![leaves];
        while layers.last().is_some_and(|layer| layer.len() > 1) {
            let below = &layers[layers.len() - 1];
            // An odd node out moves up unpaired.
            let above = below
                .chunks(2)
                .map(|pair| if pair.len() == 2 { hash_pair(pair[0], pair[1]) } else { pair[0] })
                .collect();
            layers.push(above);
        }
        Self { amounts, layers }
    }

    /// The root (zero when nobody earned anything: such an epoch cannot be funded).
    pub fn root(&self) -> B256 {
        self.layers.last().and_then(|top| top.first()).copied().unwrap_or_default()
    }

    /// The sum of the amounts: what funding the epoch sets aside.
    pub fn total(&self) -> U256 {
        self.amounts.values().copied().sum()
    }

    /// `account`'s amount and proof, if it earned anything.
    pub fn proof(&self, account: Address) -> Option<(U256, Vec<B256>)> {
        let amount = *self.amounts.get(&account)?;
        let mut index = self.layers[0].binary_search(&leaf(account, amount)).ok()?;
        let mut proof = Vec::new();
        for layer in &self.layers[..self.layers.len() - 1] {
            let sibling = index ^ 1;
            if let Some(node) = layer.get(sibling) {
                proof.push(*node);
            }
            index /= 2;
        }
        Some((amount, proof))
    }
}

/// Checks `proof` the way `MerkleProof.verify` does.
pub fn verify(root: B256, account: Address, amount: U256, proof: &[B256]) -> bool {
    proof.iter().fold(leaf(account, amount), |node, sibling| hash_pair(node, *sibling)) == root
}

/// An epoch's window `[start, end)` in unix seconds, as `AgoraRewards` defines it.
pub async fn window(
    rewards: &AgoraRewards::AgoraRewardsInstance<DynProvider>,
    epoch: u64,
) -> Result<(u64, u64), Error> {
    let w = tx::call("rewards.epochWindow", rewards.epochWindow(U256::from(epoch))).await?;
    Ok((w.start, w.end))
}

/// The first block at or after `deployment_block` whose timestamp is at least `time`, or the
/// block after the head when there is none yet.
async fn first_block_at(provider: &DynProvider, from: u64, time: u64) -> Result<u64, Error> {
    let head =
        provider.get_block_number().await.map_err(|source| Error::rpc("read the block number", source))?;
    let (mut low, mut high) = (from, head + 1);
    while low < high {
        let mid = low + (high - low) / 2;
        let block = provider
            .get_block_by_number(mid.into())
            .await
            .map_err(|source| Error::rpc(format!("read block {mid}"), source))?;
        if block.is_some_and(|b| b.header.timestamp >= time) { high = mid } else { low = mid + 1 }
    }
    Ok(low)
}

/// Logs of `signature` (from `address` when given) in blocks `[from, to)`, in order.
async fn logs(
    provider: &DynProvider,
    address: Option<Address>,
    signature: B256,
    from: u64,
    to: u64,
) -> Result<Vec<Log>, Error> {
    /// Blocks per `eth_getLogs`, within what public RPCs allow.
    const SPAN: u64 = 10_000;
    let mut all = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + SPAN).min(to);
        let mut filter = Filter::new().event_signature(signature).from_block(start).to_block(end - 1);
        if let Some(address) = address {
            filter = filter.address(address);
        }
        let batch = provider
            .get_logs(&filter)
            .await
            .map_err(|source| Error::rpc(format!("eth_getLogs {from}..{to}"), source))?;
        all.extend(batch);
        start = end;
    }
    Ok(all)
}

/// The points of epoch window `[start, end)` of `deployment`, from the chain's raw logs (no
/// indexer): the reference every faster computation must equal.
pub async fn usage_from_logs(
    provider: &DynProvider,
    deployment: &Deployment,
    (start, end): (u64, u64),
) -> Result<Usage, Error> {
    let c = deployment.contracts;
    let genesis = deployment.deployment_block;
    let from = first_block_at(provider, genesis, start).await?;
    let to = first_block_at(provider, from, end).await?;

    // Asset owners at the epoch's end, and the registry's access tokens (look-alike events from
    // other contracts do not count).
    let mut owners: HashMap<U256, Address> = HashMap::new();
    for log in
        logs(provider, Some(c.asset_registry), AssetRegistry::Transfer::SIGNATURE_HASH, genesis, to).await?
    {
        if let Ok(t) = log.log_decode::<AssetRegistry::Transfer>() {
            owners.insert(t.inner.data.tokenId, t.inner.data.to);
        }
    }
    let mut access_tokens = BTreeSet::new();
    for log in
        logs(provider, Some(c.asset_registry), AssetRegistry::AssetPublished::SIGNATURE_HASH, genesis, to)
            .await?
    {
        if let Ok(p) = log.log_decode::<AssetRegistry::AssetPublished>() {
            access_tokens.insert(p.inner.data.accessToken);
        }
    }
    let mut jobs: HashMap<U256, (Address, Address)> = HashMap::new();
    for log in
        logs(provider, Some(c.compute_market), ComputeMarket::JobOpened::SIGNATURE_HASH, genesis, to).await?
    {
        if let Ok(j) = log.log_decode::<ComputeMarket::JobOpened>() {
            jobs.insert(j.inner.data.jobId, (j.inner.data.consumer, j.inner.data.provider));
        }
    }

    let mut usage = Usage::new();
    let mut earn = |account: Address, points: u64| *usage.entry(account).or_default() += points;
    for log in logs(provider, Some(c.marketplace), Marketplace::Purchased::SIGNATURE_HASH, from, to).await? {
        let Ok(p) = log.log_decode::<Marketplace::Purchased>() else { continue };
        let sale = p.inner.data;
        if sale.fee.is_zero() {
            continue;
        }
        earn(sale.buyer, BUYER_POINTS);
        if let Some(owner) = owners.get(&sale.assetId) {
            earn(*owner, OWNER_POINTS);
        }
    }
    for log in logs(provider, None, AccessToken::AccessConsumed::SIGNATURE_HASH, from, to).await? {
        if !access_tokens.contains(&log.address()) {
            continue;
        }
        if let Ok(order) = log.log_decode::<AccessToken::AccessConsumed>() {
            earn(order.inner.data.consumer, ORDER_POINTS);
        }
    }
    for log in
        logs(provider, Some(c.compute_market), ComputeMarket::JobFinalized::SIGNATURE_HASH, from, to).await?
    {
        let Ok(f) = log.log_decode::<ComputeMarket::JobFinalized>() else { continue };
        if let Some((consumer, job_provider)) = jobs.get(&f.inner.data.jobId) {
            earn(*job_provider, PROVIDER_POINTS);
            earn(*consumer, JOB_CONSUMER_POINTS);
        }
    }
    exclude_protocol(&mut usage, &c);
    Ok(usage)
}

/// Removes the zero address and the protocol's own contracts, which earn nothing.
pub fn exclude_protocol(usage: &mut Usage, c: &ContractAddresses) {
    usage.remove(&Address::ZERO);
    for account in c.all() {
        usage.remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn shares_follow_points_under_the_cap() {
        let usage = Usage::from([(account(1), 1), (account(2), 3), (account(3), 96)]);
        let amounts = allocate(&usage, U256::from(1_000), 1_000);
        assert_eq!(amounts[&account(1)], U256::from(10));
        assert_eq!(amounts[&account(2)], U256::from(30));
        assert_eq!(amounts[&account(3)], U256::from(100), "capped at 10 % of the budget");
        assert!(allocate(&Usage::new(), U256::from(1_000), 1_000).is_empty());
        let dust = allocate(&Usage::from([(account(1), 1), (account(2), 1_000_000)]), U256::from(10), 10_000);
        assert!(!dust.contains_key(&account(1)), "a share that rounds to nothing is left out");
    }

    #[test]
    fn every_proof_verifies_against_the_root_and_nothing_else_does() {
        for size in [1usize, 2, 3, 5, 8, 13] {
            let amounts: BTreeMap<Address, U256> =
                (1..=size).map(|i| (account(i as u8), U256::from(i * 7))).collect();
            let d = Distribution::new(amounts.clone());
            assert_eq!(d.total(), amounts.values().copied().sum::<U256>());
            assert_eq!(Distribution::new(amounts.clone()).root(), d.root(), "deterministic");
            for (who, amount) in &amounts {
                let (got, proof) = d.proof(*who).unwrap();
                assert_eq!(got, *amount);
                assert!(verify(d.root(), *who, got, &proof), "size {size}, {who}");
                assert!(!verify(d.root(), *who, got + U256::from(1), &proof), "a larger amount fails");
            }
            assert!(d.proof(account(200)).is_none());
        }
        assert_eq!(Distribution::new(BTreeMap::new()).root(), B256::ZERO);
    }
}
