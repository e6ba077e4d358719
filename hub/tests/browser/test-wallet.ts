// A browser wallet for the specs: an EIP-1193 provider, announced by EIP-6963, that the test adds
// to the page before its scripts run. It forwards every request to anvil, which signs
// `eth_sendTransaction` and `eth_signTypedData_v4` for its unlocked dev accounts, so the page
// talks to a real chain through the same interface it uses with MetaMask. The test steers it:
// which chain it starts on (to see the page refuse a wrong one) and whether the next request for a
// signature or a transaction is rejected, as a user clicking "Reject" would.
import type { Page } from "@playwright/test";

/** What the test can change while the page runs. */
export interface TestWallet {
  /** Makes the next signature or transaction request fail with EIP-1193's 4001 (user rejected). */
  rejectNext(): void;
  /** Requests the page sent, by method. */
  readonly calls: string[];
}

/** Methods that need the user's consent in a real wallet. */
const CONSENT = new Set(["eth_sendTransaction", "eth_signTypedData_v4", "personal_sign"]);

export async function installTestWallet(
  page: Page,
  options: { rpcUrl: string; account: string; chainId: number; startChainId?: number },
): Promise<TestWallet> {
  let chainId = options.startChainId ?? options.chainId;
  let reject = false;
  const calls: string[] = [];
  let rpcId = 0;
  await page.exposeFunction("__agoraTestWallet", async (method: string, params: unknown[]) => {
    calls.push(method);
    if (CONSENT.has(method) && reject) {
      reject = false;
      return { error: { code: 4001, message: "User rejected the request." } };
    }
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return { result: [options.account] };
      case "eth_chainId":
        return { result: `0x${chainId.toString(16)}` };
      case "wallet_switchEthereumChain": {
        const wanted = Number.parseInt(String((params[0] as { chainId?: string } | undefined)?.chainId), 16);
        if (wanted !== options.chainId) return { error: { code: 4902, message: `Unrecognized chain ID ${wanted}.` } };
        chainId = wanted;
        return { result: null, event: { name: "chainChanged", data: `0x${chainId.toString(16)}` } };
      }
      case "wallet_revokePermissions":
        return { result: null };
    }
    if (chainId !== options.chainId) return { error: { code: 4901, message: "The wallet is on another chain." } };
    const response = await fetch(options.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
    });
    const body = (await response.json()) as { result?: unknown; error?: unknown };
    return "error" in body ? { error: body.error } : { result: body.result };
  });
  await page.addInitScript(
    ({ account }) => {
      type Answer = { result?: unknown; error?: { code: number; message: string; data?: unknown }; event?: { name: string; data: unknown } };
      const listeners = new Map<string, Set<(data: unknown) => void>>();
      const bridge = (window as unknown as { __agoraTestWallet: (method: string, params: unknown[]) => Promise<Answer> }).__agoraTestWallet;
      const provider = {
        async request({ method, params }: { method: string; params?: unknown[] }) {
          const answer = await bridge(method, params ?? []);
          if (answer.error) {
            const error = new Error(answer.error.message) as Error & { code: number; data?: unknown };
            error.code = answer.error.code;
            if (answer.error.data !== undefined) error.data = answer.error.data;
            throw error;
          }
          if (answer.event) for (const listener of listeners.get(answer.event.name) ?? []) listener(answer.event.data);
          return answer.result;
        },
        on(name: string, listener: (data: unknown) => void) {
          if (!listeners.has(name)) listeners.set(name, new Set());
          listeners.get(name)?.add(listener);
          return provider;
        },
        removeListener(name: string, listener: (data: unknown) => void) {
          listeners.get(name)?.delete(listener);
          return provider;
        },
      };
      const detail = Object.freeze({
        info: { uuid: "0b9e4f4a-5a6e-4f8a-9c47-agora-test", name: "Agora test wallet", icon: "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>", rdns: "dev.agora.test" },
        provider,
      });
      const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
      window.addEventListener("eip6963:requestProvider", announce);
      announce();
      void account;
    },
    { account: options.account },
  );
  return {
    rejectNext: () => {
      reject = true;
    },
    calls,
  };
}
