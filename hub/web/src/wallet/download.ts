// Downloading an asset from the page as the CLI does: from the first provider that answers, in the
// order the hub ranks them (its own, then the registered ones holding the key), spend an access
// token for it (or reuse the order remembered for it), sign its EIP-712 download request in the
// wallet, stream the bytes into the browser's private file storage (OPFS) while hashing them, and
// offer the file only when its sha-256 is the one on chain. A provider that does not answer or
// fails (5xx) is passed over for the next, which needs an access token of its own. An
// interrupted download resumes with a `Range` (a fresh signature: the provider takes each request
// once), from whichever provider answers then; nothing unverified is saved.

import { type IHasher, createSHA256 } from "hash-wasm";
import { type Address, type Hex, getAddress, parseEventLogs, toHex } from "viem";
import { readContract, signTypedData } from "viem/actions";

import { accessTokenAbi } from "../../generated/abi";
import { Told, assetProviders } from "./hub-api";
import type { Session } from "./session";
import { send } from "./tx";

/** What the asset page says about the asset to download. */
export interface DownloadTarget {
  assetId: bigint;
  accessToken: Address;
  /** The content's sha-256 on chain, 0x-prefixed lowercase hex. */
  digest: string;
  fileName: string;
}

/** Progress: bytes so far, the total when known, bytes per second. */
export type Progress = (bytes: number, total: number | null, rate: number) => void;

/** A download cut off after `bytes`: calling `download` again resumes it. */
export class Interrupted extends Error {
  constructor(readonly bytes: number) {
    super(`The connection broke after ${bytes} bytes; resume to fetch the rest.`);
  }
}

/** A verified download, ready to save. */
export interface Downloaded {
  file: Blob;
  digest: string;
  orderId: bigint;
  /** The provider that served it. */
  url: string;
}

interface ProviderInfo {
  provider: Address;
  chainId: number;
  eip712: { name: string; version: string; chainId: number; verifyingContract: Address };
}

/** How long a signed request stays valid: enough to start streaming, not to be replayed later. */
const REQUEST_LIFETIME_S = 600;

/** How long a provider has to answer `/v1/info` before the next one is tried. */
const INFO_TIMEOUT_MS = 10_000;

export async function providerInfo(url: string, chainId: number): Promise<ProviderInfo> {
  let response: Response;
  try {
    response = await fetch(`${url}/v1/info`, { signal: AbortSignal.timeout(INFO_TIMEOUT_MS) });
  } catch {
    throw new Told(`The provider at ${url} did not answer: it may be down; try again later.`);
  }
  const info = (await response.json().catch(() => null)) as ProviderInfo | null;
  if (!response.ok || !info?.eip712) throw new Told(`The provider at ${url} answered ${response.status}, not its info.`);
  if (info.chainId !== chainId) {
    throw new Told(`The provider at ${url} serves chain ${info.chainId}, not this hub's chain ${chainId}.`);
  }
  return info;
}

// ---- the order spent for a download ------------------------------------------------------------

function orderKey(session: Session, assetId: bigint, provider: Address): string {
  return `agora:order:${session.chainId}:${assetId}:${session.account.toLowerCase()}:${provider.toLowerCase()}`;
}

export function rememberOrder(session: Session, assetId: bigint, provider: Address, orderId: bigint): void {
  localStorage.setItem(orderKey(session, assetId, provider), orderId.toString());
}

function rememberedOrder(session: Session, assetId: bigint, provider: Address): bigint | null {
  const value = localStorage.getItem(orderKey(session, assetId, provider));
  return value && /^\d+$/.test(value) ? BigInt(value) : null;
}

function forgetOrder(session: Session, assetId: bigint, provider: Address): void {
  localStorage.removeItem(orderKey(session, assetId, provider));
}

/** The `orderId` of the `AccessConsumed` event in a receipt's logs. */
export function consumedOrder(logs: Parameters<typeof parseEventLogs>[0]["logs"]): bigint {
  const [event] = parseEventLogs({ abi: accessTokenAbi, eventName: "AccessConsumed", logs });
  if (!event) throw new Told("The transaction was mined but spent no access token (no AccessConsumed event).");
  return event.args.orderId;
}

/** Spends one access token for `provider`; the new order's id. */
async function consume(session: Session, target: DownloadTarget, provider: Address, status: (text: string) => void): Promise<bigint> {
  const balance = await readContract(session.client, {
    address: target.accessToken,
    abi: accessTokenAbi,
    functionName: "balanceOf",
    args: [session.account],
  });
  if (balance === 0n) throw new Told("You hold no access token of this asset: buy one first (or tick “download now” when buying).");
  const call = { address: target.accessToken, abi: accessTokenAbi, functionName: "consume", args: [provider] } as const;
  const receipt = await send(session, call, "spending one access token", status);
  return consumedOrder(receipt.logs);
}

// ---- where the bytes go ------------------------------------------------------------------------

/** The partial file: in OPFS when the browser has it (a 1 GiB file is not held in memory), else chunks in memory. */
interface Part {
  size(): Promise<number>;
  /** Streams what is already stored into `hasher` (after a reload, to resume the hash). */
  hashInto(hasher: IHasher): Promise<void>;
  writer(offset: number): Promise<{ write(chunk: Uint8Array): Promise<void>; close(): Promise<void> }>;
  file(): Promise<Blob>;
  remove(): Promise<void>;
}

async function opfsPart(name: string): Promise<Part | null> {
  try {
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle(name, { create: true });
    return {
      size: async () => (await handle.getFile()).size,
      hashInto: async (hasher) => {
        const reader = (await handle.getFile()).stream().getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          hasher.update(value);
        }
      },
      writer: async (offset) => {
        const writable = await handle.createWritable({ keepExistingData: true });
        await writable.truncate(offset);
        await writable.seek(offset);
        return {
          write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
          close: () => writable.close(),
        };
      },
      file: () => handle.getFile(),
      remove: () => root.removeEntry(name),
    };
  } catch {
    return null;
  }
}

function memoryPart(): Part {
  let chunks: Uint8Array<ArrayBuffer>[] = [];
  const size = () => chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  return {
    size: async () => size(),
    hashInto: async (hasher) => {
      for (const chunk of chunks) hasher.update(chunk);
    },
    writer: async () => ({
      write: async (chunk) => {
        chunks.push(chunk.slice());
      },
      close: async () => undefined,
    }),
    file: async () => new Blob(chunks),
    remove: async () => {
      chunks = [];
    },
  };
}

/** Parts kept for interrupted downloads on this page (the memory fallback lives only here). */
const parts = new Map<string, Part>();

async function partFor(name: string): Promise<Part> {
  let part = parts.get(name);
  if (!part) {
    part = (await opfsPart(name)) ?? memoryPart();
    parts.set(name, part);
  }
  return part;
}

// ---- the download ------------------------------------------------------------------------------

async function refusal(response: Response): Promise<string> {
  const body = (await response.json().catch(() => null)) as { error?: unknown } | null;
  const error = typeof body?.error === "string" ? body.error : `status ${response.status}`;
  return `The provider refused: ${error}`;
}

function randomNonce(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return BigInt(toHex(bytes));
}

/** A provider that answered `/v1/info` for this chain. */
export interface Answering {
  url: string;
  info: ProviderInfo;
  address: Address;
}

/** The providers of `assetId` that answer, in the hub's order; why the others did not lands in `passed`. */
async function* answering(session: Session, assetId: bigint, passed: string[]): AsyncGenerator<Answering> {
  for (const candidate of await assetProviders(assetId)) {
    try {
      const info = await providerInfo(candidate.endpoint, session.chainId);
      yield { url: candidate.endpoint, info, address: getAddress(info.provider) };
    } catch (err) {
      if (!(err instanceof Told)) throw err;
      passed.push(err.message);
    }
  }
}

function noProvider(passed: string[]): string {
  return passed.length === 0
    ? "No provider can serve this asset: none registered holds its key (its owner shares it with `agora asset share`)."
    : `No provider could serve it. ${passed.join(" ")}`;
}

/** The first provider of `assetId` that answers: the one an access token is spent for when buying to download. */
export async function firstProvider(session: Session, assetId: bigint): Promise<Answering> {
  const passed: string[] = [];
  for await (const provider of answering(session, assetId, passed)) return provider;
  throw new Told(noProvider(passed));
}

/**
 * Downloads `target`, verified against the chain, from the first provider that serves it. Throws
 * [`Interrupted`] when the connection breaks mid-way (call again to resume), a [`Told`] for
 * everything the user must act on.
 */
export async function download(
  session: Session,
  target: DownloadTarget,
  status: (text: string) => void,
  progress: Progress,
): Promise<Downloaded> {
  const passed: string[] = [];
  status("Asking the providers…");
  for await (const provider of answering(session, target.assetId, passed)) {
    const done = await downloadFrom(session, target, provider, status, progress);
    if (done) return done;
    passed.push(`The provider at ${provider.url} failed to serve it.`);
    status(`The provider at ${provider.url} failed to serve it; trying the next one (its access token is bound to that provider)…`);
  }
  throw new Told(noProvider(passed));
}

/** One provider's attempt: null when it failed before sending a byte (no answer, or 5xx). */
async function downloadFrom(
  session: Session,
  target: DownloadTarget,
  provider: Answering,
  status: (text: string) => void,
  progress: Progress,
): Promise<Downloaded | null> {
  const { url, info, address } = provider;
  let orderId = rememberedOrder(session, target.assetId, address);
  if (orderId === null) {
    orderId = await consume(session, target, address, status);
  }
  rememberOrder(session, target.assetId, address, orderId);

  // The asset version's bytes, whichever order and provider fill them.
  const partName = `agora-${session.chainId}-${target.assetId}-${target.digest.slice(2).toLowerCase()}.part`;
  const part = await partFor(partName);
  const hasher = await createSHA256();
  hasher.init();
  let offset = await part.size();
  await part.hashInto(hasher);

  const expiry = Math.floor(Date.now() / 1000) + REQUEST_LIFETIME_S;
  const nonce = randomNonce();
  status(offset > 0 ? `Sign the request to resume at byte ${offset} in your wallet…` : "Sign the download request in your wallet…");
  const signature: Hex = await signTypedData(session.client, {
    account: session.account,
    domain: {
      name: info.eip712.name,
      version: info.eip712.version,
      chainId: info.eip712.chainId,
      verifyingContract: getAddress(info.eip712.verifyingContract),
    },
    types: {
      DownloadRequest: [
        { name: "assetId", type: "uint256" },
        { name: "orderId", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "expiry", type: "uint64" },
      ],
    },
    primaryType: "DownloadRequest",
    message: { assetId: target.assetId, orderId, nonce, expiry: BigInt(expiry) },
  });

  const headers: Record<string, string> = { "content-type": "application/json" };
  if (offset > 0) headers["range"] = `bytes=${offset}-`;
  let response: Response;
  try {
    response = await fetch(`${url}/v1/download`, {
      method: "POST",
      headers,
      body: JSON.stringify({ assetId: toHex(target.assetId), orderId: toHex(orderId), nonce: toHex(nonce), expiry, signature }),
    });
  } catch {
    return null;
  }
  if (response.status >= 500) return null;
  if (response.status === 416) {
    // Everything was already here: the check below decides.
  } else if (!response.ok) {
    const message = await refusal(response);
    if (response.status === 403 || response.status === 409) forgetOrder(session, target.assetId, address);
    throw new Told(message);
  } else if (offset > 0 && response.status !== 206) {
    // The provider sent everything again: start over.
    hasher.init();
    offset = 0;
  }

  let total: number | null = null;
  if (response.ok) {
    const length = Number(response.headers.get("content-length") ?? Number.NaN);
    total = Number.isFinite(length) ? offset + length : null;
    status("Downloading and checking…");
    const reader = response.body?.getReader();
    if (!reader) throw new Told("The provider's answer has no body.");
    const writer = await part.writer(offset);
    const started = performance.now();
    let received = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        hasher.update(value);
        await writer.write(value);
        received += value.byteLength;
        const seconds = (performance.now() - started) / 1000;
        progress(offset + received, total, seconds > 0 ? received / seconds : 0);
      }
    } catch {
      await writer.close().catch(() => undefined);
      throw new Interrupted(offset + received);
    }
    await writer.close();
  }

  const digest = `0x${hasher.digest("hex")}`;
  forgetOrder(session, target.assetId, address);
  if (digest !== target.digest.toLowerCase()) {
    await part.remove().catch(() => undefined);
    parts.delete(partName);
    throw new Told(
      `Verification failed: the bytes have sha-256 ${digest}, the chain records ${target.digest}. The file was not saved.`,
    );
  }
  return { file: await part.file(), digest, orderId, url };
}

/** Offers a verified file to the user as a download named `name`. */
export function save(file: Blob, name: string): HTMLAnchorElement {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(file);
  link.download = name;
  link.textContent = `Save ${name} again`;
  link.click();
  return link;
}
