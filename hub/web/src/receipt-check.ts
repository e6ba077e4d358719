// The in-page receipt check as a pure function: no DOM, so node's test runner can drive it with
// receipts signed by viem. All hashing and signature recovery is viem's.

import { type Address, type Hex, encodeAbiParameters, keccak256, recoverTypedDataAddress } from "viem";

/** What the page (from the chain, through the indexer) says the receipt must match. */
export interface Expected {
  /** The chain the provider's EIP-712 domain names. */
  chainId: number;
  /** The job's provider: the domain's verifying contract and the only acceptable signer. */
  provider: Address;
  /** The market's job id. */
  jobId: bigint;
  /** The output hash the provider posted on chain. */
  outputHash: Hex;
}

export type CheckResult = { ok: true; signer: Address } | { ok: false; reason: string };

/** The provider's EIP-712 types for `JobReceipt` (provider/src/jobs.rs). */
export const RECEIPT_TYPES = {
  JobReceipt: [
    { name: "jobId", type: "uint256" },
    { name: "inputsHash", type: "bytes32" },
    { name: "modelCid", type: "string" },
    { name: "outputCid", type: "string" },
    { name: "outputHash", type: "bytes32" },
    { name: "runtimeVersion", type: "string" },
    { name: "device", type: "string" },
  ],
} as const;

export function receiptDomain(chainId: number, provider: Address) {
  return { name: "Agora Provider", version: "1", chainId, verifyingContract: provider } as const;
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const MAX_UINT256 = (1n << 256n) - 1n;

/** A uint256 as alloy serializes it (`0x`-hex) or as decimal digits; anything else is `undefined`. */
export function parseUint256(value: unknown): bigint | undefined {
  if (typeof value !== "string" || !/^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(value)) return undefined;
  const parsed = BigInt(value);
  return parsed <= MAX_UINT256 ? parsed : undefined;
}

/** Reads the page's expectations from `#receipt`'s data attributes, or says which one is wrong. */
export function expectedFromData(data: {
  chainId?: string | undefined;
  provider?: string | undefined;
  jobId?: string | undefined;
  outputHash?: string | undefined;
}): Expected | string {
  const chainId = Number(data.chainId);
  if (!data.chainId || !Number.isSafeInteger(chainId) || chainId <= 0) {
    return "The page does not say which chain the job is on.";
  }
  if (!data.provider || !ADDRESS.test(data.provider)) return "The page does not say which provider ran the job.";
  const jobId = parseUint256(data.jobId);
  if (jobId === undefined) return "The page does not say which job this is.";
  if (!data.outputHash || !BYTES32.test(data.outputHash)) {
    return "The chain has no output hash for this job yet.";
  }
  return { chainId, provider: data.provider as Address, jobId, outputHash: data.outputHash as Hex };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a signed receipt, exactly as the provider serves it (`GET /v1/jobs/{id}/result`), against
 * what the chain says about the job. The first failing check gives the reason, in plain words.
 */
export async function checkReceipt(signed: unknown, expected: Expected): Promise<CheckResult> {
  const fail = (reason: string): CheckResult => ({ ok: false, reason });
  if (!isRecord(signed) || !isRecord(signed["receipt"])) {
    return fail("The receipt is not a signed receipt object.");
  }
  const receipt = signed["receipt"];
  const { inputCids, signature } = signed;
  for (const field of ["modelCid", "outputCid", "runtimeVersion", "device"] as const) {
    if (typeof receipt[field] !== "string") return fail(`The receipt has no ${field}.`);
  }
  const jobId = parseUint256(receipt["jobId"]);
  if (jobId === undefined) return fail("The receipt's job id is not a number.");
  const inputsHash = receipt["inputsHash"];
  if (typeof inputsHash !== "string" || !BYTES32.test(inputsHash)) {
    return fail("The receipt's inputs hash is not a 32-byte hex value.");
  }
  const outputHash = receipt["outputHash"];
  if (typeof outputHash !== "string" || !BYTES32.test(outputHash)) {
    return fail("The receipt's output hash is not a 32-byte hex value.");
  }
  if (!Array.isArray(inputCids) || !inputCids.every((cid) => typeof cid === "string")) {
    return fail("The receipt does not list its input CIDs.");
  }
  if (typeof signature !== "string" || !SIGNATURE.test(signature)) {
    return fail("The receipt's signature is not a 65-byte hex value.");
  }

  if (jobId !== expected.jobId) return fail(`The receipt is for job ${jobId}, not job ${expected.jobId}.`);
  const cidsHash = keccak256(encodeAbiParameters([{ type: "string[]" }], [inputCids as string[]]));
  if (cidsHash.toLowerCase() !== inputsHash.toLowerCase()) {
    return fail("The receipt's inputs hash does not match its input CIDs.");
  }
  if (outputHash.toLowerCase() !== expected.outputHash.toLowerCase()) {
    return fail("The receipt's output hash differs from the one posted on chain.");
  }
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: receiptDomain(expected.chainId, expected.provider),
      types: RECEIPT_TYPES,
      primaryType: "JobReceipt",
      message: {
        jobId,
        inputsHash: inputsHash as Hex,
        modelCid: receipt["modelCid"] as string,
        outputCid: receipt["outputCid"] as string,
        outputHash: outputHash as Hex,
        runtimeVersion: receipt["runtimeVersion"] as string,
        device: receipt["device"] as string,
      },
      signature: signature as Hex,
    });
  } catch {
    return fail("The receipt's signature is malformed.");
  }
  if (signer.toLowerCase() !== expected.provider.toLowerCase()) {
    return fail(`The receipt is signed by ${signer}, not by the job's provider.`);
  }
  return { ok: true, signer };
}
