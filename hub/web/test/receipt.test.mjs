// checkReceipt against real receipts signed with viem, each tampered in one way. Run by
// scripts/test-hub-js.sh (esbuild bundles this file for node, then `node --test`), from the repo root.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { keccak256, stringToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { checkReceipt, expectedFromData } from "../src/receipt-check.ts";
import { FIXTURE_JOB, FIXTURE_KEY, signedReceipt } from "./sign.mjs";

/** A deep copy of the fixture receipt, changed by `edit`, checked against the fixture job. */
async function check(edit = () => {}, editData = () => {}) {
  const { signed, data } = await signedReceipt();
  const copy = structuredClone(signed);
  edit(copy);
  editData(data);
  const expected = expectedFromData(data);
  assert.equal(typeof expected, "object", `expectations: ${expected}`);
  return checkReceipt(copy, expected);
}

function assertInvalid(result, pattern) {
  assert.equal(result.ok, false, "a tampered receipt passed");
  assert.match(result.reason, pattern);
}

test("an untouched receipt is signed by the job's provider", async () => {
  const result = await check();
  assert.deepEqual(result, { ok: true, signer: privateKeyToAccount(FIXTURE_KEY).address });
});

test("a decimal job id is accepted", async () => {
  assert.equal((await check((s) => (s.receipt.jobId = "7"))).ok, true);
});

test("a receipt for another job fails on the job id", async () => {
  assertInvalid(await check((s) => (s.receipt.jobId = "0x8")), /for job 8, not job 7/);
  assertInvalid(await check(undefined, (d) => (d.jobId = "6")), /for job 7, not job 6/);
});

test("reordered or changed input CIDs fail on the inputs hash", async () => {
  assertInvalid(await check((s) => s.inputCids.reverse()), /inputs hash does not match/);
  assertInvalid(await check((s) => s.inputCids.push("bafyextra")), /inputs hash does not match/);
});

test("an output hash other than the chain's fails", async () => {
  const other = keccak256(stringToHex("another output"));
  assertInvalid(await check(undefined, (d) => (d.outputHash = other)), /differs from the one posted on chain/);
  // Changing the receipt's hash fails the same way, before the signature is even looked at.
  assertInvalid(await check((s) => (s.receipt.outputHash = other)), /differs from the one posted on chain/);
});

test("the output hash is compared without regard to case", async () => {
  assert.equal((await check(undefined, (d) => (d.outputHash = d.outputHash.toUpperCase().replace("0X", "0x")))).ok, true);
});

test("a signed field changed after signing fails on the signer", async () => {
  for (const field of ["modelCid", "outputCid", "runtimeVersion", "device"]) {
    assertInvalid(await check((s) => (s.receipt[field] += "x")), /signed by 0x[0-9a-fA-F]{40}, not by the job's provider/);
  }
});

test("a receipt signed by another key fails on the signer", async () => {
  const { signed } = await signedReceipt(generatePrivateKey());
  const { data } = await signedReceipt();
  assertInvalid(await checkReceipt(signed, expectedFromData(data)), /not by the job's provider/);
});

test("a receipt checked for another provider or chain fails on the signer", async () => {
  const someoneElse = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
  assertInvalid(await check(undefined, (d) => (d.provider = someoneElse)), /not by the job's provider/);
  assertInvalid(await check(undefined, (d) => (d.chainId = "1")), /not by the job's provider/);
});

test("malformed receipts give a reason and never throw", async () => {
  const { data } = await signedReceipt();
  const expected = expectedFromData(data);
  for (const bad of [null, 7, "receipt", [], {}, { receipt: [] }]) {
    assertInvalid(await checkReceipt(bad, expected), /not a signed receipt/);
  }
  assertInvalid(await check((s) => delete s.receipt.device), /has no device/);
  assertInvalid(await check((s) => (s.receipt.jobId = 7)), /job id is not a number/);
  assertInvalid(await check((s) => (s.receipt.jobId = "0b111")), /job id is not a number/);
  assertInvalid(await check((s) => (s.receipt.jobId = `0x1${"0".repeat(64)}`)), /job id is not a number/);
  assertInvalid(await check((s) => (s.receipt.inputsHash = "0x12")), /inputs hash is not a 32-byte/);
  assertInvalid(await check((s) => (s.receipt.outputHash = null)), /output hash is not a 32-byte/);
  assertInvalid(await check((s) => (s.inputCids = "bafy")), /does not list its input CIDs/);
  assertInvalid(await check((s) => (s.inputCids = [1])), /does not list its input CIDs/);
  assertInvalid(await check((s) => (s.signature = s.signature.slice(0, -2))), /signature is not a 65-byte/);
  // Right length, but no point on the curve recovers from it.
  assertInvalid(await check((s) => (s.signature = `0x${"00".repeat(64)}1b`)), /signature is malformed|not by the job's provider/);
});

test("the page's expectations are read strictly", () => {
  const good = { chainId: "31337", provider: `0x${"ab".repeat(20)}`, jobId: "7", outputHash: FIXTURE_JOB.outputHash };
  assert.deepEqual(expectedFromData(good), { ...good, chainId: 31337, jobId: 7n });
  assert.match(expectedFromData({ ...good, chainId: "x" }), /which chain/);
  assert.match(expectedFromData({ ...good, provider: "0x12" }), /which provider/);
  assert.match(expectedFromData({ ...good, jobId: undefined }), /which job/);
  assert.match(expectedFromData({ ...good, outputHash: "" }), /no output hash/);
});

test("the browser fixture's receipt is valid and made with the fixture key", async () => {
  const html = readFileSync("hub/tests/browser/fixtures/job.html", "utf8");
  const section = html.match(/<section id="receipt"([^>]*)>/)?.[1] ?? "";
  const attribute = (name) => section.match(new RegExp(`data-${name}="([^"]*)"`))?.[1];
  const data = { chainId: attribute("chain-id"), provider: attribute("provider"), jobId: attribute("job-id"), outputHash: attribute("output-hash") };
  const json = html.match(/<script type="application\/json" id="receipt-json">([^<]*)<\/script>/)?.[1];
  assert.ok(json, "the fixture has no #receipt-json");
  const result = await checkReceipt(JSON.parse(json), expectedFromData(data));
  assert.deepEqual(result, { ok: true, signer: privateKeyToAccount(FIXTURE_KEY).address });
});
