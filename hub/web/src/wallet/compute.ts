// Running a compute job from the page as `agora job submit` does: the spec checked by the chosen
// provider (which puts it on IPFS) and the provider's key of every encrypted input checked before
// anything is signed; each input's cost (an access token bought with the job when the account holds
// none), the provider's price and the DAO's fee shown before the wallet opens; then ERC-20 approvals
// when needed, one transaction that opens the job (`openJob`, or the marketplace's `buyAndOpenJob`),
// and the EIP-712 job request signed in the wallet and sent to the provider. A job page's
// "Challenge" puts the reason on IPFS through the hub and disputes with the DAO's bond.

import { type Address, type Hex, getAddress, parseEventLogs, toHex, zeroAddress } from "viem";
import { getBlock, readContract, signTypedData } from "viem/actions";

import { accessTokenAbi, assetRegistryAbi, computeMarketAbi, ierc20Abi, marketplaceAbi } from "../../generated/abi";
import { formatAmount, unitsOf } from "./currency";
import { byId, stateSetter } from "./dom";
import { providerInfo } from "./download";
import { type Units, explain } from "./errors";
import { Told } from "./hub-api";
import { type Session, currentSession, requireSession, sessionEvents } from "./session";
import { send } from "./tx";

/** The spec document's version (`agora_provider::jobs::SPEC_VERSION`). */
const SPEC_VERSION = 1;
/** How long a signed job request stays valid. */
const REQUEST_LIFETIME_S = 600;

/** One input of the job and what it costs this account. */
interface InputCost {
  role: "dataset" | "algorithm/model";
  assetId: bigint;
  currency: Address;
  listPrice: bigint;
  spendsToken: boolean;
  /** What buying one costs now, when the account holds none. */
  buy: bigint | null;
  units: Units;
}

/** A job checked and priced, waiting for "Pay and run". */
interface Plan {
  session: Session;
  dataset: bigint;
  model: bigint;
  provider: Address;
  endpoint: string;
  specCid: string;
  deadlineHours: number;
  costs: InputCost[];
  price: bigint;
  currency: Address;
  units: Units;
}

function selected(id: string): HTMLOptionElement {
  const select = byId<HTMLSelectElement>(id);
  const option = select?.selectedOptions[0];
  if (!option) throw new Told("Choose every input of the job first.");
  return option;
}

/** The spec document the form describes, or a failure that says what is wrong with it. */
function specDocument(kind: string, optionsText: string): object {
  let options: unknown;
  try {
    options = JSON.parse(optionsText.trim() || "{}");
  } catch (err) {
    throw new Told(`The options are not JSON: ${(err as Error).message}.`);
  }
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Told('The options must be a JSON object, e.g. {"text_field": "text"}.');
  }
  return { version: SPEC_VERSION, job: { kind, ...(options as object) } };
}

/** Asks the provider to check the spec against its limits and put it on IPFS: its CID. */
async function putSpec(endpoint: string, spec: object): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${endpoint}/v1/specs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(spec),
    });
  } catch {
    throw new Told(`The provider at ${endpoint} did not answer: it may be down; choose another or try later.`);
  }
  const body = (await response.json().catch(() => null)) as { cid?: string; error?: string } | null;
  if (!response.ok || typeof body?.cid !== "string") {
    throw new Told(`The provider refused this job: ${body?.error ?? `it answered ${response.status}`}.`);
  }
  return body.cid;
}

/** Refuses an encrypted input whose key the provider does not hold: it would refuse the job after payment. */
function checkKeyHeld(option: HTMLOptionElement, provider: Address): void {
  const holders = option.dataset["keyHolders"];
  if (holders === undefined) return;
  if (holders.split(",").includes(provider.toLowerCase())) return;
  throw new Told(
    `Asset ${option.value} is encrypted and this provider holds no key for it: choose a provider that does, or ask its owner to run \`agora asset share ${option.value} --provider ${provider}\`.`,
  );
}

async function inputCosts(session: Session, dataset: bigint, model: bigint): Promise<InputCost[]> {
  const { marketplace, assetRegistry } = session.deployment.contracts;
  const costs: InputCost[] = [];
  for (const [role, assetId] of [["dataset", dataset], ["algorithm/model", model]] as const) {
    const listing = await readContract(session.client, { address: marketplace, abi: marketplaceAbi, functionName: "getListing", args: [assetId] });
    const listPrice = BigInt(listing.price);
    const spendsToken = role === "dataset" || listPrice > 0n;
    let buy: bigint | null = null;
    if (spendsToken) {
      const token = await readContract(session.client, { address: assetRegistry, abi: assetRegistryAbi, functionName: "accessTokenOf", args: [assetId] });
      const held = await readContract(session.client, { address: token, abi: accessTokenAbi, functionName: "balanceOf", args: [session.account] });
      if (held === 0n) {
        const [cost] = await readContract(session.client, { address: marketplace, abi: marketplaceAbi, functionName: "quote", args: [assetId, session.account, 1n] });
        buy = cost;
      }
    }
    const currency = getAddress(listing.currency);
    costs.push({ role, assetId, currency, listPrice, spendsToken, buy, units: await unitsOf(session, currency) });
  }
  return costs;
}

function costRows(plan: Plan, feeBps: number): [string, string][] {
  const rows: [string, string][] = plan.costs.map((cost) => {
    const what = !cost.spendsToken
      ? "free: no access token needed"
      : cost.buy === null
        ? "spends one of your access tokens"
        : `${formatAmount(cost.buy, cost.units)} (buys one access token with the job)`;
    return [`${cost.role} ${cost.assetId}`, what];
  });
  rows.push(["provider", `${formatAmount(plan.price, plan.units)} (escrowed until the result is final; the DAO's fee is ${(feeBps / 100).toFixed(2)}% of it)`]);
  const totals = new Map<Address, { amount: bigint; units: Units }>();
  const add = (currency: Address, amount: bigint, units: Units) => {
    const sum = totals.get(currency);
    totals.set(currency, { amount: (sum?.amount ?? 0n) + amount, units });
  };
  for (const cost of plan.costs) if (cost.buy !== null) add(cost.currency, cost.buy, cost.units);
  add(plan.currency, plan.price, plan.units);
  rows.push(["total", [...totals.values()].map(({ amount, units }) => formatAmount(amount, units)).join(" + ")]);
  return rows;
}

function showCosts(table: HTMLTableElement, rows: [string, string][]): void {
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren(
    ...rows.map(([what, amount]) => {
      const row = document.createElement("tr");
      row.dataset["cost"] = what.split(" ")[0] ?? what;
      const head = document.createElement("th");
      head.scope = "row";
      head.textContent = what;
      const cell = document.createElement("td");
      cell.textContent = amount;
      row.append(head, cell);
      return row;
    }),
  );
  table.hidden = false;
}

/** Checks and prices the job the form describes. */
async function review(say: (text: string) => void): Promise<{ plan: Plan; feeBps: number }> {
  const session = requireSession();
  const datasetOption = selected("job-dataset");
  const modelOption = selected("job-model");
  const providerOption = selected("job-provider");
  const provider = getAddress(providerOption.value);
  const endpoint = (providerOption.dataset["endpoint"] ?? "").replace(/\/+$/, "");
  const kind = byId<HTMLSelectElement>("job-kind")?.value ?? "embed";
  const deadlineHours = Number(byId<HTMLInputElement>("job-deadline")?.value ?? "1");
  if (!Number.isInteger(deadlineHours) || deadlineHours < 1 || deadlineHours > 720) {
    throw new Told("The deadline must be a whole number of hours from 1 to 720.");
  }
  if (kind === "algorithm" && modelOption.dataset["kind"] !== "algorithm") {
    throw new Told(`Asset ${modelOption.value} is a ${modelOption.dataset["kind"] ?? "asset"}, not an algorithm: an algorithm job runs an algorithm asset's WebAssembly module.`);
  }
  const spec = specDocument(kind, byId<HTMLTextAreaElement>("job-options")?.value ?? "");
  checkKeyHeld(datasetOption, provider);
  // Every kind but `train` reads the model or algorithm asset.
  if (kind !== "train") checkKeyHeld(modelOption, provider);
  say("Checking the job with the provider…");
  await providerInfo(endpoint, session.chainId);
  const specCid = await putSpec(endpoint, spec);
  say("Reading the prices on chain…");
  const market = { address: session.deployment.contracts.computeMarket, abi: computeMarketAbi } as const;
  const [registered, params] = await Promise.all([
    readContract(session.client, { ...market, functionName: "getProvider", args: [provider] }),
    readContract(session.client, { ...market, functionName: "params" }),
  ]);
  if (!registered.registered) throw new Told(`${provider} is not a registered provider on the ComputeMarket.`);
  const currency = getAddress(registered.currency);
  const dataset = BigInt(datasetOption.value);
  const model = BigInt(modelOption.value);
  const plan: Plan = {
    session,
    dataset,
    model,
    provider,
    endpoint,
    specCid,
    deadlineHours,
    costs: await inputCosts(session, dataset, model),
    price: BigInt(registered.price),
    currency,
    units: await unitsOf(session, currency),
  };
  return { plan, feeBps: Number(params.feeBps) };
}

/** Approves `amount` of `token` to `spender` when the allowance is short. */
async function approve(session: Session, token: Address, spender: Address, amount: bigint, units: Units, say: (text: string) => void): Promise<void> {
  const allowance = await readContract(session.client, { address: token, abi: ierc20Abi, functionName: "allowance", args: [session.account, spender] });
  if (allowance >= amount) return;
  await send(session, { address: token, abi: ierc20Abi, functionName: "approve", args: [spender, amount] }, `the approval of ${formatAmount(amount, units)}`, say);
}

/** Opens the job (buying what it spends in the same transaction) and sends it to the provider: its id. */
async function run(plan: Plan, say: (text: string) => void): Promise<bigint> {
  const { session } = plan;
  const { marketplace, computeMarket } = session.deployment.contracts;
  const purchases = plan.costs.filter((cost) => cost.buy !== null);
  let value = 0n;
  const approvals = new Map<string, { token: Address; spender: Address; amount: bigint; units: Units }>();
  const pay = (currency: Address, spender: Address, amount: bigint, units: Units) => {
    if (currency === zeroAddress) {
      value += amount;
      return;
    }
    const key = `${currency}:${spender}`;
    const sum = approvals.get(key);
    approvals.set(key, { token: currency, spender, amount: (sum?.amount ?? 0n) + amount, units });
  };
  for (const cost of purchases) pay(cost.currency, marketplace, cost.buy ?? 0n, cost.units);
  pay(plan.currency, computeMarket, plan.price, plan.units);
  for (const { token, spender, amount, units } of approvals.values()) await approve(session, token, spender, amount, units, say);

  const block = await getBlock(session.client);
  const params = {
    datasetId: plan.dataset,
    algorithmId: plan.model,
    provider: plan.provider,
    specCid: plan.specCid,
    currency: plan.currency,
    maxPayment: plan.price,
    deadline: block.timestamp + BigInt(plan.deadlineHours * 3600),
  };
  const receipt =
    purchases.length === 0
      ? await send(session, { address: computeMarket, abi: computeMarketAbi, functionName: "openJob", args: [params], value }, "the job", say)
      : await send(
          session,
          {
            address: marketplace,
            abi: marketplaceAbi,
            functionName: "buyAndOpenJob",
            args: [purchases.map((cost) => ({ assetId: cost.assetId, currency: cost.currency, maxPrice: cost.listPrice })), params],
            value,
          },
          "the purchase and the job",
          say,
        );
  const opened = parseEventLogs({ abi: computeMarketAbi, eventName: "JobOpened", logs: receipt.logs })[0];
  if (!opened) throw new Told("The transaction was mined but opened no job.");
  const jobId = opened.args.jobId;

  say("Sign the job request for the provider in your wallet…");
  const info = await providerInfo(plan.endpoint, session.chainId);
  const nonce = BigInt(toHex(crypto.getRandomValues(new Uint8Array(32))));
  const expiry = Math.floor(Date.now() / 1000) + REQUEST_LIFETIME_S;
  const signature: Hex = await signTypedData(session.client, {
    account: session.account,
    domain: { name: info.eip712.name, version: info.eip712.version, chainId: info.eip712.chainId, verifyingContract: getAddress(info.eip712.verifyingContract) },
    types: { JobRequest: [{ name: "jobId", type: "uint256" }, { name: "nonce", type: "uint256" }, { name: "expiry", type: "uint64" }] },
    primaryType: "JobRequest",
    message: { jobId, nonce, expiry: BigInt(expiry) },
  });
  let refusal: string | null = null;
  try {
    const response = await fetch(`${plan.endpoint}/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobId: toHex(jobId), nonce: toHex(nonce), expiry, signature }),
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { error?: string } | null;
      refusal = body?.error ?? `it answered ${response.status}`;
    }
  } catch {
    refusal = "it did not answer";
  }
  if (refusal !== null) {
    throw new Told(`Job ${jobId} is open and paid on chain, but the provider refused it: ${refusal}. Its payment comes back with a refund after the deadline (the job's page: /jobs/${jobId}).`);
  }
  return jobId;
}

/** The `/jobs/new` form. */
export function startJobForm(form: HTMLFormElement): void {
  const reviewButton = byId<HTMLButtonElement>("job-review");
  const runButton = byId<HTMLButtonElement>("job-run");
  const table = byId<HTMLTableElement>("job-costs");
  const say = stateSetter(byId("job-state"));
  const options = byId<HTMLTextAreaElement>("job-options");
  const kinds = new Map<string, string>(JSON.parse(form.dataset["kinds"] ?? "[]") as [string, string][]);
  let plan: Plan | null = null;
  let busy = false;

  const invalidate = () => {
    plan = null;
    if (runButton) runButton.hidden = true;
    if (table) table.hidden = true;
  };
  byId<HTMLSelectElement>("job-kind")?.addEventListener("change", (event) => {
    const kind = (event.target as HTMLSelectElement).value;
    // The options follow the kind unless the user wrote their own.
    if (options && [...kinds.values()].includes(options.value.trim())) options.value = kinds.get(kind) ?? "{}";
  });
  form.addEventListener("input", invalidate);
  form.addEventListener("change", invalidate);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    invalidate();
    say("Checking…");
    review(say)
      .then(({ plan: checked, feeBps }) => {
        plan = checked;
        if (table) showCosts(table, costRows(checked, feeBps));
        if (runButton) runButton.hidden = false;
        say("Check the cost, then pay and run.", "done");
      })
      .catch(async (err: unknown) => say(await explain(err), "error"))
      .finally(() => {
        busy = false;
      });
  });

  runButton?.addEventListener("click", () => {
    if (busy || !plan) return;
    busy = true;
    runButton.disabled = true;
    const chosen = plan;
    run(chosen, say)
      .then((jobId) => {
        say(`Job ${jobId} is open and queued at the provider; opening its page…`, "done");
        window.location.assign(`/jobs/${jobId}`);
      })
      .catch(async (err: unknown) => say(await explain(err, chosen.units), "error"))
      .finally(() => {
        busy = false;
        runButton.disabled = false;
      });
  });

  const enable = () => {
    if (reviewButton) reviewButton.disabled = currentSession() === null;
    if (!currentSession()) say("Connect a wallet (at the top of the page) to run a job.");
    else say("");
  };
  sessionEvents.addEventListener("change", enable);
  enable();
}

/** A job page's "Challenge": the reason on IPFS through the hub, then `dispute` with the DAO's bond. */
export function startDisputePanel(panel: HTMLElement): void {
  const jobId = BigInt(panel.dataset["jobId"] ?? "0");
  const challengeEnd = Number(panel.dataset["challengeEnd"] ?? "0");
  const button = byId<HTMLButtonElement>("dispute-submit");
  const say = stateSetter(byId("dispute-state"));
  let bond: bigint | null = null;

  async function refresh(): Promise<void> {
    const session = currentSession();
    panel.hidden = session === null;
    if (!session || !button) return;
    const market = { address: session.deployment.contracts.computeMarket, abi: computeMarketAbi } as const;
    const [params, block] = await Promise.all([readContract(session.client, { ...market, functionName: "params" }), getBlock(session.client)]);
    bond = BigInt(params.disputeBond);
    const ended = challengeEnd > 0 && Number(block.timestamp) >= challengeEnd;
    button.disabled = ended;
    button.textContent = `Challenge (bond ${formatAmount(bond, { symbol: "ETH", decimals: 18 })})`;
    if (ended) say("The challenge window has closed.");
  }

  button?.addEventListener("click", () => {
    const session = currentSession();
    const reason = byId<HTMLTextAreaElement>("dispute-reason")?.value.trim() ?? "";
    if (!session || bond === null) return;
    if (!reason) {
      say("Say why the result is wrong first.", "error");
      return;
    }
    button.disabled = true;
    void (async () => {
      say("Putting the reason on IPFS…");
      const response = await fetch("/api/disputes/reason", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jobId: jobId.toString(), reason }),
      });
      const body = (await response.json().catch(() => null)) as { cid?: string; error?: string } | null;
      if (!response.ok || typeof body?.cid !== "string") throw new Told(body?.error ?? `The hub answered ${response.status}.`);
      const market = session.deployment.contracts.computeMarket;
      await send(session, { address: market, abi: computeMarketAbi, functionName: "dispute", args: [jobId, body.cid], value: bond ?? 0n }, "the challenge", say);
      say(`Challenged with a bond of ${formatAmount(bond ?? 0n, { symbol: "ETH", decimals: 18 })}; the DAO rules on it.`, "done");
    })()
      .catch(async (err: unknown) => {
        say(await explain(err), "error");
        button.disabled = false;
      });
  });

  sessionEvents.addEventListener("change", () => void refresh().catch(() => undefined));
  void refresh().catch(() => undefined);
}
