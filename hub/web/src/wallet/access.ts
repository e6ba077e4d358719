// The asset page's "Get access" panel: the quote for the connected account, buying, and the
// verified download with its progress bar.

import { type Address, getAddress, isAddress, zeroAddress } from "viem";
import { readContract } from "viem/actions";

import { accessTokenAbi } from "../../generated/abi";
import { type Listing, type Quote, buy, quote } from "./buy";
import { formatAmount } from "./currency";
import { byId, byteSize, stateSetter } from "./dom";
import { Interrupted, consumedOrder, download, firstProvider, rememberOrder, save } from "./download";
import { type Units, explain } from "./errors";
import { Told } from "./hub-api";
import { type Session, currentSession, sessionEvents, walletConnected } from "./session";
import { send } from "./tx";

const MAX_AMOUNT = 1000n;

export function startAccessPanel(panel: HTMLElement): void {
  const data = panel.dataset;
  const assetId = BigInt(data["asset"] ?? "0");
  const currencyText = data["currency"] ?? "";
  const priceText = data["price"] ?? "";
  const listing: Listing | null =
    isAddress(currencyText) && /^\d+$/.test(priceText)
      ? { assetId, currency: getAddress(currencyText), shownPrice: BigInt(priceText) }
      : null;
  const accessToken = getAddress(data["accessToken"] ?? zeroAddress);
  const target = { assetId, accessToken, digest: data["digest"] ?? "", fileName: data["fileName"] ?? `asset-${assetId}` };

  const form = byId<HTMLFormElement>("buy-form");
  const amountInput = byId<HTMLInputElement>("buy-amount");
  const downloadNow = byId<HTMLInputElement>("buy-download");
  const buyButton = form?.querySelector<HTMLButtonElement>("button[type=submit]") ?? null;
  const downloadButton = byId<HTMLButtonElement>("download-button");
  const bar = byId<HTMLProgressElement>("download-progress");
  const meter = byId<HTMLElement>("download-meter");
  const hint = byId<HTMLElement>("access-hint");
  const state = byId<HTMLElement>("access-state");
  let busy = false;
  let units: Units = { symbol: "ETH", decimals: 18 };
  let shown: Quote | null = null;
  /** Access tokens the account holds, as last read. */
  let held = 0n;
  const transferForm = byId<HTMLFormElement>("transfer-form");

  const say = stateSetter(state);

  function amount(): bigint | null {
    const text = amountInput?.value.trim() ?? "1";
    if (!/^\d+$/.test(text)) return null;
    const value = BigInt(text);
    return value >= 1n && value <= MAX_AMOUNT ? value : null;
  }

  async function refresh(): Promise<void> {
    const session = currentSession();
    const ready = session !== null && !busy;
    if (buyButton) buyButton.disabled = !ready || !listing;
    if (downloadButton) downloadButton.disabled = !ready;
    // Connected (even on a wrong chain, which the header explains): the CLI hint is noise.
    if (hint) hint.hidden = session !== null || walletConnected();
    if (!session) {
      if (transferForm) transferForm.hidden = true;
      return;
    }
    if (busy) return;
    const n = amount();
    if (listing && n === null) {
      say(`Choose from 1 to ${MAX_AMOUNT} access tokens.`, "error");
      return;
    }
    try {
      const [q, tokens] = await Promise.all([
        listing && n !== null ? quote(session, listing, downloadNow?.checked ? 1n : n) : Promise.resolve(null),
        readContract(session.client, { address: accessToken, abi: accessTokenAbi, functionName: "balanceOf", args: [session.account] }),
      ]);
      held = tokens;
      if (transferForm) transferForm.hidden = held === 0n;
      if (!q) {
        say(`You hold ${tokens} access token${tokens === 1n ? "" : "s"}.`);
        return;
      }
      shown = q;
      units = q.units;
      const free = q.free > 0n ? ` (${q.free} of them free)` : "";
      const tokensText = `${q.amount} access token${q.amount === 1n ? "" : "s"}`;
      say(q.cost === 0n ? `${tokensText} for free; you hold ${tokens}.` : `You pay ${formatAmount(q.cost, q.units)} for ${tokensText}${free}; you hold ${tokens}.`);
      if (buyButton) buyButton.textContent = q.cost === 0n ? "Get for free" : `Buy for ${formatAmount(q.cost, q.units)}`;
    } catch (err) {
      say(await explain(err, units), "error");
    }
  }

  async function runDownload(session: Session): Promise<void> {
    if (bar) {
      bar.hidden = false;
      bar.removeAttribute("value");
    }
    if (meter) meter.hidden = false;
    try {
      const done = await download(session, target, (text) => say(text), (bytes, total, rate) => {
        if (bar && total) {
          bar.max = total;
          bar.value = bytes;
        }
        if (meter) meter.textContent = `${byteSize(bytes)}${total ? ` of ${byteSize(total)}` : ""} · ${byteSize(Math.round(rate))}/s`;
      });
      const link = save(done.file, target.fileName);
      say(`Verified: sha-256 ${done.digest} matches the chain. Saved as ${target.fileName}.`, "done");
      link.className = "save-again";
      state?.after(link);
    } catch (err) {
      if (err instanceof Interrupted && downloadButton) downloadButton.textContent = "Resume download";
      say(err instanceof Interrupted ? err.message : await explain(err, units), "error");
    }
  }

  async function withBusy(action: () => Promise<void>): Promise<void> {
    if (busy) return;
    busy = true;
    await refresh();
    try {
      await action();
    } finally {
      busy = false;
      const session = currentSession();
      if (buyButton) buyButton.disabled = session === null || !listing;
      if (downloadButton) downloadButton.disabled = session === null;
      // The tokens held changed; the message of what was done stays.
      if (session) {
        held = await readContract(session.client, { address: accessToken, abi: accessTokenAbi, functionName: "balanceOf", args: [session.account] }).catch(() => held);
        if (transferForm) transferForm.hidden = held === 0n;
      }
    }
  }

  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    void withBusy(async () => {
      const session = currentSession();
      const n = amount();
      if (!session || !listing || n === null) return;
      try {
        const wanted = downloadNow?.checked ? 1n : n;
        const q = shown?.amount === wanted ? shown : await quote(session, listing, wanted);
        // Bought to download now: the token is spent for the first provider that answers.
        const provider: Address | null = downloadNow?.checked ? (await firstProvider(session, assetId)).address : null;
        const receipt = await buy(session, listing, q, provider, (text) => say(text));
        if (provider) {
          const order = consumedOrder(receipt.logs);
          rememberOrder(session, assetId, provider, order);
          say(`Bought and spent one access token (order ${order}) in block ${receipt.blockNumber}.`);
          await runDownload(session);
        } else {
          say(`Bought ${q.amount} access token${q.amount === 1n ? "" : "s"} in block ${receipt.blockNumber}; the indexer has it.`, "done");
        }
      } catch (err) {
        say(await explain(err, units), "error");
      }
    });
  });

  downloadButton?.addEventListener("click", () => {
    void withBusy(async () => {
      const session = currentSession();
      if (session) await runDownload(session);
    });
  });

  transferForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    void withBusy(async () => {
      const session = currentSession();
      if (!session || !transferForm) return;
      try {
        const to = (transferForm.elements.namedItem("to") as HTMLInputElement).value.trim();
        const count = (transferForm.elements.namedItem("amount") as HTMLInputElement).value.trim();
        if (!isAddress(to)) throw new Told("The recipient must be an address (0x and 40 hex digits).");
        if (!/^\d+$/.test(count) || BigInt(count) === 0n) throw new Told("Give at least one whole token.");
        if (BigInt(count) > held) throw new Told(`You hold ${held} access token${held === 1n ? "" : "s"}.`);
        const call = { address: accessToken, abi: accessTokenAbi, functionName: "transfer", args: [getAddress(to), BigInt(count)] } as const;
        await send(session, call, "the transfer", (text) => say(text));
        say(`Gave ${count} access token${count === "1" ? "" : "s"} to ${getAddress(to)}: they no longer give you access.`, "done");
      } catch (err) {
        say(await explain(err, units), "error");
      }
    });
  });

  amountInput?.addEventListener("input", () => void refresh());
  downloadNow?.addEventListener("change", () => void refresh());
  sessionEvents.addEventListener("change", () => void refresh());
  void refresh();
}
