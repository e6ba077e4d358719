// The connected wallet: which one, which account, which chain; the header's wallet widget; and
// the viem client every action signs and reads through (the wallet's own RPC, so reads see what
// its transactions did), with viem's actions imported one by one so the bundle keeps only those.

import { type Address, type Client, type CustomTransport, type EIP1193Provider, createClient, custom, getAddress } from "viem";

import { type Wallet, discoverWallets } from "./discovery";
import { type Contracts, type HubStatus, Told, deployment } from "./hub-api";

/** A connected wallet on the deployment's chain, ready to sign. */
export interface Session {
  wallet: Wallet;
  account: Address;
  chainId: number;
  deployment: HubStatus & { contracts: Contracts };
  /** Reads and signs through the wallet; used with viem's tree-shakable actions (`viem/actions`). */
  client: Client<CustomTransport>;
}

/** The wallet remembered between pages (its EIP-6963 rdns), so it reconnects without a prompt. */
const REMEMBERED = "agora:wallet";

interface State {
  wallet: Wallet | null;
  account: Address | null;
  chainId: number | null;
  deployment: (HubStatus & { contracts: Contracts }) | null;
}

const state: State = { wallet: null, account: null, chainId: null, deployment: null };
/** Fires `change` whenever the wallet, account or chain changes. */
export const sessionEvents = new EventTarget();

function changed(): void {
  render();
  sessionEvents.dispatchEvent(new Event("change"));
}

/** The current session when the wallet is connected and on the deployment's chain, else null. */
export function currentSession(): Session | null {
  const { wallet, account, chainId, deployment: dep } = state;
  if (!wallet || !account || chainId === null || !dep || chainId !== dep.chainId) return null;
  return {
    wallet,
    account,
    chainId,
    deployment: dep,
    client: createClient({ transport: custom(wallet.provider) }),
  };
}

function chainIdOf(value: unknown): number | null {
  if (typeof value === "string") return Number.parseInt(value, 16);
  if (typeof value === "number") return value;
  return null;
}

const listening = new WeakSet<EIP1193Provider>();

function listen(wallet: Wallet): void {
  if (listening.has(wallet.provider)) return;
  listening.add(wallet.provider);
  wallet.provider.on("accountsChanged", (accounts: readonly string[]) => {
    if (state.wallet !== wallet) return;
    const first = accounts[0];
    if (first === undefined) {
      disconnect();
      return;
    }
    state.account = getAddress(first);
    changed();
  });
  wallet.provider.on("chainChanged", (chainId: string) => {
    if (state.wallet !== wallet) return;
    state.chainId = chainIdOf(chainId);
    changed();
  });
  wallet.provider.on("disconnect", () => {
    if (state.wallet === wallet) disconnect();
  });
}

/** Connects `wallet`: asks for an account (`silent`: only one already granted, no prompt). */
async function connect(wallet: Wallet, silent: boolean): Promise<void> {
  state.deployment ??= await deployment();
  const accounts = (await wallet.provider.request({
    method: silent ? "eth_accounts" : "eth_requestAccounts",
  })) as readonly string[];
  const first = accounts[0];
  if (first === undefined) {
    if (silent) return;
    throw new Told("The wallet shared no account.");
  }
  const chainId = chainIdOf(await wallet.provider.request({ method: "eth_chainId" }));
  state.wallet = wallet;
  state.account = getAddress(first);
  state.chainId = chainId;
  localStorage.setItem(REMEMBERED, wallet.info.rdns);
  listen(wallet);
  changed();
}

/** Forgets the wallet on this page (and asks it to drop the permission where it can). */
export function disconnect(): void {
  const wallet = state.wallet;
  state.wallet = null;
  state.account = null;
  state.chainId = null;
  localStorage.removeItem(REMEMBERED);
  changed();
  // Not every wallet has it (EIP-2255); the page forgets the account either way.
  wallet?.provider
    .request({ method: "wallet_revokePermissions", params: [{ eth_accounts: {} }] } as never)
    .catch(() => undefined);
}

/** Asks the wallet to move to the deployment's chain. */
export async function switchChain(): Promise<void> {
  const { wallet, deployment: dep } = state;
  if (!wallet || !dep) return;
  try {
    await wallet.provider.request({
      method: "wallet_switchEthereumChain",
      params: [{ chainId: `0x${dep.chainId.toString(16)}` }],
    });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 4902) {
      throw new Told(`Your wallet does not know chain ${dep.chainId}, where this hub's contracts are: add that network to your wallet, then switch to it.`);
    }
    if (code === 4001) throw new Told("You kept your wallet on its network; this hub's actions need chain " + `${dep.chainId}.`);
    throw err;
  }
  state.chainId = chainIdOf(await wallet.provider.request({ method: "eth_chainId" }));
  changed();
}

/** Whether a wallet is connected, whatever its chain. */
export function walletConnected(): boolean {
  return state.wallet !== null && state.account !== null;
}

/** The session, or a failure that says what is missing (a wallet, the right chain). */
export function requireSession(): Session {
  const session = currentSession();
  if (session) return session;
  if (!state.wallet || !state.account) throw new Told("Connect a wallet first (the button at the top of the page).");
  throw new Told(wrongChainText());
}

function wrongChainText(): string {
  const want = state.deployment?.chainId;
  return `Wrong network: your wallet is on chain ${state.chainId ?? "unknown"}, this hub's deployment is on chain ${want ?? "unknown"}. Switch networks to continue.`;
}

// ---- the header widget -------------------------------------------------------------------------

let widgetMessage = "";

function button(label: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  element.addEventListener("click", onClick);
  return element;
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

function report(err: unknown): void {
  widgetMessage = err instanceof Told ? err.message : calmMessage(err);
  render();
}

/** A wallet's refusal in words, without a stack trace. */
export function calmMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 4001) return "You declined in your wallet; nothing was sent.";
  if (code === -32002) return "Your wallet already has a request open: finish it there first.";
  const message = (err as { shortMessage?: unknown; message?: unknown }).shortMessage ?? (err as { message?: unknown }).message;
  return typeof message === "string" ? message : "The wallet failed.";
}

async function choose(): Promise<void> {
  widgetMessage = "";
  const wallets = await discoverWallets();
  if (wallets.length === 0) {
    widgetMessage = "No browser wallet found: install one (such as MetaMask or Rabby) to buy, download and vote here.";
    render();
    return;
  }
  if (wallets.length === 1 && wallets[0]) {
    await connect(wallets[0], false).catch(report);
    return;
  }
  const root = document.getElementById("wallet");
  if (!root) return;
  const list = document.createElement("div");
  list.className = "wallet-choices";
  list.setAttribute("role", "group");
  list.setAttribute("aria-label", "Choose a wallet");
  for (const wallet of wallets) {
    const choice = button(wallet.info.name, () => void connect(wallet, false).catch(report), { "data-rdns": wallet.info.rdns });
    if (wallet.info.icon.startsWith("data:image/")) {
      const icon = document.createElement("img");
      icon.src = wallet.info.icon;
      icon.alt = "";
      icon.width = 16;
      icon.height = 16;
      choice.prepend(icon);
    }
    list.append(choice);
  }
  root.replaceChildren(list);
}

function render(): void {
  const root = document.getElementById("wallet");
  if (!root) return;
  const parts: Node[] = [];
  if (!state.wallet || !state.account) {
    parts.push(button("Connect wallet", () => void choose().catch(report), { "data-wallet-connect": "" }));
  } else {
    const account = document.createElement("a");
    account.href = `/accounts/${state.account.toLowerCase()}`;
    account.className = "wallet-account";
    account.textContent = short(state.account);
    account.title = `${state.account} (${state.wallet.info.name})`;
    account.dataset["account"] = state.account;
    const network = document.createElement("span");
    network.className = "wallet-chain";
    network.dataset["chainId"] = String(state.chainId);
    network.textContent = `chain ${state.chainId ?? "?"}`;
    parts.push(account, network);
    if (state.deployment && state.chainId !== state.deployment.chainId) {
      network.classList.add("wrong");
      const warning = document.createElement("span");
      warning.className = "wallet-warning";
      warning.setAttribute("role", "alert");
      warning.textContent = wrongChainText();
      parts.push(warning, button("Switch network", () => void switchChain().catch(report), { "data-wallet-switch": "" }));
    }
    parts.push(button("Disconnect", disconnect, { "data-wallet-disconnect": "" }));
  }
  if (widgetMessage) {
    const message = document.createElement("span");
    message.className = "wallet-message";
    message.setAttribute("role", "status");
    message.textContent = widgetMessage;
    parts.push(message);
  }
  root.replaceChildren(...parts);
}

/**
 * Draws the widget and reconnects the wallet remembered from an earlier page, without a prompt;
 * `choose`: the user already asked to connect, so open the wallet chooser at once.
 */
export async function startSession(chooseNow: boolean): Promise<void> {
  render();
  if (chooseNow) {
    await choose().catch(report);
    return;
  }
  const remembered = localStorage.getItem(REMEMBERED);
  if (!remembered) return;
  const wallet = (await discoverWallets()).find((w) => w.info.rdns === remembered);
  if (wallet) await connect(wallet, true).catch(report);
}
