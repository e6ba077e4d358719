// The one encryption format, both ways: seal.ts seals the fixture's plaintext into exactly the
// ciphertext the Rust side (agora_provider::crypto) seals, and eciesjs unwraps the key the Rust
// `ecies` crate wrapped (the Rust test unwraps eciesjs's). Run by scripts/test-hub-js.sh.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { decrypt } from "eciesjs";
import { bytesToHex, hexToBytes } from "viem";
import { CHUNK_SIZE, SCHEME, newHeader, sealBytes, sealFile, wrapKey } from "../src/wallet/seal.ts";

// Run from the repository root (scripts/test-hub-js.sh), as a bundle elsewhere.
const fixture = JSON.parse(readFileSync("hub/web/test/fixtures/sealed.json", "utf8"));
const plaintext = Uint8Array.from({ length: fixture.plaintextSize }, (_, i) => (i * 31 + 7) % 251);
const key = hexToBytes(fixture.contentKey);
const header = { scheme: SCHEME, chunkSize: CHUNK_SIZE, noncePrefix: fixture.noncePrefix, plaintextSize: fixture.plaintextSize };

function sha256(bytes) {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

test("a file sealed chunk by chunk is the Rust side's ciphertext, and its digest the plaintext's", async () => {
  let done = 0;
  const sealed = await sealFile(new Blob([plaintext]), key, header, (d) => (done = d));
  assert.equal(done, plaintext.length);
  assert.equal(sealed.body.size, plaintext.length + 3 * 16);
  assert.equal(sha256(new Uint8Array(await sealed.body.arrayBuffer())), fixture.ciphertextSha256);
  assert.equal(sealed.sha256, sha256(plaintext));
});

test("bytes sealed whole are the same ciphertext", () => {
  assert.equal(sha256(sealBytes(key, header, plaintext)), fixture.ciphertextSha256);
});

test("without a key a file is only hashed, and an empty file is one empty last chunk", async () => {
  const hashed = await sealFile(new Blob([plaintext]), null, null, () => {});
  assert.equal(hashed.sha256, sha256(plaintext));
  const empty = await sealFile(new Blob([]), key, { ...header, plaintextSize: 0 }, () => {});
  assert.equal(empty.body.size, 16);
});

test("a key the Rust side wrapped unwraps here, and one wrapped here unwraps with the holder's key", () => {
  const secret = hexToBytes(fixture.holderSecretKey);
  assert.equal(bytesToHex(decrypt(secret, hexToBytes(fixture.wrappedByRust))), fixture.contentKey);
  const wrapped = wrapKey(key, fixture.holderAddress, fixture.holderPublicKey);
  assert.equal(wrapped.holder, fixture.holderAddress);
  assert.equal(bytesToHex(decrypt(secret, hexToBytes(wrapped.key))), fixture.contentKey);
});

test("every header has a fresh 7-byte nonce prefix", () => {
  const [a, b] = [newHeader(10), newHeader(10)];
  assert.equal(hexToBytes(a.noncePrefix).length, 7);
  assert.notEqual(a.noncePrefix, b.noncePrefix);
  assert.deepEqual({ ...a, noncePrefix: "" }, { scheme: SCHEME, chunkSize: CHUNK_SIZE, noncePrefix: "", plaintextSize: 10 });
});
