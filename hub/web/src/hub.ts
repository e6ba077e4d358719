// The script every hub page loads. The pages work without it; it adds copy buttons, live job
// updates, click-to-load remote images and the "Connect wallet" button. It must stay a few KB:
// anything heavy goes into a per-page module (receipt.ts) or is loaded when asked for (wallet.ts).

/** How long a copy button says "Copied" before it shows its label again. */
const COPIED_MS = 1500;

/** One polite live region for every copy button, so screen readers hear "Copied" once. */
let announcer: HTMLElement | undefined;

function announce(text: string): void {
  if (!announcer) {
    announcer = document.createElement("span");
    announcer.setAttribute("role", "status");
    announcer.setAttribute("aria-live", "polite");
    // Visually hidden but read out (the usual "sr-only" rules, inline so no CSS is needed).
    announcer.style.cssText =
      "position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;" +
      "clip:rect(0,0,0,0);white-space:nowrap;border:0";
    document.body.append(announcer);
  }
  // Clear first so the same text twice in a row is announced again.
  announcer.textContent = "";
  const region = announcer;
  setTimeout(() => (region.textContent = text), 50);
}

const restoreTimers = new WeakMap<HTMLButtonElement, number>();
const labels = new WeakMap<HTMLButtonElement, Node[]>();

async function copy(button: HTMLButtonElement, text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard (insecure origin, denied permission): the value stays visible on the page.
    announce("Could not copy");
    return;
  }
  if (!labels.has(button)) labels.set(button, Array.from(button.childNodes));
  clearTimeout(restoreTimers.get(button));
  button.textContent = "Copied";
  announce("Copied");
  restoreTimers.set(
    button,
    window.setTimeout(() => {
      button.replaceChildren(...(labels.get(button) ?? []));
      labels.delete(button);
    }, COPIED_MS),
  );
}

function revealImage(button: HTMLButtonElement): void {
  const img = document.createElement("img");
  img.src = button.dataset["src"] ?? "";
  img.alt = button.dataset["alt"] ?? "";
  button.replaceWith(img);
}

document.addEventListener("click", (event) => {
  const target = event.target;
  if (!(target instanceof Element)) return;
  const copyButton = target.closest<HTMLButtonElement>("button[data-copy]");
  if (copyButton) {
    void copy(copyButton, copyButton.dataset["copy"] ?? "");
    return;
  }
  const imageButton = target.closest<HTMLButtonElement>("button[data-reveal-image]");
  if (imageButton) revealImage(imageButton);
});

/** The `job` event's data, as the hub's `/jobs/{id}/events` stream sends it. */
interface JobUpdate {
  status: string;
  statusLabel: string;
  resultCid: string | null;
  outputHash: string | null;
  updatedBlock: number;
}

function setText(id: string, text: string | null | undefined): void {
  const element = document.getElementById(id);
  if (element && typeof text === "string") element.textContent = text;
}

function followJob(jobId: string): void {
  // The browser reconnects on its own (the server sends `retry:`); there is no polling.
  const source = new EventSource(`/jobs/${encodeURIComponent(jobId)}/events`);
  source.addEventListener("job", (event) => {
    let update: JobUpdate;
    try {
      update = JSON.parse((event as MessageEvent<string>).data) as JobUpdate;
    } catch {
      return;
    }
    setText("job-status", update.statusLabel);
    document.getElementById("job-status")?.setAttribute("data-status", String(update.status));
    setText("job-result-cid", update.resultCid);
    setText("job-output-hash", update.outputHash);
  });
  source.addEventListener("done", () => source.close());
}

/** What a provider's job event stream (`GET /v1/jobs/{id}`, `text/event-stream`) sends. */
interface ProviderJobState {
  status: string;
  reason: string | null;
  progress: { phase: string; done: number; total: number } | null;
}

/** Shows the job's progress at its provider (section `#job-progress`) until the provider ends it. */
function followProvider(section: HTMLElement): void {
  const endpoint = section.dataset["endpoint"];
  const jobId = section.dataset["jobId"];
  if (!endpoint || !jobId) return;
  const text = document.getElementById("job-progress-text");
  const bar = document.getElementById("job-progress-bar") as HTMLProgressElement | null;
  // EventSource asks with `Accept: text/event-stream`; the provider answers any origin.
  const source = new EventSource(`${endpoint}/v1/jobs/${encodeURIComponent(jobId)}`);
  source.addEventListener("status", (event) => {
    let state: ProviderJobState;
    try {
      state = JSON.parse((event as MessageEvent<string>).data) as ProviderJobState;
    } catch {
      return;
    }
    section.hidden = false;
    section.dataset["status"] = state.status;
    const phase = state.progress ? ` — ${state.progress.phase.replace(/_/g, " ")} ${state.progress.done} of ${state.progress.total}` : "";
    const status = state.status.charAt(0).toUpperCase() + state.status.slice(1);
    if (text) text.textContent = `${status}${phase}${state.reason ? `: ${state.reason}` : ""}`;
    if (bar) {
      const done = state.status === "succeeded";
      bar.max = done ? 1 : Math.max(state.progress?.total ?? 1, 1);
      bar.value = done ? 1 : (state.progress?.done ?? 0);
    }
    if (!["queued", "running"].includes(state.status)) source.close();
  });
  // A provider that does not know the job (not sent to it yet) or is down: nothing to show.
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && section.dataset["status"] === undefined) section.hidden = true;
  });
}

const liveJob = document.querySelector<HTMLElement>("main[data-live-job]")?.dataset["liveJob"];
if (liveJob) followJob(liveJob);
const providerProgress = document.getElementById("job-progress");
if (providerProgress) followProvider(providerProgress);

/** Where the wallet script is (the widget's `data-script`); null when the page has no widget. */
const walletRoot = document.getElementById("wallet");
const walletScript = walletRoot?.dataset["script"];
const walletLoaded = () => document.querySelector(`script[src="${walletScript}"]`) !== null;

if (walletRoot && walletScript && !walletLoaded()) {
  if (localStorage.getItem("agora:wallet")) {
    // A wallet connected on an earlier page: reconnect it (without a prompt).
    void import(walletScript);
  } else {
    const connect = document.createElement("button");
    connect.type = "button";
    connect.textContent = "Connect wallet";
    connect.dataset["walletConnect"] = "";
    connect.addEventListener("click", () => {
      window.agoraConnectOnLoad = true;
      connect.disabled = true;
      void import(walletScript);
    });
    walletRoot.replaceChildren(connect);
  }
}
