//! Access proofs: the EIP-712 download request a consumer signs, and the pure checks of an
//! access order against it. No I/O here: [`crate::chain`] fetches the order and the asset,
//! [`crate::db`] remembers nonces and served orders.

use alloy::{
    primitives::{Address, Bytes, Signature, U256},
    sol,
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};
use serde::{Deserialize, Serialize};

sol! {
    /// What a consumer signs to download an asset through a provider.
    #[derive(Debug, PartialEq, Eq)]
    struct DownloadRequest {
        /// The asset.
        uint256 assetId;
        /// The access order (`AccessConsumed.orderId` on the asset's access token).
        uint256 orderId;
        /// A number the consumer never reuses with this provider.
        uint256 nonce;
        /// Unix time after which the request is void.
        uint64 expiry;
    }
}

/// How far ahead a request's expiry may be; nonces are kept until then.
pub const MAX_REQUEST_LIFETIME: u64 = 24 * 60 * 60;

/// EIP-712 domain name.
pub const DOMAIN_NAME: &str = "Agora Provider";
/// EIP-712 domain version.
pub const DOMAIN_VERSION: &str = "1";

/// The provider's EIP-712 domain: a signature for another chain or another provider does not
/// verify here.
pub fn domain(chain_id: u64, provider: Address) -> Eip712Domain {
    eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: provider,
    }
}

/// The JSON body of `POST /v1/download`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedRequest {
    /// The asset.
    pub asset_id: U256,
    /// The access order.
    pub order_id: U256,
    /// The request's nonce.
    pub nonce: U256,
    /// Unix time after which the request is void.
    pub expiry: u64,
    /// 65-byte `r ‖ s ‖ v` signature over the EIP-712 hash of the request.
    pub signature: Bytes,
}

impl SignedRequest {
    /// The signed struct.
    pub fn message(&self) -> DownloadRequest {
        DownloadRequest {
            assetId: self.asset_id,
            orderId: self.order_id,
            nonce: self.nonce,
            expiry: self.expiry,
        }
    }

    /// Signs `message` for the provider's domain.
    pub fn sign(
        message: &DownloadRequest,
        domain: &Eip712Domain,
        signer: &alloy::signers::local::PrivateKeySigner,
    ) -> Result<Self, alloy::signers::Error> {
        Ok(Self {
            asset_id: message.assetId,
            order_id: message.orderId,
            nonce: message.nonce,
            expiry: message.expiry,
            signature: sign_typed(message, domain, signer)?,
        })
    }

    /// The address that signed the request for `domain`. A well-formed signature always
    /// recovers *some* address; a forged one (or one for another chain or provider) recovers
    /// an address that owns no matching order.
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address, Refusal> {
        recover_typed(&self.message(), &self.signature, domain)
    }
}

/// Signs the EIP-712 `message` for `domain`: the 65-byte signature a request carries.
pub fn sign_typed<T: SolStruct>(
    message: &T,
    domain: &Eip712Domain,
    signer: &alloy::signers::local::PrivateKeySigner,
) -> Result<Bytes, alloy::signers::Error> {
    use alloy::signers::SignerSync;
    let signature = signer.sign_hash_sync(&message.eip712_signing_hash(domain))?;
    Ok(signature.as_bytes().to_vec().into())
}

/// Who signed the EIP-712 `message` for `domain`. A well-formed signature always recovers some
/// address; only a malformed one is refused here.
pub fn recover_typed<T: SolStruct>(
    message: &T,
    signature: &[u8],
    domain: &Eip712Domain,
) -> Result<Address, Refusal> {
    let signature = Signature::try_from(signature).map_err(|_| Refusal::BadSignature)?;
    signature
        .recover_address_from_prehash(&message.eip712_signing_hash(domain))
        .map_err(|_| Refusal::BadSignature)
}

/// An access order as the chain recorded it (`AccessConsumed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// Who spent the token.
    pub consumer: Address,
    /// The provider the order is bound to.
    pub provider: Address,
    /// When a timed order stops being valid; 0 for single use.
    pub expires_at: u64,
    /// The compute job the order was spent opening (`JobOpened` in the same transaction names
    /// it), which makes it no download order.
    pub job: Option<U256>,
}

impl Order {
    /// Whether the order may be used only once.
    pub fn single_use(&self) -> bool {
        self.expires_at == 0
    }
}

/// Why a download is refused; each maps to one HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The signature is not a valid 65-byte secp256k1 signature.
    #[error("invalid signature")]
    BadSignature,
    /// The request's own expiry passed.
    #[error("the request expired at {0}")]
    RequestExpired(u64),
    /// The request's expiry is further ahead than [`MAX_REQUEST_LIFETIME`].
    #[error("the request expiry is more than {MAX_REQUEST_LIFETIME} seconds ahead")]
    RequestExpiryTooFar,
    /// The nonce was used before by this signer.
    #[error("nonce already used")]
    NonceReused,
    /// The asset does not exist.
    #[error("unknown asset {0}")]
    UnknownAsset(U256),
    /// The asset's content never leaves a compute provider.
    #[error("asset {0} is compute-only and is never downloaded")]
    ComputeOnly(U256),
    /// No such order on the asset's access token.
    #[error("unknown access order {order} for asset {asset}")]
    UnknownOrder {
        /// The asset.
        asset: U256,
        /// The order.
        order: U256,
    },
    /// The order belongs to another consumer (or the signature is not the consumer's).
    #[error("the access order does not belong to the signer")]
    NotConsumer,
    /// The order is bound to another provider.
    #[error("the access order is bound to another provider")]
    OtherProvider,
    /// A timed order whose time is over.
    #[error("the access order expired at {0}")]
    OrderExpired(u64),
    /// A single-use order that was served already.
    #[error("the single-use access order was already served")]
    AlreadyServed,
    /// A single-use order with a download in progress.
    #[error("a download of this single-use access order is in progress")]
    InProgress,
    /// The order was spent opening a compute job, not for a download.
    #[error(
        "access order {order} was spent on compute job {job}: it runs that job and is never a download; \
         spend another access token for a download"
    )]
    JobOrder {
        /// The order.
        order: U256,
        /// The job it opened.
        job: U256,
    },
}

/// Checks an order against the signer, this provider and the time `now` (unix seconds).
pub fn check_order(order: &Order, signer: Address, provider: Address, now: u64) -> Result<(), Refusal> {
    if order.consumer != signer {
        return Err(Refusal::NotConsumer);
    }
    if order.provider != provider {
        return Err(Refusal::OtherProvider);
    }
    if !order.single_use() && now > order.expires_at {
        return Err(Refusal::OrderExpired(order.expires_at));
    }
    Ok(())
}

/// Checks the request's own expiry: not passed, and not more than a day ahead (so used
/// nonces need to be remembered for a day at most).
pub fn check_request_expiry(expiry: u64, now: u64) -> Result<(), Refusal> {
    if now > expiry {
        return Err(Refusal::RequestExpired(expiry));
    }
    if expiry - now > MAX_REQUEST_LIFETIME {
        return Err(Refusal::RequestExpiryTooFar);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    fn request(nonce: u64) -> DownloadRequest {
        DownloadRequest {
            assetId: U256::from(1),
            orderId: U256::from(2),
            nonce: U256::from(nonce),
            expiry: 100,
        }
    }

    #[test]
    fn the_signer_recovers_only_for_the_same_chain_and_provider() {
        let consumer = PrivateKeySigner::random();
        let provider = Address::repeat_byte(7);
        let ours = domain(31337, provider);
        let signed = SignedRequest::sign(&request(1), &ours, &consumer).unwrap();
        assert_eq!(signed.signer(&ours).unwrap(), consumer.address());
        assert_ne!(signed.signer(&domain(1, provider)).unwrap(), consumer.address());
        assert_ne!(signed.signer(&domain(31337, Address::repeat_byte(8))).unwrap(), consumer.address());
        let mut tampered = signed.clone();
        tampered.nonce = U256::from(2);
        assert_ne!(tampered.signer(&ours).unwrap(), consumer.address());
        let mut short = signed;
        short.signature = Bytes::from(vec![1u8; 10]);
        assert_eq!(short.signer(&ours), Err(Refusal::BadSignature));
    }

    #[test]
    fn orders_are_checked_for_consumer_provider_and_time() {
        let (consumer, provider) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let timed = Order { consumer, provider, expires_at: 50, job: None };
        assert_eq!(check_order(&timed, consumer, provider, 50), Ok(()));
        assert_eq!(check_order(&timed, consumer, provider, 51), Err(Refusal::OrderExpired(50)));
        assert_eq!(check_order(&timed, provider, provider, 10), Err(Refusal::NotConsumer));
        assert_eq!(check_order(&timed, consumer, consumer, 10), Err(Refusal::OtherProvider));
        let single = Order { expires_at: 0, ..timed };
        assert_eq!(check_order(&single, consumer, provider, u64::MAX), Ok(()));
        assert_eq!(check_request_expiry(10, 11), Err(Refusal::RequestExpired(10)));
        assert_eq!(check_request_expiry(10 + MAX_REQUEST_LIFETIME, 10), Ok(()));
        assert_eq!(check_request_expiry(11 + MAX_REQUEST_LIFETIME, 10), Err(Refusal::RequestExpiryTooFar));
    }

    #[test]
    fn the_request_body_is_camel_case_json() {
        let json = r#"{"assetId":"1","orderId":"0x2","nonce":"3","expiry":100,"signature":"0x00"}"#;
        let parsed: SignedRequest = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.order_id, U256::from(2));
        assert!(serde_json::from_str::<SignedRequest>(r#"{"assetId":1}"#).is_err());
    }
}
