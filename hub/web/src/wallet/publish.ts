// Publishing from the page as `agora asset publish` does: a file, or a model's folder (each file
// uploaded, then the manifest of their CIDs and sha-256s as the content); priced and compute-only
// content sealed in the browser first (`seal.ts`: the CLI's scheme), its key wrapped for the
// owner (whose public key is recovered from one signed message) and the providers ticked; each
// upload through the hub to its Kubo node with a progress bar; the metadata document written by
// the hub in the CLI's format; then `AssetRegistry.publish` from the wallet. An asset page's
// "Edit metadata" writes a new version of its document the same way and sends `updateMetadata`.

import {
  type Address,
  type Hex,
  getAddress,
  hashMessage,
  isAddress,
  parseEventLogs,
  parseUnits,
  recoverPublicKey,
  zeroAddress,
} from "viem";
import { publicKeyToAddress } from "viem/accounts";
import { signMessage } from "viem/actions";

import { assetRegistryAbi } from "../../generated/abi";
import { byId, byteSize, stateSetter } from "./dom";
import { explain } from "./errors";
import { Told } from "./hub-api";
import { type Encryption, newContentKey, newHeader, sealBytes, sealFile, wrapKey } from "./seal";
import { type Session, currentSession, requireSession, sessionEvents } from "./session";
import { send } from "./tx";

/** `words::ASSET_KINDS`: a kind's code is its index. */
const ASSET_KINDS = ["dataset", "model", "algorithm", "app", "notebook"];
/** The largest price the registry stores (uint80). */
const MAX_PRICE = (1n << 80n) - 1n;
/** A model manifest's file name (`publish::MANIFEST_FILE_NAME`). */
const MANIFEST_FILE_NAME = "manifest.json";
/** How long the card editor waits after a keystroke before it asks for a preview. */
const PREVIEW_DELAY_MS = 300;

/** What the user picked: one file, or a folder's files. */
type Picked = { kind: "file"; file: File } | { kind: "folder"; name: string; files: File[] };

/** One file of the content as the metadata lists it, and as a model manifest lists it. */
interface Listed {
  name: string;
  cid: string;
  size: number;
  sha256: Hex;
  encryption?: Encryption;
}

/** What `/api/uploads` answers. */
interface Uploaded {
  cid: string;
  size: number;
  sha256: Hex;
}

/** A plain file name (`jobs::is_plain_file_name`): what a model manifest may list. */
function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !name.startsWith(".") && /^[A-Za-z0-9._-]+$/.test(name);
}

/** The folder's files, checked as the CLI checks a model folder. */
function folderOf(files: FileList): Picked {
  const list = [...files];
  const first = list[0];
  if (!first) throw new Told("The folder is empty: a model folder needs at least one file.");
  const name = first.webkitRelativePath.split("/")[0] ?? "model";
  for (const file of list) {
    const path = file.webkitRelativePath.split("/");
    if (path.length > 2) throw new Told(`${file.webkitRelativePath} is in a subfolder: a model manifest lists the files of one folder, without subfolders (move or remove it).`);
    if (!isPlainFileName(file.name)) throw new Told(`${file.webkitRelativePath} is not a plain file name (ASCII letters, digits, '.', '_' and '-', no leading dot): rename or remove it.`);
  }
  list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { kind: "folder", name, files: list };
}

/** Sends `body` to the hub's Kubo node, `progress` hearing the bytes sent. */
function upload(body: Blob, progress: (sent: number) => void): Promise<Uploaded> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/uploads");
    request.setRequestHeader("content-type", "application/octet-stream");
    request.responseType = "json";
    request.upload.onprogress = (event) => progress(event.loaded);
    request.onerror = () => reject(new Told("The upload broke off: check your connection and try again."));
    request.onload = () => {
      const answer = request.response as (Uploaded & { error?: string }) | null;
      if (request.status === 201 && answer && typeof answer.cid === "string") resolve(answer);
      else reject(new Told(`The hub refused the upload: ${answer?.error ?? `it answered ${request.status}`}.`));
    };
    request.send(body);
  });
}

async function postJson<T>(path: string, body: object): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  } catch {
    throw new Told("The hub did not answer: check your connection and try again.");
  }
  const answer = (await response.json().catch(() => null)) as (T & { error?: string }) | null;
  if (!response.ok || !answer) throw new Told(`The hub refused it: ${answer?.error ?? `it answered ${response.status}`}.`);
  return answer;
}

/** One provider the hub can wrap a key for (`GET /api/key-holders`). */
interface KeyHolder {
  provider: string;
  endpoint: string;
  publicKey: Hex | null;
  error: string | null;
}

/** The message whose signature gives the page the owner's public key. */
function keyMessage(account: Address): string {
  return `Agora: read my public key, so the content key of what I publish is wrapped for me.\n\nAccount: ${account}\n\nSigning this sends nothing and costs nothing.`;
}

/** The connected account's uncompressed public key, recovered from a signed message. */
async function ownerKey(session: Session): Promise<Hex> {
  const message = keyMessage(session.account);
  const signature = await signMessage(session.client, { account: session.account, message });
  const publicKey = await recoverPublicKey({ hash: hashMessage(message), signature });
  if (publicKeyToAddress(publicKey) !== session.account) throw new Told("Your wallet's signature is not your account's: the page cannot wrap the key for you.");
  return publicKey;
}

/** Who holds the content key: the owner, then the ticked providers, each with its public key. */
async function keyHolders(session: Session, chosen: string[]): Promise<{ holder: Address; publicKey: Hex }[]> {
  const holders = [{ holder: session.account, publicKey: await ownerKey(session) }];
  if (chosen.length === 0) return holders;
  const response = await fetch("/api/key-holders").catch(() => null);
  const known = response?.ok ? ((await response.json()) as KeyHolder[]) : null;
  if (!known) throw new Told("The hub could not list the providers' keys: try again.");
  for (const address of chosen) {
    const found = known.find((k) => k.provider.toLowerCase() === address.toLowerCase());
    if (!found?.publicKey) {
      throw new Told(`Provider ${address} cannot take the key now (${found?.error ?? "it is not active"}): untick it, or try later.`);
    }
    const holder = getAddress(found.provider);
    if (!holders.some((h) => h.holder === holder)) holders.push({ holder, publicKey: found.publicKey });
  }
  return holders;
}

/** The split rows as (recipient, bps), sorted by address as the splitter requires; empty = all to the owner. */
function splitOf(table: HTMLTableElement | null): { recipients: Address[]; bps: number[] } {
  const shares: [Address, number][] = [];
  for (const row of table?.tBodies[0]?.rows ?? []) {
    const [address, percent] = [...row.querySelectorAll("input")].map((i) => i.value.trim());
    if (!address && !percent) continue;
    if (!address || !isAddress(address)) throw new Told(`The split's recipient ${JSON.stringify(address ?? "")} is not an address.`);
    const bps = Math.round(Number(percent) * 100);
    if (!Number.isFinite(bps) || bps < 1 || bps > 10_000) throw new Told(`The share of ${address} must be from 0.01 to 100 %.`);
    const recipient = getAddress(address);
    if (recipient === zeroAddress) throw new Told("The split's recipient must not be the zero address.");
    if (shares.some(([r]) => r === recipient)) throw new Told(`The split names ${recipient} twice.`);
    shares.push([recipient, bps]);
  }
  shares.sort(([a], [b]) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  const sum = shares.reduce((n, [, bps]) => n + bps, 0);
  if (shares.length > 0 && sum !== 10_000) throw new Told(`The split's shares add up to ${sum / 100} %; they must add up to 100 %.`);
  return { recipients: shares.map(([r]) => r), bps: shares.map(([, b]) => b) };
}

function tagsOf(text: string): string[] {
  return text.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
}

function value(id: string): string {
  return byId<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(id)?.value ?? "";
}

function checked(id: string): boolean {
  return byId<HTMLInputElement>(id)?.checked ?? false;
}

/** Live preview of a card editor: the hub renders it as the asset page does. */
export function startCardPreview(editor: HTMLTextAreaElement, preview: HTMLElement): void {
  let timer: number | undefined;
  let asked = 0;
  const render = async () => {
    const ticket = ++asked;
    const text = editor.value;
    if (!text.trim()) {
      preview.innerHTML = '<p class="hint">The card as the asset page will show it.</p>';
      return;
    }
    const answer = await postJson<{ html: string }>("/api/markdown", { markdown: text }).catch((err: unknown) => ({
      html: `<p class="warn">${err instanceof Told ? err.message.replace(/</g, "&lt;") : "No preview."}</p>`,
    }));
    // The hub sanitizes what it renders (as on the asset page); a stale answer is dropped.
    if (ticket === asked) preview.innerHTML = answer.html;
  };
  editor.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void render(), PREVIEW_DELAY_MS);
  });
  void render();
}

function addSplitRow(table: HTMLTableElement, onChange: () => void): void {
  const row = table.tBodies[0]?.insertRow();
  if (!row) return;
  const n = table.tBodies[0]?.rows.length ?? 1;
  const address = document.createElement("input");
  address.placeholder = "0x…";
  address.setAttribute("aria-label", `Recipient ${n}`);
  address.spellcheck = false;
  const percent = document.createElement("input");
  percent.inputMode = "decimal";
  percent.placeholder = "50";
  percent.setAttribute("aria-label", `Share of recipient ${n} (%)`);
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.addEventListener("click", () => {
    row.remove();
    onChange();
  });
  for (const element of [address, percent, remove]) row.insertCell().append(element);
  for (const input of [address, percent]) input.addEventListener("input", onChange);
}

/** The `/publish` form. */
export function startPublishForm(form: HTMLFormElement): void {
  const say = stateSetter(byId("publish-state"));
  const bar = byId<HTMLProgressElement>("publish-progress");
  const submit = byId<HTMLButtonElement>("publish-submit");
  const pickedText = byId("publish-picked");
  const sealingText = byId("publish-sealing");
  const splitTable = byId<HTMLTableElement>("publish-split-rows");
  const splitSum = byId("publish-split-sum");
  const maxUpload = Number(form.dataset["maxUpload"] ?? "0");
  let picked: Picked | null = null;
  let busy = false;

  const card = byId<HTMLTextAreaElement>("publish-card");
  const preview = byId("publish-preview");
  if (card && preview) startCardPreview(card, preview);

  const price = (): bigint | null => {
    const currency = byId<HTMLSelectElement>("publish-currency")?.selectedOptions[0];
    try {
      return parseUnits(value("publish-price").trim() || "0", Number(currency?.dataset["decimals"] ?? "18"));
    } catch {
      return null;
    }
  };
  const encrypts = (): boolean => {
    const priced = (price() ?? 0n) > 0n;
    return !checked("publish-public") && (priced || checked("publish-compute-only") || checked("publish-private"));
  };
  const describeSealing = () => {
    if (!sealingText) return;
    const holders = form.querySelectorAll<HTMLInputElement>('input[name="holder"]:checked').length;
    sealingText.textContent = encrypts()
      ? `Encrypted in this browser before upload; the key wrapped for you${holders ? ` and ${holders} provider${holders > 1 ? "s" : ""}` : ""}.`
      : checked("publish-public") && (price() ?? 0n) > 0n
        ? "Warning: priced content in the clear — anyone can read it from IPFS without buying."
        : "Free and public: the content goes to IPFS in the clear.";
    const holdersBox = byId<HTMLFieldSetElement>("publish-holders");
    if (holdersBox) holdersBox.disabled = !encrypts();
  };
  const describeSplit = () => {
    if (!splitSum) return;
    try {
      const { bps } = splitOf(splitTable);
      splitSum.textContent = bps.length ? "The shares add up to 100 %." : "All of the revenue goes to you.";
      splitSum.dataset["kind"] = "done";
    } catch (err) {
      splitSum.textContent = err instanceof Told ? err.message : String(err);
      splitSum.dataset["kind"] = "error";
    }
  };
  byId("publish-split-add")?.addEventListener("click", () => {
    if (splitTable) addSplitRow(splitTable, describeSplit);
    describeSplit();
  });

  const connect = "Connect a wallet (at the top of the page) to publish.";
  const choose = "Choose a file or a folder.";
  /** Enables "Publish" when it can act and says what is missing; a new pick (`clear`) clears the last outcome. */
  const enable = (clear = false) => {
    if (submit) submit.disabled = busy || picked === null || currentSession() === null;
    const shown = byId("publish-state")?.textContent ?? "";
    if (!currentSession()) say(connect);
    else if (!picked) say(choose);
    else if (clear || shown === connect || shown === choose) say("");
  };
  const pick = (files: FileList | null, folder: boolean) => {
    picked = null;
    try {
      if (files && files.length > 0) {
        const file = files[0];
        picked = folder ? folderOf(files) : file ? { kind: "file", file } : null;
      }
      const size = picked?.kind === "file" ? picked.file.size : (picked?.files ?? []).reduce((n, f) => n + f.size, 0);
      if (pickedText) {
        pickedText.textContent = !picked
          ? "Nothing chosen yet."
          : picked.kind === "file"
            ? `${picked.file.name}, ${byteSize(size)}`
            : `Folder ${picked.name}: ${picked.files.length} files, ${byteSize(size)} (published as a model)`;
        pickedText.dataset["kind"] = "info";
      }
      if (picked && maxUpload > 0 && size > maxUpload) {
        throw new Told(`That is ${byteSize(size)}; this hub takes uploads of at most ${byteSize(maxUpload)} (the CLI has no such limit).`);
      }
      if (picked?.kind === "folder") {
        const kind = byId<HTMLSelectElement>("publish-kind");
        if (kind) kind.value = "model";
      }
      const name = byId<HTMLInputElement>("publish-name");
      if (name && picked) name.placeholder = picked.kind === "file" ? picked.file.name : picked.name;
    } catch (err) {
      picked = null;
      if (pickedText) {
        pickedText.textContent = err instanceof Told ? err.message : String(err);
        pickedText.dataset["kind"] = "error";
      }
    }
    enable(true);
  };
  byId<HTMLInputElement>("publish-file")?.addEventListener("change", (e) => pick((e.target as HTMLInputElement).files, false));
  byId<HTMLInputElement>("publish-folder")?.addEventListener("change", (e) => pick((e.target as HTMLInputElement).files, true));
  form.addEventListener("input", () => {
    describeSealing();
    // A refusal is about what the form said then: editing it clears the refusal.
    const shown = byId("publish-state");
    if (!busy && shown?.dataset["kind"] === "error") say("");
  });
  form.addEventListener("change", describeSealing);
  describeSealing();
  describeSplit();

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy || !picked) return;
    busy = true;
    enable();
    const chosen = picked;
    publish(chosen, say, (done, total) => {
      if (!bar) return;
      bar.hidden = false;
      bar.max = Math.max(total, 1);
      bar.value = done;
    })
      .then((assetId) => {
        say(`Published asset ${assetId}; opening its page…`, "done");
        window.location.assign(`/assets/${assetId}`);
      })
      .catch(async (err: unknown) => say(await explain(err), "error"))
      .finally(() => {
        busy = false;
        if (bar) bar.hidden = true;
        enable();
      });
  });
  sessionEvents.addEventListener("change", () => enable());
  enable();

  async function publish(
    chosen: Picked,
    status: (text: string) => void,
    progress: (done: number, total: number) => void,
  ): Promise<bigint> {
    const session = requireSession();
    const priceValue = price();
    if (priceValue === null) throw new Told("The price is not a number in the currency's units (e.g. 0.01).");
    if (priceValue > MAX_PRICE) throw new Told("The price is above the largest the registry stores.");
    const computeOnly = checked("publish-compute-only");
    if (checked("publish-public") && computeOnly) {
      throw new Told("Content in the clear cannot be compute-only: anyone could read it from IPFS, not only compute on it.");
    }
    const free = Number(value("publish-free") || "0");
    const duration = Number(value("publish-duration") || "0");
    if (!Number.isInteger(free) || free < 0 || free > 255) throw new Told("Free access tokens per address must be from 0 to 255.");
    if (!Number.isInteger(duration) || duration < 0 || duration > 0xffff_ffff) throw new Told("The access duration must be a whole number of seconds, at most 4294967295.");
    const split = splitOf(splitTable);
    const kind = ASSET_KINDS.indexOf(value("publish-kind"));
    if (kind < 0) throw new Told("Choose what the asset is.");
    if (chosen.kind === "folder" && value("publish-kind") !== "model") throw new Told("A folder is published as a model (a manifest of its files): choose the kind model.");
    const currency = getAddress(value("publish-currency") || zeroAddress);
    const tags = tagsOf(value("publish-tags"));

    let key: Uint8Array | null = null;
    let holders: { holder: Address; publicKey: Hex }[] = [];
    if (encrypts()) {
      status("Sign the message in your wallet: it lets the page wrap the content key for you…");
      const ticked = [...form.querySelectorAll<HTMLInputElement>('input[name="holder"]:checked')].map((i) => i.value);
      holders = await keyHolders(session, ticked);
      key = newContentKey();
    }
    const header = (size: number, wrapped: boolean): Encryption | null => {
      if (!key) return null;
      const h = newHeader(size);
      if (wrapped) h.wrappedKeys = holders.map(({ holder, publicKey }) => wrapKey(key as Uint8Array, holder, publicKey));
      return h;
    };
    const files = chosen.kind === "file" ? [chosen.file] : chosen.files;
    const total = files.reduce((n, f) => n + f.size, 0);
    let done = 0;
    const listed: Listed[] = [];
    for (const [index, file] of files.entries()) {
      const count = files.length > 1 ? ` (${index + 1}/${files.length})` : "";
      const fileHeader = header(file.size, chosen.kind === "file");
      status(`${key ? "Encrypting" : "Hashing"} ${file.name}${count}…`);
      const sealed = await sealFile(file, key, fileHeader, (d) => progress(done + d / 2, total));
      status(`Uploading ${file.name}${count}…`);
      const sent = await upload(sealed.body, (d) => progress(done + file.size / 2 + (d / Math.max(sealed.body.size, 1)) * (file.size / 2), total));
      if (!key && sent.sha256.toLowerCase() !== sealed.sha256.toLowerCase()) throw new Told(`${file.name} changed while it was uploaded: the hub read other bytes than this page hashed.`);
      done += file.size;
      listed.push({ name: file.name, cid: sent.cid, size: file.size, sha256: sealed.sha256, ...(fileHeader ? { encryption: fileHeader } : {}) });
    }

    let content: { cid: string; size: number; fileName: string; encryption?: Encryption };
    let digest: Hex;
    const first = listed[0];
    if (chosen.kind === "file" && first) {
      content = { cid: first.cid, size: first.size, fileName: first.name, ...(first.encryption ? { encryption: first.encryption } : {}) };
      digest = first.sha256;
    } else {
      status("Uploading the manifest…");
      const manifest = { files: listed.map(({ name, cid, sha256, encryption }) => ({ name, cid, sha256, ...(encryption ? { encryption } : {}) })) };
      const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
      const manifestHeader = header(bytes.length, true);
      const plain = new Blob([bytes as BlobPart]);
      const { sha256 } = await sealFile(plain, null, null, () => {});
      const body = key && manifestHeader ? new Blob([sealBytes(key, manifestHeader, bytes) as BlobPart]) : plain;
      const sent = await upload(body, () => {});
      content = { cid: sent.cid, size: bytes.length, fileName: MANIFEST_FILE_NAME, ...(manifestHeader ? { encryption: manifestHeader } : {}) };
      digest = sha256;
    }

    status("Writing the metadata document…");
    const defaultName = chosen.kind === "file" ? chosen.file.name : chosen.name;
    const { cid: metadataCid } = await postJson<{ cid: string }>("/api/metadata", {
      name: value("publish-name").trim() || defaultName,
      description: value("publish-description"),
      kind: value("publish-kind"),
      license: value("publish-license").trim() || null,
      card: value("publish-card") || null,
      tags,
      computeOnly,
      content,
      files: listed.map(({ name, cid, size, sha256 }) => ({ name, cid, size, sha256 })),
    });
    const receipt = await send(
      session,
      {
        address: session.deployment.contracts.assetRegistry,
        abi: assetRegistryAbi,
        functionName: "publish",
        args: [
          {
            owner: session.account,
            kind,
            computeOnly,
            accessDuration: duration,
            contentDigest: digest,
            metadataCid,
            currency,
            price: priceValue,
            freePerAddress: free,
            splitRecipients: split.recipients,
            splitBps: split.bps,
          },
        ],
      },
      "the publication",
      status,
    );
    const [published] = parseEventLogs({ abi: assetRegistryAbi, eventName: "AssetPublished", logs: receipt.logs });
    if (!published) throw new Told(`Transaction ${receipt.transactionHash} published no asset.`);
    return published.args.assetId;
  }
}

/** An asset page's "Edit metadata", for its owner: a new version of the document, then `updateMetadata`. */
export function startMetadataPanel(panel: HTMLElement): void {
  const assetId = BigInt(panel.dataset["asset"] ?? "0");
  const owner = (panel.dataset["owner"] ?? "").toLowerCase();
  const form = panel.querySelector("form");
  const say = stateSetter(byId("edit-state"));
  const card = byId<HTMLTextAreaElement>("edit-card");
  const preview = byId("edit-preview");
  if (card && preview) startCardPreview(card, preview);
  let busy = false;

  const show = () => {
    panel.hidden = currentSession()?.account.toLowerCase() !== owner;
  };
  sessionEvents.addEventListener("change", show);
  show();

  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    update()
      .then(() => {
        say("The new version is on chain and indexed; reloading…", "done");
        window.location.reload();
      })
      .catch(async (err: unknown) => say(await explain(err), "error"))
      .finally(() => {
        busy = false;
      });
  });

  async function update(): Promise<void> {
    const session = requireSession();
    say("Writing the new version of the metadata document…");
    const written = await postJson<{ cid: string; contentDigest: Hex }>("/api/metadata", {
      assetId: assetId.toString(),
      name: value("edit-name"),
      description: value("edit-description"),
      license: value("edit-license").trim() || null,
      card: value("edit-card") || null,
      tags: tagsOf(value("edit-tags")),
    });
    await send(
      session,
      {
        address: session.deployment.contracts.assetRegistry,
        abi: assetRegistryAbi,
        functionName: "updateMetadata",
        args: [assetId, written.cid, written.contentDigest],
      },
      "the new version",
      say,
    );
  }
}
