// Finding the browser's wallets the standard way: EIP-6963 (each injected wallet announces itself
// with a name, an icon and a reverse-DNS id, so several can coexist), with the older single
// `window.ethereum` (EIP-1193) when nothing announces.

import type { EIP1193Provider } from "viem";

/** What a wallet says about itself (EIP-6963 `EIP6963ProviderInfo`). */
export interface WalletInfo {
  uuid: string;
  name: string;
  /** A data: URI of its icon (may be empty for the `window.ethereum` fallback). */
  icon: string;
  /** Reverse-DNS id, e.g. `io.metamask`; `window.ethereum` for the fallback. */
  rdns: string;
}

/** A wallet the page can connect to. */
export interface Wallet {
  info: WalletInfo;
  provider: EIP1193Provider;
}

/** The id the fallback wallet is remembered under. */
export const LEGACY_RDNS = "window.ethereum";

const announced = new Map<string, Wallet>();

function isWallet(value: unknown): value is Wallet {
  if (typeof value !== "object" || value === null) return false;
  const { info, provider } = value as Partial<Wallet>;
  return (
    typeof info?.uuid === "string" &&
    typeof info.name === "string" &&
    typeof info.rdns === "string" &&
    typeof provider?.request === "function"
  );
}

window.addEventListener("eip6963:announceProvider", (event) => {
  const detail: unknown = (event as CustomEvent<unknown>).detail;
  if (isWallet(detail)) announced.set(detail.info.uuid, detail);
});

/** How long wallets get to answer a request before the list is taken as complete. */
const ANNOUNCE_WAIT_MS = 150;

/** The wallets in this browser: those that announced themselves, else `window.ethereum`. */
export async function discoverWallets(): Promise<Wallet[]> {
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  await new Promise((resolve) => setTimeout(resolve, ANNOUNCE_WAIT_MS));
  const wallets = Array.from(announced.values());
  const legacy = (window as { ethereum?: unknown }).ethereum;
  if (wallets.length === 0 && typeof (legacy as Partial<EIP1193Provider> | undefined)?.request === "function") {
    wallets.push({
      info: { uuid: LEGACY_RDNS, name: "Browser wallet", icon: "", rdns: LEGACY_RDNS },
      provider: legacy as EIP1193Provider,
    });
  }
  return wallets;
}
