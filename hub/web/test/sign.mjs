// Makes real signed receipts for the tests, the way the provider does (provider/src/jobs.rs):
// EIP-712 over `JobReceipt` in the "Agora Provider" domain, signed by the provider's key. The
// types are spelled out here again on purpose, so a mistake in src/receipt-check.ts cannot hide.
import { encodeAbiParameters, keccak256, numberToHex, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** A throwaway key for fixtures, derived from a phrase; it guards nothing. */
export const FIXTURE_KEY = keccak256(stringToHex("agora hub fixture provider"));

const TYPES = {
  JobReceipt: [
    { name: "jobId", type: "uint256" },
    { name: "inputsHash", type: "bytes32" },
    { name: "modelCid", type: "string" },
    { name: "outputCid", type: "string" },
    { name: "outputHash", type: "bytes32" },
    { name: "runtimeVersion", type: "string" },
    { name: "device", type: "string" },
  ],
};

/** The fixture job: what the chain says, and what the provider's receipt holds. */
export const FIXTURE_JOB = {
  chainId: 31337,
  jobId: 7n,
  inputCids: [
    "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
  ],
  modelCid: "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
  outputCid: "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
  outputHash: keccak256(stringToHex("agora hub fixture output")),
  runtimeVersion: "agora-runtime 0.1.0",
  device: "cpu",
};

/**
 * Signs a receipt for `job` with `privateKey` and returns it as the provider serves it (jobId as
 * alloy's 0x-hex) with what the page would say about the job (`#receipt`'s data attributes).
 */
export async function signedReceipt(privateKey = FIXTURE_KEY, job = FIXTURE_JOB) {
  const account = privateKeyToAccount(privateKey);
  const receipt = {
    jobId: numberToHex(job.jobId),
    inputsHash: keccak256(encodeAbiParameters([{ type: "string[]" }], [job.inputCids])),
    modelCid: job.modelCid,
    outputCid: job.outputCid,
    outputHash: job.outputHash,
    runtimeVersion: job.runtimeVersion,
    device: job.device,
  };
  const signature = await account.signTypedData({
    domain: { name: "Agora Provider", version: "1", chainId: job.chainId, verifyingContract: account.address },
    types: TYPES,
    primaryType: "JobReceipt",
    message: { ...receipt, jobId: job.jobId },
  });
  return {
    signed: { receipt, inputCids: job.inputCids, cpuFeatures: "avx2,fma,sse4.2", signature },
    data: {
      chainId: String(job.chainId),
      provider: account.address.toLowerCase(),
      jobId: job.jobId.toString(),
      outputHash: job.outputHash,
    },
  };
}
