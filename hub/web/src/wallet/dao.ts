// The DAO from the page: your votes and delegation, the common proposals built from forms (their
// calls shown decoded before the wallet signs), and on a proposal's page the vote (with a reason),
// then queueing and executing when the chain says their time has come.

import {
  type Address,
  type Hex,
  decodeFunctionData,
  encodeFunctionData,
  formatUnits,
  getAddress,
  isAddress,
  keccak256,
  parseEventLogs,
  parseUnits,
  stringToHex,
  zeroAddress,
} from "viem";
import { getBlock, readContract } from "viem/actions";

import { agoraGovernorAbi, agoraTokenAbi, computeMarketAbi, ierc20Abi, marketplaceAbi } from "../../generated/abi";
import { erc20Units } from "./currency";
import { byId, stateSetter } from "./dom";
import { type Units, explain } from "./errors";
import { Told } from "./hub-api";
import { type Session, currentSession, sessionEvents, walletConnected } from "./session";
import { send } from "./tx";

const ETH: Units = { symbol: "ETH", decimals: 18 };

function votes(amount: bigint): string {
  const [whole, fraction = ""] = formatUnits(amount, 18).split(".");
  const kept = fraction.slice(0, 4).replace(/0+$/, "");
  return `${whole}${kept ? `.${kept}` : ""} votes`;
}

// ---- /dao: votes, delegation, proposals ---------------------------------------------------------

/** One call a proposal makes. */
interface Action {
  target: Address;
  value: bigint;
  calldata: Hex;
}

/** The ABIs a proposal's calls are decoded with, by target. */
function abiFor(session: Session, target: Address) {
  const { contracts } = session.deployment;
  if (target === getAddress(contracts.marketplace)) return { name: "Marketplace", abi: marketplaceAbi };
  if (target === getAddress(contracts.computeMarket)) return { name: "ComputeMarket", abi: computeMarketAbi };
  return { name: null, abi: ierc20Abi };
}

/** A call as people read it: `Marketplace.setProtocolFee(feeBps: 150)` on its address. */
function decoded(session: Session, action: Action): string {
  const { name, abi } = abiFor(session, action.target);
  const to = `${name ?? "contract"} ${action.target}`;
  if (action.calldata === "0x") return `send ${formatUnits(action.value, 18)} ETH from the treasury to ${action.target}`;
  try {
    const call = decodeFunctionData({ abi, data: action.calldata });
    const inputs = abi.find((item) => item.type === "function" && item.name === call.functionName);
    const names = inputs && "inputs" in inputs ? inputs.inputs.map((input) => input.name) : [];
    const args = (call.args ?? []).map((arg, i) => `${names[i] ?? i}: ${String(arg)}`).join(", ");
    return `${to}: ${call.functionName}(${args})`;
  } catch {
    return `${to}: calldata ${action.calldata}`;
  }
}

function field(form: HTMLFormElement, name: string): string {
  const element = form.elements.namedItem(name);
  return element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement ? element.value.trim() : "";
}

function wholeNumber(text: string, what: string): bigint {
  if (!/^\d+$/.test(text)) throw new Told(`${what} must be a whole number.`);
  return BigInt(text);
}

function amountOf(text: string, units: Units, what: string): bigint {
  try {
    const fraction = text.split(".")[1] ?? "";
    if (!/^\d+(\.\d+)?$/.test(text) || fraction.length > units.decimals) throw new Error();
    return parseUnits(text, units.decimals);
  } catch {
    throw new Told(`${what} must be an amount of ${units.symbol} (up to ${units.decimals} decimals).`);
  }
}

/** The calls the proposal form describes, as the CLI's `agora dao propose` builds them. */
async function actionsOf(session: Session, form: HTMLFormElement): Promise<Action[]> {
  const kind = (form.elements.namedItem("kind") as HTMLSelectElement | null)?.value;
  const marketplace = getAddress(session.deployment.contracts.marketplace);
  const onMarket = (calldata: Hex): Action[] => [{ target: marketplace, value: 0n, calldata }];
  switch (kind) {
    case "set-fee": {
      const bps = wholeNumber(field(form, "bps"), "The fee");
      const cap = await readContract(session.client, { address: marketplace, abi: marketplaceAbi, functionName: "MAX_FEE_BPS" });
      if (bps > BigInt(cap)) throw new Told(`The fee can be at most ${cap} basis points (${Number(cap) / 100} %): the marketplace refuses more.`);
      return onMarket(encodeFunctionData({ abi: marketplaceAbi, functionName: "setProtocolFee", args: [Number(bps)] }));
    }
    case "delist":
    case "relist": {
      const asset = wholeNumber(field(form, "asset"), "The asset id");
      const reason = field(form, "reason");
      if (!reason) throw new Told("Give the IPFS CID of the reason (the marketplace records it on chain).");
      return onMarket(encodeFunctionData({ abi: marketplaceAbi, functionName: kind, args: [asset, reason] }));
    }
    case "rule-dispute": {
      const job = wholeNumber(field(form, "job"), "The job id");
      const fault = (form.elements.namedItem("fault") as HTMLInputElement | null)?.checked ?? false;
      const slash = amountOf(field(form, "slash") || "0", ETH, "The stake to slash");
      const calldata = encodeFunctionData({ abi: computeMarketAbi, functionName: "ruleDispute", args: [job, fault, slash] });
      return [{ target: getAddress(session.deployment.contracts.computeMarket), value: 0n, calldata }];
    }
    case "treasury-transfer": {
      const to = field(form, "to");
      if (!isAddress(to)) throw new Told("The recipient must be an address (0x and 40 hex digits).");
      const currency = field(form, "currency").toLowerCase() || "eth";
      if (currency === "eth") return [{ target: getAddress(to), value: amountOf(field(form, "amount"), ETH, "The amount"), calldata: "0x" }];
      if (!isAddress(currency)) throw new Told("The currency must be eth or an ERC-20's address.");
      const units = await erc20Units(session, getAddress(currency));
      const value = amountOf(field(form, "amount"), units, "The amount");
      return [{ target: getAddress(currency), value: 0n, calldata: encodeFunctionData({ abi: ierc20Abi, functionName: "transfer", args: [getAddress(to), value] }) }];
    }
    default:
      throw new Told("Choose a decision.");
  }
}

export function startDaoPanel(): void {
  const delegateForm = byId<HTMLFormElement>("delegate-form");
  const proposeForm = byId<HTMLFormElement>("propose-form");
  const hint = byId<HTMLElement>("dao-hint");
  const preview = byId<HTMLElement>("proposal-preview");
  const votesSay = stateSetter(byId("votes-state"));
  const proposeSay = stateSetter(byId("propose-state"));
  const kindSelect = byId<HTMLSelectElement>("proposal-kind");
  let busy = false;

  function showFields(): void {
    const kind = kindSelect?.value ?? "";
    for (const fields of document.querySelectorAll<HTMLElement>("#propose-form .fields")) {
      fields.hidden = !(fields.dataset["kind"] ?? "").split(" ").includes(kind);
    }
  }

  async function refresh(): Promise<void> {
    const session = currentSession();
    if (hint) hint.hidden = walletConnected();
    for (const button of document.querySelectorAll<HTMLButtonElement>("#dao-panel button[type=submit]")) button.disabled = !session || busy;
    if (!session) return;
    const token = session.deployment.contracts.agoraToken;
    let balance: bigint, power: bigint, delegate: Address;
    try {
      [balance, power, delegate] = await Promise.all([
        readContract(session.client, { address: token, abi: agoraTokenAbi, functionName: "balanceOf", args: [session.account] }),
        readContract(session.client, { address: token, abi: agoraTokenAbi, functionName: "getVotes", args: [session.account] }),
        readContract(session.client, { address: token, abi: agoraTokenAbi, functionName: "delegates", args: [session.account] }),
      ]);
    } catch (err) {
      votesSay(await explain(err), "error");
      return;
    }
    const to = delegate === zeroAddress ? "nobody yet (delegate to yourself to vote)" : getAddress(delegate) === session.account ? "yourself" : delegate;
    votesSay(`You hold ${votes(balance).replace(" votes", " AGORA")}; your voting power is ${votes(power)}; delegated to ${to}.`);
  }

  async function showPreview(): Promise<Action[] | null> {
    const session = currentSession();
    if (!session || !proposeForm || !preview) return null;
    try {
      const actions = await actionsOf(session, proposeForm);
      const list = document.createElement("ol");
      for (const action of actions) {
        const item = document.createElement("li");
        item.textContent = decoded(session, action);
        const raw = document.createElement("code");
        raw.className = "wrap";
        raw.textContent = action.calldata;
        item.append(document.createElement("br"), raw);
        list.append(item);
      }
      const heading = document.createElement("p");
      heading.textContent = "The timelock will make these calls if the proposal passes:";
      preview.replaceChildren(heading, list);
      return actions;
    } catch (err) {
      preview.replaceChildren();
      if (err instanceof Told) preview.textContent = err.message;
      return null;
    }
  }

  async function busyWhile(action: () => Promise<void>): Promise<void> {
    if (busy) return;
    busy = true;
    await refresh();
    try {
      await action();
    } finally {
      busy = false;
      await refresh();
    }
  }

  delegateForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    void busyWhile(async () => {
      const session = currentSession();
      if (!session || !delegateForm) return;
      try {
        const other = (delegateForm.elements.namedItem("to") as RadioNodeList | null)?.value === "other";
        const address = field(delegateForm, "address");
        if (other && !isAddress(address)) throw new Told("The delegate must be an address (0x and 40 hex digits).");
        const delegatee = other ? getAddress(address) : session.account;
        const call = { address: session.deployment.contracts.agoraToken, abi: agoraTokenAbi, functionName: "delegate", args: [delegatee] } as const;
        await send(session, call, "the delegation", votesSay);
      } catch (err) {
        votesSay(await explain(err), "error");
      }
    });
  });

  proposeForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    void busyWhile(async () => {
      const session = currentSession();
      if (!session || !proposeForm) return;
      try {
        const description = field(proposeForm, "description");
        if (!description) throw new Told("Describe the proposal: its first line is its title.");
        const actions = await showPreview();
        if (!actions) throw new Told(preview?.textContent || "Complete the form.");
        const call = {
          address: session.deployment.contracts.governor,
          abi: agoraGovernorAbi,
          functionName: "propose",
          args: [actions.map((a) => a.target), actions.map((a) => a.value), actions.map((a) => a.calldata), withProposerSuffix(description, session.account)],
        } as const;
        const receipt = await send(session, call, "the proposal", proposeSay);
        const [created] = parseEventLogs({ abi: agoraGovernorAbi, eventName: "ProposalCreated", logs: receipt.logs });
        if (!created) throw new Told("The transaction was mined but created no proposal.");
        proposeSay(`Proposed in block ${receipt.blockNumber}: opening its page…`, "done");
        window.location.assign(`/dao/proposals/${created.args.proposalId}`);
      } catch (err) {
        proposeSay(await explain(err), "error");
      }
    });
  });

  kindSelect?.addEventListener("change", () => {
    showFields();
    void showPreview();
  });
  proposeForm?.addEventListener("input", () => void showPreview());
  sessionEvents.addEventListener("change", () => void refresh());
  showFields();
  void refresh();
}

// ---- /dao/proposals/{id}: vote, queue, execute ------------------------------------------------

/** OpenZeppelin's `IGovernor.ProposalState`. */
/** A governor timepoint (unix seconds: its clock is the block timestamp) as the hub writes times. */
function utc(seconds: bigint): string {
  return `${new Date(Number(seconds) * 1000).toISOString().replace("T", " ").slice(0, 16)} UTC`;
}

/**
 * `description` ending in `#proposer=<account>`, as `agora dao propose` ends it: OpenZeppelin's
 * guard against front-running, so nobody else can submit the same proposal first and take its id.
 */
export function withProposerSuffix(description: string, account: string): string {
  const tail = description.split("#proposer=").pop() ?? "";
  if (description.includes("#proposer=") && /^0x[0-9a-fA-F]{40}$/.test(tail)) return description;
  return `${description}\n\n#proposer=${account.toLowerCase()}`;
}

const STATES = ["pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed"] as const;

export function startVotePanel(panel: HTMLElement): void {
  const data = panel.dataset;
  const proposalId = BigInt(data["proposalId"] ?? "0");
  const description = data["description"] ?? "";
  const list = (key: string) => (data[key] ? (data[key] ?? "").split(",") : []);
  const targets = list("targets").map((t) => getAddress(t));
  const values = list("values").map((v) => BigInt(v));
  const calldatas = list("calldatas") as Hex[];
  const descriptionHash = keccak256(stringToHex(description));
  const voteForm = byId<HTMLFormElement>("vote-form");
  const queueButton = byId<HTMLButtonElement>("queue-button");
  const executeButton = byId<HTMLButtonElement>("execute-button");
  const hint = byId<HTMLElement>("vote-hint");
  const say = stateSetter(byId("vote-state"));
  let busy = false;

  async function refresh(): Promise<void> {
    const session = currentSession();
    if (hint) hint.hidden = walletConnected();
    if (voteForm) voteForm.hidden = true;
    if (queueButton) queueButton.hidden = true;
    if (executeButton) executeButton.hidden = true;
    if (!session || busy) return;
    const governor = session.deployment.contracts.governor;
    const read = <T>(functionName: "state" | "proposalEta" | "proposalSnapshot", args: readonly unknown[]) =>
      readContract(session.client, { address: governor, abi: agoraGovernorAbi, functionName, args } as never) as Promise<T>;
    try {
      const state = STATES[await read<number>("state", [proposalId])] ?? "unknown";
      panel.dataset["chainState"] = state;
      switch (state) {
        case "pending": {
          const snapshot = await read<bigint>("proposalSnapshot", [proposalId]);
          say(`Voting opens at ${utc(snapshot)}.`);
          break;
        }
        case "active": {
          const voted = await readContract(session.client, { address: governor, abi: agoraGovernorAbi, functionName: "hasVoted", args: [proposalId, session.account] });
          if (voted) say("You have voted on this proposal.", "done");
          else if (voteForm) {
            voteForm.hidden = false;
            say("");
          }
          break;
        }
        case "succeeded":
          if (queueButton) queueButton.hidden = false;
          say("The proposal passed: queue it in the timelock to run it after the delay.");
          break;
        case "queued": {
          const eta = await read<bigint>("proposalEta", [proposalId]);
          const now = (await getBlock(session.client)).timestamp;
          if (executeButton) {
            executeButton.hidden = false;
            executeButton.disabled = now < eta;
          }
          say(now < eta ? `Queued: it can run from ${utc(eta)}.` : "Queued and ready: anyone may execute it.");
          break;
        }
        default:
          say(`The proposal is ${state}.`);
      }
    } catch (err) {
      say(await explain(err), "error");
    }
  }

  async function act(what: string, functionName: "queue" | "execute"): Promise<void> {
    if (busy) return;
    const session = currentSession();
    if (!session) return;
    busy = true;
    try {
      const args = [targets, values, calldatas, descriptionHash] as const;
      const value = functionName === "execute" ? values.reduce((sum, v) => sum + v, 0n) : 0n;
      await send(session, { address: session.deployment.contracts.governor, abi: agoraGovernorAbi, functionName, args, value }, what, say);
      say(functionName === "execute" ? "Executed: the timelock made the proposal's calls." : "Queued in the timelock.", "done");
    } catch (err) {
      say(await explain(err), "error");
    } finally {
      busy = false;
      await refresh().catch(() => undefined);
    }
  }

  voteForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy || !voteForm) return;
    const session = currentSession();
    if (!session) return;
    busy = true;
    void (async () => {
      try {
        const support = Number((voteForm.elements.namedItem("support") as RadioNodeList | null)?.value ?? "1");
        const reason = field(voteForm, "reason");
        const governor = session.deployment.contracts.governor;
        const receipt = reason
          ? await send(session, { address: governor, abi: agoraGovernorAbi, functionName: "castVoteWithReason", args: [proposalId, support, reason] }, "your vote", say)
          : await send(session, { address: governor, abi: agoraGovernorAbi, functionName: "castVote", args: [proposalId, support] }, "your vote", say);
        say(`Your vote is counted (block ${receipt.blockNumber}).`, "done");
      } catch (err) {
        say(await explain(err), "error");
      } finally {
        busy = false;
      }
    })();
  });
  queueButton?.addEventListener("click", () => void act("queueing the proposal", "queue"));
  executeButton?.addEventListener("click", () => void act("executing the proposal", "execute"));
  sessionEvents.addEventListener("change", () => void refresh());
  void refresh();
}
