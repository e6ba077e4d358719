// An asset's revenue waiting for the connected account in the revenue splitter, per currency, with
// a button that releases it (anyone may release for a recipient; the page does it for yourself).

import { getAddress } from "viem";
import { readContract } from "viem/actions";

import { revenueSplitterAbi } from "../../generated/abi";
import { formatAmount, unitsOf } from "./currency";
import { stateSetter } from "./dom";
import { explain } from "./errors";
import { currentSession, sessionEvents } from "./session";
import { send } from "./tx";

export function startReleaseBox(box: HTMLElement): void {
  const assetId = BigInt(box.dataset["asset"] ?? "0");
  let busy = false;

  async function refresh(): Promise<void> {
    const session = currentSession();
    if (!session || busy) {
      if (!session) box.hidden = true;
      return;
    }
    const splitter = session.deployment.contracts.revenueSplitter;
    const read = { address: splitter, abi: revenueSplitterAbi } as const;
    const shares = await readContract(session.client, { ...read, functionName: "getSplit", args: [assetId] });
    if (!shares.some((share) => getAddress(share.recipient) === session.account)) {
      box.hidden = true;
      return;
    }
    const currencies = await readContract(session.client, { ...read, functionName: "currenciesOf", args: [assetId] });
    const rows: Node[] = [];
    const state = document.createElement("p");
    state.className = "state";
    state.id = "release-state";
    state.setAttribute("role", "status");
    for (const currency of currencies.map((c) => getAddress(c))) {
      const [waiting, units] = await Promise.all([
        readContract(session.client, { ...read, functionName: "releasable", args: [assetId, currency, session.account] }),
        unitsOf(session, currency),
      ]);
      if (waiting === 0n) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.dataset["currency"] = currency;
      button.textContent = `Release ${formatAmount(waiting, units)}`;
      button.addEventListener("click", () => {
        if (busy) return;
        busy = true;
        button.disabled = true;
        const say = stateSetter(state);
        void send(session, { ...read, functionName: "release", args: [assetId, currency, session.account] }, "the release", say)
          .then(() => say(`Released ${formatAmount(waiting, units)} to your account.`, "done"))
          .catch(async (err: unknown) => say(await explain(err, units), "error"))
          .finally(() => {
            busy = false;
            button.remove();
          });
      });
      rows.push(button);
    }
    const lead = document.createElement("p");
    lead.textContent = rows.length > 0 ? "Your share of the sales waits in the revenue splitter:" : "Nothing waits for you in the revenue splitter right now.";
    box.replaceChildren(lead, ...rows, state);
    box.hidden = false;
  }

  sessionEvents.addEventListener("change", () => void refresh().catch(() => undefined));
  void refresh().catch(() => undefined);
}
