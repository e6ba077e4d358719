//! Pure decoding of the calls a governance proposal makes: which function of the target's
//! contract a calldata calls, with its arguments written out for people.
//!
//! Each protocol contract's calldata is decoded with its bindings' `…Calls` enum, so the ABI is
//! the compiled contracts', never one copied by hand. The governance functions (fees, fee
//! recipients, delisting, currencies, dispute rulings, the compute market's parameters, the
//! governor's settings, the timelock's delay and roles, token transfers) name their arguments
//! as the ABI does; any other function of the contract lists its arguments by position
//! (`arg0`, `arg1`, ...). A target that is none of the protocol's contracts is decoded as an
//! ERC-20, which is what a treasury transfer of a token calls.

use agora_contracts::{
    AgoraGovernor::AgoraGovernorCalls, AgoraRewards::AgoraRewardsCalls, AgoraTimelock::AgoraTimelockCalls,
    AgoraToken::AgoraTokenCalls, AssetRegistry::AssetRegistryCalls, ComputeMarket::ComputeMarketCalls,
    Deployment, Marketplace, Marketplace::MarketplaceCalls, RevenueSplitter::RevenueSplitterCalls,
    erc::IERC20::IERC20Calls,
};
use alloy::{
    dyn_abi::{DynSolType, DynSolValue},
    hex,
    primitives::{Address, B256, Bytes, Uint},
    sol_types::{SolConstructor, SolInterface, SolType},
};

use super::Source;

/// A call decoded against the ABI of the contract it is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The function's name, e.g. `setProtocolFee`.
    pub function: &'static str,
    /// Its arguments in order: each parameter's name and its value, written as
    /// [`ArgText`] says.
    pub args: Vec<(String, String)>,
}

/// The named arguments of a decoded call: `named!(call; field, …)` pairs each field's name
/// (the ABI's parameter name, which the bindings keep) with its value.
macro_rules! named {
    ($call:expr; $($field:ident),+ $(,)?) => {
        vec![$((stringify!($field).to_owned(), ArgText::arg_text(&$call.$field))),+]
    };
}

/// Decodes `calldata` sent to the protocol's contract of role `target`, or (`None`, and for an
/// access-token clone) to an ERC-20. `None` when the calldata is empty or is no call of that
/// contract's ABI.
pub fn call(target: Option<Source>, calldata: &[u8]) -> Option<Call> {
    match target {
        Some(Source::Marketplace) => {
            decode::<MarketplaceCalls>(calldata, MarketplaceCalls::signature_by_selector, |call| {
                use MarketplaceCalls as C;
                Some(match call {
                    C::setProtocolFee(c) => named!(c; feeBps),
                    C::setFeeRecipient(c) => named!(c; recipient),
                    C::delist(c) => named!(c; assetId, reasonCid),
                    C::relist(c) => named!(c; assetId, reasonCid),
                    C::allowCurrency(c) => named!(c; currency),
                    C::disallowCurrency(c) => named!(c; currency),
                    C::transferOwnership(c) => named!(c; newOwner),
                    _ => return None,
                })
            })
        }
        Some(Source::Compute) => {
            decode::<ComputeMarketCalls>(calldata, ComputeMarketCalls::signature_by_selector, |call| {
                use ComputeMarketCalls as C;
                Some(match call {
                    C::ruleDispute(c) => named!(c; jobId, providerAtFault, slash),
                    C::setParams(c) => {
                        named!(c.newParams; minStake, disputeBond, challengeWindow, exitCooldown, feeBps, rulingWindow)
                    }
                    C::setFeeRecipient(c) => named!(c; recipient),
                    C::releaseFees(c) => named!(c; currency),
                    C::transferOwnership(c) => named!(c; newOwner),
                    _ => return None,
                })
            })
        }
        Some(Source::Splitter) => {
            decode::<RevenueSplitterCalls>(calldata, RevenueSplitterCalls::signature_by_selector, |call| {
                use RevenueSplitterCalls as C;
                Some(match call {
                    C::releaseFees(c) => named!(c; currency),
                    C::release(c) => named!(c; assetId, currency, recipient),
                    _ => return None,
                })
            })
        }
        Some(Source::Governor) => {
            decode::<AgoraGovernorCalls>(calldata, AgoraGovernorCalls::signature_by_selector, |call| {
                use AgoraGovernorCalls as C;
                Some(match call {
                    C::setVotingDelay(c) => named!(c; newVotingDelay),
                    C::setVotingPeriod(c) => named!(c; newVotingPeriod),
                    C::setProposalThreshold(c) => named!(c; newProposalThreshold),
                    C::updateQuorumNumerator(c) => named!(c; newQuorumNumerator),
                    C::updateTimelock(c) => named!(c; newTimelock),
                    C::relay(c) => named!(c; target, value, data),
                    C::setProposalGuardian(c) => named!(c; newProposalGuardian),
                    C::setLateQuorumVoteExtension(c) => named!(c; newVoteExtension),
                    _ => return None,
                })
            })
        }
        Some(Source::Rewards) => {
            decode::<AgoraRewardsCalls>(calldata, AgoraRewardsCalls::signature_by_selector, |call| {
                use AgoraRewardsCalls as C;
                Some(match call {
                    C::fundEpoch(c) => named!(c; epoch_, root, total),
                    _ => return None,
                })
            })
        }
        Some(Source::Timelock) => {
            decode::<AgoraTimelockCalls>(calldata, AgoraTimelockCalls::signature_by_selector, |call| {
                use AgoraTimelockCalls as C;
                Some(match call {
                    C::updateDelay(c) => named!(c; newDelay),
                    C::grantRole(c) => named!(c; role, account),
                    C::revokeRole(c) => named!(c; role, account),
                    _ => return None,
                })
            })
        }
        Some(Source::Token) => {
            decode::<AgoraTokenCalls>(calldata, AgoraTokenCalls::signature_by_selector, |call| {
                use AgoraTokenCalls as C;
                Some(match call {
                    C::transfer(c) => named!(c; to, value),
                    C::approve(c) => named!(c; spender, value),
                    C::transferFrom(c) => named!(c; from, to, value),
                    C::delegate(c) => named!(c; delegatee),
                    _ => return None,
                })
            })
        }
        Some(Source::Registry) => {
            decode::<AssetRegistryCalls>(calldata, AssetRegistryCalls::signature_by_selector, |_| None)
        }
        None | Some(Source::AccessToken) => {
            decode::<IERC20Calls>(calldata, IERC20Calls::signature_by_selector, |call| {
                use IERC20Calls as C;
                Some(match call {
                    C::transfer(c) => named!(c; to, value),
                    C::approve(c) => named!(c; spender, value),
                    C::transferFrom(c) => named!(c; from, to, value),
                    _ => return None,
                })
            })
        }
    }
}

/// `calldata` as a call of the interface `C` (whose selectors' signatures `signature_of`
/// gives), its arguments named by `named` (`None` for a function it does not name: listed by
/// position).
fn decode<C: SolInterface>(
    calldata: &[u8],
    signature_of: fn([u8; 4]) -> Option<&'static str>,
    named: impl FnOnce(&C) -> Option<Vec<(String, String)>>,
) -> Option<Call> {
    let call = C::abi_decode(calldata).ok()?;
    let signature = signature_of(call.selector())?;
    let (function, _) = signature.split_once('(')?;
    // The typed decoding succeeded, so the positional one does too.
    let args = named(&call).or_else(|| positional(signature, calldata.get(4..)?)).unwrap_or_default();
    Some(Call { function, args })
}

/// The arguments of a call of `signature` (e.g. `buy(uint256,uint256,address,uint256)`), from its
/// ABI-encoded `params`, named `arg0`, `arg1`, ... (a signature names no parameter).
fn positional(signature: &str, params: &[u8]) -> Option<Vec<(String, String)>> {
    let (_, types) = signature.split_once('(')?;
    let DynSolValue::Tuple(values) =
        DynSolType::parse(&format!("({types}")).ok()?.abi_decode_params(params).ok()?
    else {
        return None;
    };
    Some(values.iter().enumerate().map(|(i, value)| (format!("arg{i}"), dyn_text(value))).collect())
}

/// `value` written as [`ArgText`] writes the typed ones.
fn dyn_text(value: &DynSolValue) -> String {
    let seq = |open: &str, items: &[DynSolValue], close: &str| {
        let items: Vec<String> = items.iter().map(dyn_text).collect();
        format!("{open}{}{close}", items.join(", "))
    };
    match value {
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(n, _) => n.to_string(),
        DynSolValue::Uint(n, _) => n.to_string(),
        DynSolValue::FixedBytes(word, size) => hex::encode_prefixed(&word[..(*size).min(32)]),
        DynSolValue::Address(a) => a.arg_text(),
        DynSolValue::Function(f) => hex::encode_prefixed(f.as_slice()),
        DynSolValue::Bytes(b) => hex::encode_prefixed(b),
        DynSolValue::String(s) => s.clone(),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => seq("[", items, "]"),
        // Tuples (and the EIP-712 structs the type also has, which decoding never yields).
        other => seq("(", other.as_fixed_seq().unwrap_or_default(), ")"),
    }
}

/// How a decoded argument is written: integers in decimal, addresses and bytes as 0x-prefixed
/// lowercase hex, booleans `true` or `false`, strings as they are, arrays `[a, b]`.
pub trait ArgText {
    /// The value as text.
    fn arg_text(&self) -> String;
}

impl<const BITS: usize, const LIMBS: usize> ArgText for Uint<BITS, LIMBS> {
    fn arg_text(&self) -> String {
        self.to_string()
    }
}

macro_rules! displayed {
    ($($ty:ty),+) => {
        $(impl ArgText for $ty {
            fn arg_text(&self) -> String {
                self.to_string()
            }
        })+
    };
}
displayed!(u8, u16, u32, u64, u128, bool, String);

impl ArgText for Address {
    fn arg_text(&self) -> String {
        hex::encode_prefixed(self)
    }
}

impl ArgText for B256 {
    fn arg_text(&self) -> String {
        hex::encode_prefixed(self)
    }
}

impl ArgText for Bytes {
    fn arg_text(&self) -> String {
        hex::encode_prefixed(self)
    }
}

impl<T: ArgText> ArgText for Vec<T> {
    fn arg_text(&self) -> String {
        let items: Vec<String> = self.iter().map(ArgText::arg_text).collect();
        format!("[{}]", items.join(", "))
    }
}

/// The protocol fee the marketplace of `deployment` was deployed with, from the manifest's
/// constructor arguments (the constructor emits no `ProtocolFeeUpdated`); `None` when the
/// manifest has none that decode.
pub fn deployed_protocol_fee(deployment: &Deployment) -> Option<u16> {
    type Params<'a> = <Marketplace::constructorCall as SolConstructor>::Parameters<'a>;
    let args = deployment.constructor_args.get("Marketplace")?;
    let params = <Params<'_> as SolType>::abi_decode_params(args).ok()?;
    Some(Marketplace::constructorCall::new(params).feeBps)
}

#[cfg(test)]
mod tests {
    use agora_contracts::{AgoraGovernor, ComputeMarket, erc::IERC20};
    use alloy::{
        primitives::{U256, aliases::U48},
        sol_types::SolCall,
    };

    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn governance_calls_name_their_arguments() {
        let fee = Marketplace::setProtocolFeeCall { feeBps: 150 }.abi_encode();
        assert_eq!(
            call(Some(Source::Marketplace), &fee),
            Some(Call { function: "setProtocolFee", args: args(&[("feeBps", "150")]) })
        );
        let delist = Marketplace::delistCall { assetId: U256::from(12), reasonCid: "bafy-why".into() };
        assert_eq!(
            call(Some(Source::Marketplace), &delist.abi_encode()).map(|c| c.args),
            Some(args(&[("assetId", "12"), ("reasonCid", "bafy-why")]))
        );
        let rule = ComputeMarket::ruleDisputeCall { jobId: U256::from(7), providerAtFault: true, slash: 25 };
        assert_eq!(
            call(Some(Source::Compute), &rule.abi_encode()),
            Some(Call {
                function: "ruleDispute",
                args: args(&[("jobId", "7"), ("providerAtFault", "true"), ("slash", "25")])
            })
        );
        let delay = AgoraGovernor::setVotingDelayCall { newVotingDelay: U48::from(5) };
        assert_eq!(
            call(Some(Source::Governor), &delay.abi_encode()).map(|c| c.args),
            Some(args(&[("newVotingDelay", "5")]))
        );
    }

    #[test]
    fn the_compute_params_are_listed_field_by_field() {
        let params = agora_contracts::compute_market::IComputeMarket::Params {
            minStake: 1,
            disputeBond: 2,
            challengeWindow: 3,
            exitCooldown: 4,
            feeBps: 5,
            rulingWindow: 6,
        };
        let set = ComputeMarket::setParamsCall { newParams: params }.abi_encode();
        let expected = args(&[
            ("minStake", "1"),
            ("disputeBond", "2"),
            ("challengeWindow", "3"),
            ("exitCooldown", "4"),
            ("feeBps", "5"),
            ("rulingWindow", "6"),
        ]);
        assert_eq!(call(Some(Source::Compute), &set).map(|c| c.args), Some(expected));
    }

    #[test]
    fn other_functions_list_their_arguments_by_position() {
        let buy = Marketplace::buyCall {
            assetId: U256::from(3),
            amount: U256::from(2),
            currency: Address::with_last_byte(0xab),
            maxPrice: U256::from(1_000),
        };
        let decoded = call(Some(Source::Marketplace), &buy.abi_encode()).expect("decodes");
        assert_eq!(decoded.function, "buy");
        assert_eq!(
            decoded.args,
            args(&[
                ("arg0", "3"),
                ("arg1", "2"),
                ("arg2", "0x00000000000000000000000000000000000000ab"),
                ("arg3", "1000"),
            ])
        );
    }

    #[test]
    fn an_unknown_target_is_read_as_an_erc20() {
        let to = Address::with_last_byte(0xb0);
        let transfer = IERC20::transferCall { to, value: U256::from(2_500_000) }.abi_encode();
        assert_eq!(
            call(None, &transfer),
            Some(Call {
                function: "transfer",
                args: args(&[("to", "0x00000000000000000000000000000000000000b0"), ("value", "2500000")])
            })
        );
    }

    #[test]
    fn empty_foreign_and_truncated_calldata_decode_as_nothing() {
        assert_eq!(call(None, &[]), None);
        assert_eq!(call(Some(Source::Marketplace), &[]), None);
        assert_eq!(call(None, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]), None);
        // A selector the contract has, with arguments cut short.
        let fee = Marketplace::setProtocolFeeCall { feeBps: 150 }.abi_encode();
        assert_eq!(call(Some(Source::Marketplace), &fee[..20]), None);
        // The marketplace's call sent to the compute market is no call of its ABI.
        let delist = Marketplace::delistCall { assetId: U256::from(1), reasonCid: String::new() };
        assert_eq!(call(Some(Source::Compute), &delist.abi_encode()), None);
    }

    #[test]
    fn values_are_written_for_people() {
        let bytes = DynSolValue::Bytes(vec![0xca, 0xfe]);
        let tuple = DynSolValue::Tuple(vec![DynSolValue::Bool(false), DynSolValue::String("x".into())]);
        let array = DynSolValue::Array(vec![DynSolValue::Uint(U256::from(1), 256), bytes.clone()]);
        assert_eq!(dyn_text(&bytes), "0xcafe");
        assert_eq!(dyn_text(&tuple), "(false, x)");
        assert_eq!(dyn_text(&array), "[1, 0xcafe]");
        assert_eq!(dyn_text(&DynSolValue::FixedBytes(B256::repeat_byte(1), 2)), "0x0101");
        assert_eq!(vec![Address::ZERO].arg_text(), format!("[0x{}]", "0".repeat(40)));
    }
}
