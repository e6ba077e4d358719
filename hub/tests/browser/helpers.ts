// What every browser spec uses: screenshots at a phone's and a desktop's width, an axe check, and
// for the hub specs the fixture of what the journeys made and a watch for a page's errors.
import AxeBuilder from "@axe-core/playwright";
import { expect, type Locator, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import path from "node:path";

/** Where `shoot` writes; the specs' screenshots are looked at by people, not compared. */
export const SCREENSHOTS = process.env["HUB_SCREENSHOTS"] ?? path.resolve(__dirname, "../../../target/hub-screenshots");

const WIDTHS = [375, 1280] as const;

/** Saves full-page screenshots of `page` at 375 px and 1280 px wide: `{name}-375.png`, `{name}-1280.png`. */
export async function shoot(page: Page, name: string): Promise<string[]> {
  const original = page.viewportSize() ?? { width: 1280, height: 720 };
  const files: string[] = [];
  try {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: original.height });
      const file = path.join(SCREENSHOTS, `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
      files.push(file);
    }
  } finally {
    await page.setViewportSize(original);
  }
  return files;
}

/**
 * The page in the dark theme (`prefers-color-scheme: dark`): axe's checks (contrast included) and
 * screenshots `{name}-dark-375.png`, `{name}-dark-1280.png`; the light theme is restored after.
 */
export async function shootDark(page: Page, name: string): Promise<string[]> {
  await page.emulateMedia({ colorScheme: "dark" });
  try {
    await axe(page);
    return await shoot(page, `${name}-dark`);
  } finally {
    await page.emulateMedia({ colorScheme: "light" });
  }
}

/** Runs axe on the page as it is now and fails listing every serious or critical violation. */
export async function axe(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.impact} ${violation.id}: ${violation.help} (${violation.helpUrl})\n` +
        violation.nodes.map((node) => `    at ${node.target.join(" ")}: ${node.failureSummary ?? ""}`).join("\n"),
    );
  expect(found, `axe found ${found.length} serious or critical violation(s) on ${page.url()}:\n${found.join("\n")}`).toEqual([]);
}

/** What the Rust test's journeys made, as it writes it to the file `$HUB_FIXTURE` names. */
export interface HubFixture {
  /** Assets per catalogue page (the hub's `page_size`). */
  pageSize: number;
  /** Assets the catalogue lists in all. */
  assetCount: number;
  /** An asset found by searching `word`; its name is `name`. */
  search: { word: string; assetId: string; name: string };
  /** The asset whose card is hostile Markdown (script, `javascript:` link, raw `<img>`, a remote image, deep quotes). */
  hostile: { assetId: string };
  /** A priced (so encrypted) asset and its usage as the indexer counts it. */
  asset: { assetId: string; sales: number; holders: number; orders: number; jobs: number; versions: number };
  /** A proposal and its tally, decimal uint256s read from the Governor. */
  proposal: { proposalId: string; for: string; against: string; abstain: string };
  /** A job with a posted result and a receipt. */
  job: { jobId: string };
  /** What a job run from the page uses: the MiniLM model (free) and the provider (lowercase). */
  compute: { modelId: string; provider: string };
  /** The publisher's address, lowercase. */
  owner: string;
  /** What the publish spec publishes (the Rust test finds the assets by name and reads the content back) and the hub's upload limit in bytes. */
  browserPublish: { name: string; modelName: string; maxUpload: number; content: string };
  /** The browser's test wallet: anvil's RPC, the dev account it signs as, the deployment's chain. */
  wallet: { rpcUrl: string; account: string; chainId: number };
  /** An asset sold in ETH (the priced dataset): its digest on chain and its content. */
  eth: { assetId: string; digest: string; content: string };
  /** An asset sold in an EIP-2612 stablecoin, which the wallet's account holds. */
  usd: { assetId: string; token: string };
  /** A free asset of several MiB whose orders last an hour: a download to cut off and resume. */
  large: { assetId: string; size: number; digest: string };
}

/** Every field of {@link HubFixture}, by path, with its type. */
const FIXTURE_FIELDS: [string, "number" | "string"][] = [
  ["pageSize", "number"],
  ["assetCount", "number"],
  ["search.word", "string"],
  ["search.assetId", "string"],
  ["search.name", "string"],
  ["hostile.assetId", "string"],
  ["asset.assetId", "string"],
  ["asset.sales", "number"],
  ["asset.holders", "number"],
  ["asset.orders", "number"],
  ["asset.jobs", "number"],
  ["asset.versions", "number"],
  ["proposal.proposalId", "string"],
  ["proposal.for", "string"],
  ["proposal.against", "string"],
  ["proposal.abstain", "string"],
  ["job.jobId", "string"],
  ["compute.modelId", "string"],
  ["compute.provider", "string"],
  ["owner", "string"],
  ["wallet.rpcUrl", "string"],
  ["wallet.account", "string"],
  ["wallet.chainId", "number"],
  ["eth.assetId", "string"],
  ["eth.digest", "string"],
  ["eth.content", "string"],
  ["usd.assetId", "string"],
  ["usd.token", "string"],
  ["large.assetId", "string"],
  ["large.size", "number"],
  ["large.digest", "string"],
  ["browserPublish.name", "string"],
  ["browserPublish.modelName", "string"],
  ["browserPublish.maxUpload", "number"],
  ["browserPublish.content", "string"],
];

let fixtureRead: HubFixture | undefined;

/**
 * The fixture `$HUB_FIXTURE` names, read once. Throws saying what is wrong when the variable is
 * unset, the file unreadable or not JSON, or a field missing or of the wrong type.
 */
export function hubFixture(): HubFixture {
  if (fixtureRead) return fixtureRead;
  const file = process.env["HUB_FIXTURE"];
  if (!file) {
    throw new Error("HUB_FIXTURE is not set: the hub specs need the JSON file of what the journeys made (tests/hub.rs writes it)");
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`HUB_FIXTURE=${file} cannot be read: ${String(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`HUB_FIXTURE=${file} is not JSON: ${String(error)}`);
  }
  const wrong = FIXTURE_FIELDS.flatMap(([field, type]) => {
    const found = field.split(".").reduce<unknown>((at, key) => (typeof at === "object" && at !== null ? (at as Record<string, unknown>)[key] : undefined), value);
    const ok = type === "number" ? typeof found === "number" && Number.isSafeInteger(found) && found >= 0 : typeof found === "string" && found !== "";
    return ok ? [] : [`${field} should be a ${type === "number" ? "whole number" : "non-empty string"}, is ${JSON.stringify(found)}`];
  });
  if (wrong.length > 0) throw new Error(`HUB_FIXTURE=${file} is not what the specs expect:\n  ${wrong.join("\n  ")}`);
  fixtureRead = value as HubFixture;
  return fixtureRead;
}

/** `$HUB_DOWN_URL`: a hub whose indexer is unreachable. */
export function hubDownURL(): string {
  const url = process.env["HUB_DOWN_URL"];
  if (!url) throw new Error("HUB_DOWN_URL is not set: point it at a hub whose indexer is unreachable");
  return url.replace(/\/+$/, "");
}

/**
 * Collects what would show a page is broken: console errors and warnings (a CSP violation is
 * one), uncaught exceptions, and dialogs (dismissed, so the page goes on). Check
 * `problems` at the end of the test. Chromium's "Failed to load resource" for a document
 * served with an error status is expected on error pages and left out when `errorStatusOk`.
 */
export function watch(page: Page, { errorStatusOk = false } = {}): { problems: string[] } {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() !== "error" && message.type() !== "warning") return;
    if (errorStatusOk && /^Failed to load resource: the server responded with a status of [45]\d\d/.test(message.text())) return;
    problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`a ${dialog.type()} dialog opened: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { problems };
}

/** Clicks `link` and waits until the page it points to has loaded. */
export async function follow(page: Page, link: Locator): Promise<void> {
  const href = await link.getAttribute("href");
  if (href === null) throw new Error(`${link} has no href`);
  const target = new URL(href, page.url()).href;
  await Promise.all([page.waitForURL(target), link.click()]);
}

/**
 * Fails when the page at a phone's 375 px is wider than the screen (it would scroll sideways),
 * naming the elements that stick out.
 */
export async function expectFitsPhone(page: Page): Promise<void> {
  const original = page.viewportSize() ?? { width: 1280, height: 720 };
  try {
    await page.setViewportSize({ width: WIDTHS[0], height: original.height });
    const { scrollWidth, clientWidth, culprits } = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const clipped = (element: Element) => {
        for (let at = element.parentElement; at && at !== document.body; at = at.parentElement) {
          if (getComputedStyle(at).overflowX !== "visible") return true;
        }
        return false;
      };
      const sticksOut = (element: Element) => element.getBoundingClientRect().right > width + 0.5 && !clipped(element);
      const culprits = Array.from(document.body.querySelectorAll("*"))
        .filter((element) => sticksOut(element) && !Array.from(element.children).some(sticksOut))
        .slice(0, 5)
        .map((element) => {
          const id = element.id ? `#${element.id}` : "";
          const classes = Array.from(element.classList, (name) => `.${name}`).join("");
          const within = element.parentElement?.closest("[id]");
          const where = within && within !== document.body ? ` in ${within.tagName.toLowerCase()}#${within.id}` : "";
          return `${element.tagName.toLowerCase()}${id}${classes}${where} (right edge ${Math.round(element.getBoundingClientRect().right)} px)`;
        });
      return { scrollWidth: document.documentElement.scrollWidth, clientWidth: width, culprits };
    });
    expect(scrollWidth, `${page.url()} is wider than ${clientWidth} px; sticking out: ${culprits.join(", ") || "?"}`).toBeLessThanOrEqual(clientWidth);
  } finally {
    await page.setViewportSize(original);
  }
}
