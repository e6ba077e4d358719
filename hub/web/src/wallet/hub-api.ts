// The hub's `/api/` for the page scripts: the deployment and the indexer's progress, and reverts
// in the protocol's words.

import type { Address } from "viem";

/** The contracts of the deployment, as the indexer's status names them. */
export interface Contracts {
  agoraToken: Address;
  timelock: Address;
  governor: Address;
  assetRegistry: Address;
  marketplace: Address;
  revenueSplitter: Address;
  computeMarket: Address;
}

/** `GET /api/status`. */
export interface HubStatus {
  chainId: number;
  indexedBlock: number | null;
  contracts: Contracts | null;
  /** The provider downloads go to; null when the hub has none. */
  provider: string | null;
}

/** A failure the page shows as it is: already in words. */
export class Told extends Error {}

async function json<T>(response: Response): Promise<T> {
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as { error?: unknown } | null)?.error;
    throw new Told(typeof error === "string" ? error : `the hub answered ${response.status}`);
  }
  return body as T;
}

export async function hubStatus(): Promise<HubStatus> {
  let response: Response;
  try {
    response = await fetch("/api/status", { headers: { accept: "application/json" } });
  } catch {
    throw new Told("The hub did not answer: check your connection and try again.");
  }
  return json<HubStatus>(response);
}

/** One provider the page may download an asset from (`GET /api/assets/{id}/providers`). */
export interface DownloadProvider {
  endpoint: string;
  /** Null for the hub's own provider when it is not a registered one holding the key. */
  address: string | null;
  /** Whether it answered `/health` when the hub asked; null when not asked. */
  healthy: boolean | null;
}

/**
 * Where the page downloads `assetId` from, in the order to try them: the hub's own provider, then
 * the active providers holding its key, ranked as the CLI and the Python package rank them.
 */
export async function assetProviders(assetId: bigint): Promise<DownloadProvider[]> {
  let response: Response;
  try {
    response = await fetch(`/api/assets/${assetId}/providers`, { headers: { accept: "application/json" } });
  } catch {
    throw new Told("The hub did not answer: check your connection and try again.");
  }
  return json<DownloadProvider[]>(response);
}

/** The deployment's contracts, or a failure that says the indexer does not know them. */
export async function deployment(): Promise<HubStatus & { contracts: Contracts }> {
  const status = await hubStatus();
  if (!status.contracts) throw new Told("The hub's indexer was started without a deployment manifest: it cannot name the contracts to call.");
  return status as HubStatus & { contracts: Contracts };
}

/** The protocol's sentence for revert `data` (amounts in `units`), or null when it is not one of its errors. */
export async function explainRevert(
  data: string,
  units: { symbol: string; decimals: number } | undefined,
): Promise<string | null> {
  try {
    const response = await fetch("/api/revert", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ data, ...(units ? { symbol: units.symbol, decimals: units.decimals } : {}) }),
    });
    const { message } = await json<{ message: string | null }>(response);
    return message;
  } catch {
    return null;
  }
}

/** How often the indexer's progress is asked for while a transaction awaits indexing. */
const INDEX_POLL_MS = 500;
/** How long a mined transaction waits for the indexer before the page stops waiting. */
const INDEX_WAIT_MS = 120_000;

/**
 * Resolves once the indexer has indexed `block` (so the pages show what it changed); false when it
 * has not after two minutes.
 */
export async function awaitIndexed(block: bigint): Promise<boolean> {
  const deadline = Date.now() + INDEX_WAIT_MS;
  for (;;) {
    const status = await hubStatus().catch(() => null);
    if (status?.indexedBlock != null && BigInt(status.indexedBlock) >= block) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, INDEX_POLL_MS));
  }
}
