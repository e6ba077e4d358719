// Compute pages over the live stack: a finished job whose provider's signed receipt the page
// checks in the browser (and catches when tampered with), and the providers with their health.
import { expect, test, type Page } from "@playwright/test";
import { axe, expectFitsPhone, follow, hubFixture, shoot, shootDark, watch } from "./helpers";

/** Changes the last hex digit of `receipt.outputHash` in the page's receipt JSON; returns the text it had. */
async function tamperOutputHash(page: Page): Promise<string> {
  return page.locator("#receipt-json").evaluate((script) => {
    const original = script.textContent ?? "";
    const signed = JSON.parse(original) as { receipt: { outputHash: string } };
    const hash = signed.receipt.outputHash;
    signed.receipt.outputHash = hash.slice(0, -1) + (hash.endsWith("0") ? "1" : "0");
    script.textContent = JSON.stringify(signed);
    return original;
  });
}

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

test.describe("job page", () => {
  test("checks the provider's receipt in the page, catches a tampered one, and passes a restored one", async ({ page }) => {
    const { job } = hubFixture();
    const response = await page.goto(`/jobs/${job.jobId}`);
    expect(response?.status()).toBe(200);
    await expect(page.locator("h1")).toHaveText(`Job ${job.jobId}`);
    const section = page.locator("section#receipt");
    await expect(section).toHaveAttribute("data-job-id", job.jobId);
    const provider = (await section.getAttribute("data-provider")) ?? "";
    expect(provider).toMatch(/^0x[0-9a-f]{40}$/);
    // The output hash the page compares with is the one it shows from the chain.
    await expect(section).toHaveAttribute("data-output-hash", (await page.locator("#job-output-hash").textContent())?.trim() ?? "");

    const check = page.locator("#receipt-check");
    await expect(check).toHaveAttribute("data-result", "valid", { timeout: 10_000 });
    await expect(check).toHaveText(/^✓ Signed by 0x[0-9a-fA-F]{40} \(the job's provider\)/);
    const signer = (await check.textContent())?.match(/0x[0-9a-fA-F]{40}/)?.[0] ?? "";
    expect(signer.toLowerCase(), "the signer named is the job's provider").toBe(provider);
    await shoot(page, "job");
    await shootDark(page, "job");
    await axe(page);

    const original = await tamperOutputHash(page);
    await page.locator("#verify-receipt").click();
    await expect(check).toHaveAttribute("data-result", "invalid");
    await expect(check).toHaveText("✗ The receipt's output hash differs from the one posted on chain.");
    await shoot(page, "job-tampered");

    await page.locator("#receipt-json").evaluate((script, text) => (script.textContent = text), original);
    await page.locator("#verify-receipt").click();
    await expect(check).toHaveAttribute("data-result", "valid");
    await expect(check).toHaveText(/^✓ /);
    // Checked last, so the receipt check is tested whatever its layout.
    await expectFitsPhone(page);
  });
});

test.describe("providers", () => {
  test("/providers lists a provider whose page shows its health", async ({ page }) => {
    const response = await page.goto("/providers");
    expect(response?.status()).toBe(200);
    const rows = page.locator("table#providers tbody tr[data-provider]");
    expect(await rows.count(), "no provider is listed").toBeGreaterThan(0);
    const address = (await rows.first().getAttribute("data-provider")) ?? "";
    expect(address).toMatch(/^0x[0-9a-f]{40}$/);
    await shoot(page, "providers");
    await expectFitsPhone(page);
    await axe(page);

    await follow(page, rows.first().getByRole("link"));
    expect(new URL(page.url()).pathname).toBe(`/providers/${address}`);
    const health = page.locator("[data-health]");
    await expect(health).toHaveCount(1);
    // The stack's provider runs, so it answers its health check.
    await expect(health).toHaveAttribute("data-health", "up");
    await expect(health.locator(".badge")).toHaveText("up");
    await axe(page);
  });
});
