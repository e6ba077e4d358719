// Sealing content in the browser with the CLI's scheme (`agora_provider::crypto`), so a provider
// and the CLI read what the page publishes: ChaCha20-Poly1305 in the STREAM construction
// (64 KiB plaintext chunks; chunk i's nonce is the header's 7-byte prefix ‖ i as a big-endian u32
// ‖ 1 on the last chunk, else 0), a fresh 256-bit content key per asset, wrapped for each holder
// with ECIES over secp256k1 (eciesjs: ephemeral uncompressed key, HKDF-SHA256, AES-256-GCM with a
// 16-byte nonce — the Rust `ecies` crate's defaults). The on-chain digest is the plaintext's sha-256.

import { chacha20poly1305 } from "@noble/ciphers/chacha";
import { encrypt as eciesEncrypt } from "eciesjs";
import { createSHA256 } from "hash-wasm";
import { type Address, type Hex, bytesToHex, hexToBytes } from "viem";

/** `agora_provider::crypto::SCHEME`. */
export const SCHEME = "chacha20poly1305-stream-be32";
/** Plaintext bytes per chunk (`CHUNK_SIZE`). */
export const CHUNK_SIZE = 64 * 1024;
const NONCE_PREFIX_SIZE = 7;

/** A content key wrapped for one holder, as the metadata's header lists it. */
export interface WrappedKey {
  holder: Address;
  key: Hex;
}

/** The encryption header (`agora_provider::crypto::Encryption`), as the metadata holds it. */
export interface Encryption {
  scheme: string;
  chunkSize: number;
  noncePrefix: Hex;
  plaintextSize: number;
  wrappedKeys?: WrappedKey[];
}

/** A fresh random content key. */
export function newContentKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** A header for `size` plaintext bytes with a fresh nonce prefix and no holders yet. */
export function newHeader(size: number): Encryption {
  const prefix = crypto.getRandomValues(new Uint8Array(NONCE_PREFIX_SIZE));
  return { scheme: SCHEME, chunkSize: CHUNK_SIZE, noncePrefix: bytesToHex(prefix), plaintextSize: size };
}

/** `key` wrapped for `holder`, whose uncompressed secp256k1 public key is `publicKey`. */
export function wrapKey(key: Uint8Array, holder: Address, publicKey: Hex): WrappedKey {
  return { holder, key: bytesToHex(eciesEncrypt(hexToBytes(publicKey), key)) };
}

function nonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  nonce.set(prefix, 0);
  new DataView(nonce.buffer).setUint32(NONCE_PREFIX_SIZE, index, false);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Chunk `index` of a plaintext sealed under `key` and `header`. */
export function sealChunk(key: Uint8Array, header: Encryption, index: number, last: boolean, plaintext: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce(hexToBytes(header.noncePrefix), index, last)).encrypt(plaintext);
}

/** What sealing or hashing a file produced. */
export interface Sealed {
  /** What IPFS is to hold: the ciphertext (or the file itself, unsealed). */
  body: Blob;
  /** The plaintext's sha-256, 0x-hex. */
  sha256: Hex;
}

/**
 * Seals `file` chunk by chunk under `key` and `header` (its `plaintextSize` must be the file's
 * size), hashing the plaintext on the way; `progress` hears the plaintext bytes done. Without a
 * key the file is only hashed. The ciphertext is kept as a Blob of chunks (the browser may page a
 * large one to disk), so the file is never whole in memory twice.
 */
export async function sealFile(
  file: Blob,
  key: Uint8Array | null,
  header: Encryption | null,
  progress: (done: number) => void,
): Promise<Sealed> {
  const hasher = await createSHA256();
  hasher.init();
  const parts: BlobPart[] = [];
  const chunks = Math.max(1, Math.ceil(file.size / CHUNK_SIZE));
  for (let index = 0; index < chunks; index++) {
    const start = index * CHUNK_SIZE;
    const plain = new Uint8Array(await file.slice(start, start + CHUNK_SIZE).arrayBuffer());
    hasher.update(plain);
    if (key && header) parts.push(sealChunk(key, header, index, index === chunks - 1, plain) as BlobPart);
    progress(start + plain.length);
  }
  const sha256 = `0x${hasher.digest("hex")}` as Hex;
  return { body: key ? new Blob(parts) : file, sha256 };
}

/** `bytes` sealed whole (a model folder's manifest): the ciphertext. */
export function sealBytes(key: Uint8Array, header: Encryption, bytes: Uint8Array): Uint8Array {
  const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_SIZE));
  const out: Uint8Array[] = [];
  for (let index = 0; index < chunks; index++) {
    const plain = bytes.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE);
    out.push(sealChunk(key, header, index, index === chunks - 1, plain));
  }
  const joined = new Uint8Array(out.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of out) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}
