//! Encryption of private assets.
//!
//! - Content: ChaCha20-Poly1305 in the STREAM construction (`aead::stream::StreamBE32`,
//!   Hoang–Reyhanitabar–Rogaway–Vizár): the plaintext is cut into [`CHUNK_SIZE`]-byte chunks,
//!   chunk `i` is sealed with the nonce `prefix(7 bytes) ‖ i (u32 big-endian) ‖ last-flag`, so
//!   chunks cannot be reordered, dropped or truncated without failing authentication. Every
//!   ciphertext chunk is `CHUNK_SIZE + 16` bytes (the last one shorter), so a plaintext byte
//!   range maps to whole ciphertext chunks that decrypt on their own: an HTTP `Range` is served
//!   by fetching only those chunks from IPFS.
//! - Key: a fresh random 256-bit content key per asset, wrapped for each key holder with
//!   ECIES over secp256k1 (the `ecies` crate: ephemeral key, HKDF-SHA256, AES-256-GCM) to the
//!   holder's own Ethereum key, so only that holder can unwrap it. The holders are the asset's
//!   owner (so the owner, not a provider, controls the key: it can share it with another
//!   provider or rekey later) and the providers trusted to serve and compute on it.
//! - Where it lives: the [`Encryption`] header (scheme, chunk size, nonce prefix, plaintext
//!   size, wrapped keys) sits in the asset's metadata JSON on IPFS. The content key itself is
//!   never written anywhere in the clear. A model folder's files are each sealed with the
//!   asset's key under a nonce prefix of their own; their headers (without wrapped keys) sit
//!   in the folder's manifest, which is itself the asset's sealed content.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use alloy::{
    primitives::{Address, Bytes as HexBytes},
    signers::local::PrivateKeySigner,
};
use bytes::BytesMut;
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{
        OsRng,
        rand_core::RngCore,
        stream::{NewStream, StreamBE32, StreamPrimitive},
    },
};
use futures::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, ReadBuf};

use crate::storage::{ByteStream, StorageError};

/// Plaintext bytes per chunk.
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// Poly1305 tag appended to every chunk.
pub const TAG_SIZE: u64 = 16;
/// Name of the scheme in [`Encryption::scheme`].
pub const SCHEME: &str = "chacha20poly1305-stream-be32";
/// Bytes of the STREAM nonce prefix (12-byte nonce minus 4-byte counter and 1-byte flag).
pub const NONCE_PREFIX_SIZE: usize = 7;
/// Chunks a download decrypts at once, ahead of its reader: 8 × 64 KiB.
pub const DECRYPT_AHEAD: usize = 8;

/// Encrypting, wrapping or decrypting failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The header names a scheme or parameters this provider does not know.
    #[error("unsupported encryption: {0}")]
    Unsupported(String),
    /// The content key is not wrapped for this address.
    #[error("the content key is not wrapped for {0}")]
    NotAKeyHolder(Address),
    /// ECIES failed (wrong key, corrupted wrapped key, or invalid public key).
    #[error("ECIES: {0}")]
    Ecies(String),
    /// A chunk failed authentication: wrong key, or tampered/truncated ciphertext.
    #[error("chunk {chunk} failed authentication")]
    Authentication {
        /// Index of the chunk.
        chunk: u64,
    },
}

/// A content key (256 bits).
#[derive(Clone)]
pub struct ContentKey([u8; 32]);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(<redacted>)")
    }
}

impl ContentKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// Wraps the key for `holder`, whose secp256k1 public key is `public_key` (SEC1,
    /// compressed or not).
    pub fn wrap_for(&self, holder: Address, public_key: &[u8]) -> Result<WrappedKey, CryptoError> {
        let wrapped =
            ecies::encrypt(public_key, &self.0).map_err(|err| CryptoError::Ecies(err.to_string()))?;
        Ok(WrappedKey { holder, key: wrapped.into() })
    }

    /// Unwraps a key with the holder's 32-byte secp256k1 secret key.
    pub fn unwrap(wrapped: &WrappedKey, secret_key: &[u8]) -> Result<Self, CryptoError> {
        let key =
            ecies::decrypt(secret_key, &wrapped.key).map_err(|err| CryptoError::Ecies(err.to_string()))?;
        let key: [u8; 32] =
            key.try_into().map_err(|_| CryptoError::Ecies("the unwrapped key is not 32 bytes".into()))?;
        Ok(Self(key))
    }

    fn stream(&self, nonce_prefix: &[u8; NONCE_PREFIX_SIZE]) -> StreamBE32<ChaCha20Poly1305> {
        let cipher = ChaCha20Poly1305::new(&self.0.into());
        StreamBE32::from_aead(cipher, nonce_prefix.into())
    }
}

/// The uncompressed SEC1 public key of `signer`, which content keys are wrapped to.
pub fn public_key_of(signer: &PrivateKeySigner) -> Vec<u8> {
    signer.credential().verifying_key().to_encoded_point(false).as_bytes().to_vec()
}

/// A content key wrapped for one holder (the asset's owner or a provider).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The address that can unwrap it (`provider` in documents written before owners held
    /// keys).
    #[serde(alias = "provider")]
    pub holder: Address,
    /// The ECIES ciphertext of the content key.
    pub key: HexBytes,
}

/// How a private asset's content is encrypted; stored in its metadata JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// Always [`SCHEME`].
    pub scheme: String,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// The STREAM nonce prefix.
    pub nonce_prefix: HexBytes,
    /// Size of the plaintext.
    pub plaintext_size: u64,
    /// The content key, wrapped for each holder. Empty in the per-file headers of a model
    /// manifest, whose files share the asset's key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrapped_keys: Vec<WrappedKey>,
}

impl Encryption {
    /// A header for `plaintext_size` bytes with a fresh nonce prefix and no key holders yet.
    pub fn new(plaintext_size: u64) -> Self {
        let mut prefix = [0u8; NONCE_PREFIX_SIZE];
        OsRng.fill_bytes(&mut prefix);
        Self {
            scheme: SCHEME.to_owned(),
            chunk_size: CHUNK_SIZE,
            nonce_prefix: prefix.to_vec().into(),
            plaintext_size,
            wrapped_keys: Vec::new(),
        }
    }

    /// Checks the scheme and parameters.
    pub fn validate(&self) -> Result<(), CryptoError> {
        if self.scheme != SCHEME {
            return Err(CryptoError::Unsupported(format!("scheme {:?}", self.scheme)));
        }
        if self.chunk_size == 0 || self.chunk_size > 16 * 1024 * 1024 {
            return Err(CryptoError::Unsupported(format!("chunk size {}", self.chunk_size)));
        }
        if self.nonce_prefix.len() != NONCE_PREFIX_SIZE {
            return Err(CryptoError::Unsupported(format!(
                "nonce prefix of {} bytes",
                self.nonce_prefix.len()
            )));
        }
        if self.chunk_count() > u64::from(u32::MAX) {
            return Err(CryptoError::Unsupported("more chunks than the STREAM counter allows".into()));
        }
        Ok(())
    }

    /// The content key wrapped for `holder`, unwrapped with its secret key.
    pub fn content_key(&self, holder: Address, secret_key: &[u8]) -> Result<ContentKey, CryptoError> {
        let wrapped = self
            .wrapped_keys
            .iter()
            .find(|wrapped| wrapped.holder == holder)
            .ok_or(CryptoError::NotAKeyHolder(holder))?;
        ContentKey::unwrap(wrapped, secret_key)
    }

    /// The content key wrapped for `signer`'s address, unwrapped with its key.
    pub fn content_key_for(&self, signer: &PrivateKeySigner) -> Result<ContentKey, CryptoError> {
        let mut secret: [u8; 32] = signer.credential().to_bytes().into();
        let key = self.content_key(signer.address(), &secret);
        secret.fill(0);
        key
    }

    /// The addresses the content key is wrapped for, in the header's order.
    pub fn holders(&self) -> Vec<Address> {
        self.wrapped_keys.iter().map(|wrapped| wrapped.holder).collect()
    }

    /// Whether the content key is wrapped for `holder`.
    pub fn is_held_by(&self, holder: Address) -> bool {
        self.wrapped_keys.iter().any(|wrapped| wrapped.holder == holder)
    }

    /// Wraps `key` for one more holder; `false` (and nothing changes) when it already holds it.
    pub fn add_holder(
        &mut self,
        key: &ContentKey,
        holder: Address,
        public_key: &[u8],
    ) -> Result<bool, CryptoError> {
        if self.is_held_by(holder) {
            return Ok(false);
        }
        self.wrapped_keys.push(key.wrap_for(holder, public_key)?);
        Ok(true)
    }

    /// Number of chunks (an empty plaintext still has one, empty, last chunk).
    pub fn chunk_count(&self) -> u64 {
        self.plaintext_size.div_ceil(u64::from(self.chunk_size)).max(1)
    }

    /// Size of the ciphertext.
    pub fn ciphertext_size(&self) -> u64 {
        self.plaintext_size + self.chunk_count() * TAG_SIZE
    }

    fn prefix(&self) -> Result<[u8; NONCE_PREFIX_SIZE], CryptoError> {
        self.nonce_prefix
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::Unsupported("nonce prefix length".into()))
    }

    /// The ciphertext byte range (offset, length) holding plaintext bytes `start..=end`, and
    /// the index of its first chunk.
    pub fn ciphertext_range(&self, start: u64, end: u64) -> (u64, u64, u64) {
        let chunk = u64::from(self.chunk_size);
        let sealed = chunk + TAG_SIZE;
        let first = start / chunk;
        let last = end / chunk;
        let offset = first * sealed;
        let length = ((last + 1) * sealed).min(self.ciphertext_size()) - offset;
        (offset, length, first)
    }

    /// An [`AsyncRead`] yielding the ciphertext of `plaintext` (which must yield exactly
    /// `plaintext_size` bytes).
    pub fn encrypting_reader<R>(
        &self,
        key: &ContentKey,
        plaintext: R,
    ) -> Result<EncryptingReader<R>, CryptoError>
    where
        R: AsyncRead + Unpin,
    {
        self.validate()?;
        Ok(EncryptingReader {
            inner: plaintext,
            stream: key.stream(&self.prefix()?),
            chunk_size: self.chunk_size as usize,
            remaining: self.plaintext_size,
            chunk: 0,
            chunks: self.chunk_count(),
            plain: Vec::with_capacity(self.chunk_size as usize + TAG_SIZE as usize),
            out: Vec::new(),
            out_pos: 0,
        })
    }

    /// Decrypts ciphertext that starts at chunk `first_chunk`, skipping `skip` plaintext bytes
    /// and yielding `take` bytes.
    ///
    /// Chunks decrypt on their own, so up to [`DECRYPT_AHEAD`] of them are decrypted at once on
    /// Tokio's blocking threads while the next ones are fetched; they come out in order. Must be
    /// called inside a Tokio runtime.
    pub fn decrypting_stream(
        &self,
        key: &ContentKey,
        ciphertext: ByteStream,
        first_chunk: u64,
        skip: u64,
        take: u64,
    ) -> Result<ByteStream, CryptoError> {
        self.validate()?;
        let stream = Arc::new(key.stream(&self.prefix()?));
        let sealed = Box::pin(sealed_chunks(
            ciphertext,
            self.chunk_size as usize + TAG_SIZE as usize,
            first_chunk,
            self.chunk_count(),
        ));
        let decrypted = sealed
            .take_while(move |_| std::future::ready(take != 0))
            .map(move |chunk| {
                let stream = stream.clone();
                async move {
                    let (index, last, mut sealed) = chunk?;
                    let position = u32::try_from(index).map_err(|_| auth_error(index))?;
                    tokio::task::spawn_blocking(move || {
                        // Decrypted where it lies: the chunk is handed on without a copy.
                        match stream.decrypt_in_place(position, last, b"", &mut sealed) {
                            Ok(()) => Ok(sealed.freeze()),
                            Err(_) => Err(auth_error(index)),
                        }
                    })
                    .await
                    .map_err(|err| StorageError::Io {
                        action: format!("decrypt chunk {index}"),
                        source: io::Error::other(err.to_string()),
                    })?
                }
            })
            .buffered(DECRYPT_AHEAD)
            .boxed();
        // Trim to the requested range, and stop at the first error.
        let trimmed = stream::unfold(
            (decrypted, skip, take, false),
            |(mut decrypted, mut skip, mut take, done)| async move {
                loop {
                    if done || take == 0 {
                        return None;
                    }
                    let mut plain = match decrypted.next().await? {
                        Ok(plain) => plain,
                        Err(err) => return Some((Err(err), (decrypted, skip, take, true))),
                    };
                    let skipped = skip.min(plain.len() as u64);
                    skip -= skipped;
                    plain = plain.slice(skipped as usize..);
                    let keep = take.min(plain.len() as u64);
                    take -= keep;
                    plain.truncate(keep as usize);
                    if !plain.is_empty() {
                        return Some((Ok(plain), (decrypted, skip, take, false)));
                    }
                }
            },
        );
        Ok(Box::pin(trimmed))
    }
}

/// Cuts `ciphertext` (starting at chunk `first`) into whole sealed chunks of `sealed` bytes
/// (the last of the `chunks` shorter): `(index, is_last, bytes)`. Ends after the last chunk;
/// fails if the ciphertext ends before it.
fn sealed_chunks(
    ciphertext: ByteStream,
    sealed: usize,
    first: u64,
    chunks: u64,
) -> impl Stream<Item = Result<(u64, bool, BytesMut), StorageError>> + Send {
    stream::unfold(
        (ciphertext, BytesMut::new(), first, false),
        move |(mut inner, mut buf, chunk, done)| async move {
            if done {
                return None;
            }
            let last = chunk + 1 == chunks;
            while buf.len() < sealed {
                match inner.next().await {
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                    Some(Err(err)) => return Some((Err(err), (inner, buf, chunk, true))),
                    None if last && !buf.is_empty() => break,
                    None => {
                        let err = StorageError::Io {
                            action: format!("decrypt chunk {chunk}"),
                            source: io::Error::new(io::ErrorKind::UnexpectedEof, "ciphertext ended early"),
                        };
                        return Some((Err(err), (inner, buf, chunk, true)));
                    }
                }
            }
            let length = if last { buf.len().min(sealed) } else { sealed };
            let piece = buf.split_to(length);
            Some((Ok((chunk, last, piece)), (inner, buf, chunk + 1, last)))
        },
    )
}

fn auth_error(chunk: u64) -> StorageError {
    StorageError::Io {
        action: "decrypt private content".into(),
        source: io::Error::new(io::ErrorKind::InvalidData, CryptoError::Authentication { chunk }),
    }
}

/// Encrypts a plaintext reader chunk by chunk; see [`Encryption::encrypting_reader`].
pub struct EncryptingReader<R> {
    inner: R,
    stream: StreamBE32<ChaCha20Poly1305>,
    chunk_size: usize,
    remaining: u64,
    chunk: u64,
    chunks: u64,
    plain: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
}

impl<R: AsyncRead + Unpin> AsyncRead for EncryptingReader<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.chunk >= this.chunks {
                return Poll::Ready(Ok(()));
            }
            // Fill the next plaintext chunk: a full one, or what remains for the last.
            let want = (this.remaining.min(this.chunk_size as u64)) as usize;
            while this.plain.len() < want {
                let mut scratch = [0u8; 16 * 1024];
                let room = (want - this.plain.len()).min(scratch.len());
                let mut read = ReadBuf::new(&mut scratch[..room]);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                if read.filled().is_empty() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "plaintext shorter than the size in the encryption header",
                    )));
                }
                this.plain.extend_from_slice(read.filled());
            }
            let last = this.chunk + 1 == this.chunks;
            let position = u32::try_from(this.chunk).map_err(io::Error::other)?;
            let mut sealed = std::mem::take(&mut this.plain);
            this.stream
                .encrypt_in_place(position, last, b"", &mut sealed)
                .map_err(|_| io::Error::other("encryption failed"))?;
            this.remaining -= want as u64;
            this.chunk += 1;
            this.plain = std::mem::replace(&mut this.out, sealed);
            this.plain.clear();
            this.out_pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::io::AsyncReadExt;

    async fn encrypt(header: &Encryption, key: &ContentKey, plain: &[u8]) -> Vec<u8> {
        let mut reader = header.encrypting_reader(key, plain).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        out
    }

    fn chunks_of(data: Vec<u8>, piece: usize) -> ByteStream {
        let pieces: Vec<Result<Bytes, StorageError>> =
            data.chunks(piece.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Box::pin(stream::iter(pieces))
    }

    async fn decrypt_range(
        header: &Encryption,
        key: &ContentKey,
        cipher: &[u8],
        start: u64,
        end: u64,
    ) -> Vec<u8> {
        let (offset, length, first) = header.ciphertext_range(start, end);
        let slice = cipher[offset as usize..(offset + length) as usize].to_vec();
        let skip = start - first * u64::from(header.chunk_size);
        let stream =
            header.decrypting_stream(key, chunks_of(slice, 1000), first, skip, end - start + 1).unwrap();
        crate::storage::collect(stream).await.unwrap()
    }

    #[tokio::test]
    async fn round_trips_every_size_and_any_range() {
        let key = ContentKey::generate();
        for size in
            [0usize, 1, 100, CHUNK_SIZE as usize - 1, CHUNK_SIZE as usize, 3 * CHUNK_SIZE as usize + 7]
        {
            let plain: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let header = Encryption::new(size as u64);
            let cipher = encrypt(&header, &key, &plain).await;
            assert_eq!(cipher.len() as u64, header.ciphertext_size());
            if size == 0 {
                continue;
            }
            let whole = decrypt_range(&header, &key, &cipher, 0, size as u64 - 1).await;
            assert_eq!(whole, plain, "size {size}");
            let (a, b) = (size as u64 / 3, (size as u64 * 2 / 3).max(size as u64 / 3));
            let part = decrypt_range(&header, &key, &cipher, a, b).await;
            assert_eq!(part, &plain[a as usize..=b as usize], "size {size} range {a}-{b}");
        }
    }

    #[tokio::test]
    async fn tampering_truncation_and_wrong_keys_fail_authentication() {
        let key = ContentKey::generate();
        let size = 2 * CHUNK_SIZE as usize + 10;
        let plain = vec![7u8; size];
        let header = Encryption::new(size as u64);
        let cipher = encrypt(&header, &key, &plain).await;
        let run = |cipher: Vec<u8>, key: ContentKey| {
            let header = header.clone();
            async move {
                crate::storage::collect(
                    header.decrypting_stream(&key, chunks_of(cipher, 4096), 0, 0, size as u64).unwrap(),
                )
                .await
            }
        };
        let mut flipped = cipher.clone();
        flipped[CHUNK_SIZE as usize + 100] ^= 1;
        assert!(run(flipped, key.clone()).await.is_err());
        // Dropping the last chunk: the previous one was not sealed as last.
        let truncated = cipher[..2 * (CHUNK_SIZE as usize + 16)].to_vec();
        assert!(run(truncated, key.clone()).await.is_err());
        assert!(run(cipher.clone(), ContentKey::generate()).await.is_err());
        assert_eq!(run(cipher, key).await.unwrap(), plain);
    }

    /// The one format, both ways: what the hub's page script seals and wraps
    /// (`hub/web/src/wallet/seal.ts`, whose node test reads the same fixture) is what this
    /// module seals and unwraps.
    #[tokio::test]
    async fn the_browser_seals_and_wraps_as_this_module_does() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../hub/web/test/fixtures/sealed.json")).unwrap();
        let bytes = |field: &str| alloy::hex::decode(fixture[field].as_str().unwrap()).unwrap();
        let key = ContentKey(bytes("contentKey").try_into().unwrap());
        let size = fixture["plaintextSize"].as_u64().unwrap();
        let mut header = Encryption::new(size);
        header.nonce_prefix = bytes("noncePrefix").into();
        let plain: Vec<u8> = (0..size as usize).map(|i| ((i * 31 + 7) % 251) as u8).collect();
        let cipher = encrypt(&header, &key, &plain).await;
        assert_eq!(crate::storage::sha256(&cipher).to_vec(), bytes("ciphertextSha256"));
        let secret = bytes("holderSecretKey");
        for wrapped in ["wrappedByRust", "wrappedByBrowser"] {
            let wrapped = WrappedKey { holder: Address::ZERO, key: bytes(wrapped).into() };
            assert_eq!(ContentKey::unwrap(&wrapped, &secret).unwrap().0, key.0);
        }
    }

    #[test]
    fn keys_unwrap_only_for_their_provider() {
        let signer = alloy::signers::local::PrivateKeySigner::random();
        let other = alloy::signers::local::PrivateKeySigner::random();
        let public = signer.credential().verifying_key().to_encoded_point(false);
        let key = ContentKey::generate();
        let mut header = Encryption::new(10);
        header.wrapped_keys.push(key.wrap_for(signer.address(), public.as_bytes()).unwrap());
        let secret = signer.credential().to_bytes();
        assert_eq!(header.content_key(signer.address(), &secret).unwrap().0, key.0);
        let other_secret = other.credential().to_bytes();
        assert!(matches!(
            header.content_key(other.address(), &other_secret),
            Err(CryptoError::NotAKeyHolder(_))
        ));
        assert!(ContentKey::unwrap(&header.wrapped_keys[0], &other_secret).is_err());
        let json = serde_json::to_string(&header).unwrap();
        assert!(!json.contains(&hex::encode(key.0)), "the key must never appear in the clear");
    }
}
