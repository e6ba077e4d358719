// Proves the browser tooling before the real pages exist: Chromium starts, both bundles load on
// the fixture job page without console errors, their behaviours work, screenshots are written and
// axe runs. Run by ./scripts/test-hub-js.sh, which builds the bundles and serves fixtures/.
import { expect, test, type Page } from "@playwright/test";
import { existsSync } from "node:fs";
import { axe, shoot } from "./helpers";

const JOB_PAGE = "/job.html";
const MODEL_CID = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const RESULT_CID = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";
const OUTPUT_HASH = "0x78ced64a79b4b50d9e4773b3c744e2b3dfe87a4bb8e5c5f80884d869038c3b2a";

/** The hub's `/jobs/{id}/events` stream as the server sends it: two updates, then `done`. */
function jobEvents(): string {
  const update = (status: string, statusLabel: string, done: boolean) =>
    `event: job\ndata: ${JSON.stringify({
      status,
      statusLabel,
      resultCid: done ? RESULT_CID : null,
      outputHash: done ? OUTPUT_HASH : null,
      updatedBlock: done ? 12 : 11,
    })}\n\n`;
  return `retry: 2000\n\n${update("running", "Running", false)}${update("completed", "Completed", true)}event: done\ndata: {}\n\n`;
}

let problems: string[];
let eventStreams: number;

test.beforeEach(async ({ page }) => {
  problems = [];
  eventStreams = 0;
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  // The static server has no event stream; answer it the way the hub does.
  await page.route("**/jobs/7/events", (route) => {
    eventStreams += 1;
    return route.fulfill({ status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" }, body: jobEvents() });
  });
});

test.afterEach(() => {
  expect(problems, "the page logged errors").toEqual([]);
});

async function openJobPage(page: Page): Promise<void> {
  const response = await page.goto(JOB_PAGE);
  expect(response?.status()).toBe(200);
}

test("the job page loads both bundles, checks its receipt, and passes axe", async ({ page }) => {
  await openJobPage(page);
  const check = page.locator("#receipt-check");
  await expect(check).toHaveAttribute("data-result", "valid");
  await expect(check).toHaveText(
    "✓ Signed by 0x9B66ac7E58c0b60Eb575BaE511fD896Aee1AFe3b (the job's provider); output hash matches the chain",
  );
  await axe(page);
  const files = await shoot(page, "smoke-job");
  for (const file of files) expect(existsSync(file), file).toBe(true);
});

test("live updates rewrite the job's status, result and output hash, then stop", async ({ page }) => {
  await openJobPage(page);
  await expect(page.locator("#job-status")).toHaveText("Completed");
  await expect(page.locator("#job-status")).toHaveAttribute("data-status", "completed");
  await expect(page.locator("#job-result-cid")).toHaveText(RESULT_CID);
  await expect(page.locator("#job-output-hash")).toHaveText(OUTPUT_HASH);
  // The stream ended after `done`; had the page not closed it, the browser would reconnect after
  // the server's `retry: 2000`.
  await page.waitForTimeout(2500);
  expect(eventStreams).toBe(1);
});

test("a copy button copies its value and says so for a moment", async ({ page, context, baseURL }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(baseURL ?? "").origin });
  await openJobPage(page);
  const button = page.getByRole("button", { name: "Copy CID" });
  await button.click();
  await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(MODEL_CID);
  await expect(page.getByRole("status").filter({ hasText: "Copied" })).toHaveCount(1);
  // Back to its own label (with its markup) after 1.5 s.
  await expect(button).toBeVisible({ timeout: 3000 });
  await expect(button.locator("span")).toHaveText("CID");
});

test("a remote image loads only when asked for", async ({ page }) => {
  await openJobPage(page);
  await expect(page.getByRole("img")).toHaveCount(0);
  await page.getByRole("button", { name: "Show remote image from example.org" }).click();
  await expect(page.getByRole("img", { name: "A red rectangle" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Show remote image from example.org" })).toHaveCount(0);
});

test("a tampered or malformed receipt is reported, and a restored one passes again", async ({ page }) => {
  await openJobPage(page);
  const check = page.locator("#receipt-check");
  const verify = page.getByRole("button", { name: "Verify receipt" });
  await expect(check).toHaveAttribute("data-result", "valid");
  const original = await page.locator("#receipt-json").textContent();

  const tamper = (edit: string) =>
    page.evaluate((edit) => {
      const script = document.getElementById("receipt-json");
      if (!script) throw new Error("no #receipt-json");
      const signed = JSON.parse(script.textContent ?? "");
      if (edit === "outputCid") signed.receipt.outputCid = "bafy-someone-elses-output";
      if (edit === "outputHash") signed.receipt.outputHash = `0x${"11".repeat(32)}`;
      if (edit === "inputCids") signed.inputCids.reverse();
      script.textContent = edit === "garbage" ? "{not json" : JSON.stringify(signed);
    }, edit);

  await tamper("outputCid");
  await verify.click();
  await expect(check).toHaveAttribute("data-result", "invalid");
  await expect(check).toHaveText(/^✗ The receipt is signed by 0x[0-9a-fA-F]{40}, not by the job's provider\.$/);
  await shoot(page, "smoke-job-tampered");

  await page.locator("#receipt-json").evaluate((script, text) => (script.textContent = text), original);
  await tamper("outputHash");
  await verify.click();
  await expect(check).toHaveText("✗ The receipt's output hash differs from the one posted on chain.");

  await page.locator("#receipt-json").evaluate((script, text) => (script.textContent = text), original);
  await tamper("inputCids");
  await verify.click();
  await expect(check).toHaveText("✗ The receipt's inputs hash does not match its input CIDs.");

  await tamper("garbage");
  await verify.click();
  await expect(check).toHaveText("✗ The receipt on this page is not valid JSON.");
  await expect(check).toHaveAttribute("data-result", "invalid");

  await page.locator("#receipt-json").evaluate((script, text) => (script.textContent = text), original);
  await verify.click();
  await expect(check).toHaveAttribute("data-result", "valid");
});
