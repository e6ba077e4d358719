// Asset pages over the live indexer: an ordinary asset's head, usage and versions, and an asset
// whose card is hostile Markdown, which must run nothing and fetch nothing until asked.
import { expect, test } from "@playwright/test";
import { axe, expectFitsPhone, hubFixture, shoot, shootDark, watch } from "./helpers";

/** A 1×1 transparent PNG: what "img.example" serves here, so no test needs the network. */
const PIXEL = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
const REMOTE_IMAGE = "https://img.example/finch.png";
/** The card renderer's deepest nesting (hub/src/markdown.rs `MAX_DEPTH`); the card asks for 1000. */
const MAX_DEPTH = 16;

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

test.describe("asset page", () => {
  test("names the asset in its heading, title and Open Graph tags", async ({ page }) => {
    const { search } = hubFixture();
    const response = await page.goto(`/assets/${search.assetId}`);
    expect(response?.status()).toBe(200);
    await expect(page.locator("h1")).toHaveText(search.name);
    expect(await page.title()).toContain(search.name);
    await expect(page.locator('meta[property="og:title"]')).toHaveAttribute("content", new RegExp(escapeRegExp(search.name)));
    await expect(page.locator('meta[property="og:description"]')).toHaveAttribute("content", /\S/);
  });

  test("shows the usage, the versions and the encrypted badge the chain and indexer record", async ({ page }) => {
    const { asset } = hubFixture();
    await page.goto(`/assets/${asset.assetId}`);
    const usage = page.locator("#usage");
    await expect(usage.locator("dd[data-count=sales]")).toHaveText(String(asset.sales));
    await expect(usage.locator("dd[data-count=holders]")).toHaveText(String(asset.holders));
    await expect(usage.locator("dd[data-count=orders]")).toHaveText(String(asset.orders));
    await expect(usage.locator("dd[data-count=jobs]")).toHaveText(String(asset.jobs));
    await expect(page.locator("#versions tr[data-version]")).toHaveCount(asset.versions);
    await expect(page.locator("#versions h2")).toHaveText(`Versions (${asset.versions})`);
    // The first version published the asset.
    await expect(page.locator('#versions tr[data-version="1"] td').nth(2)).toHaveText("published");
    await expect(page.locator("#sales tbody tr")).toHaveCount(asset.sales);
    await expect(page.locator("header.asset-head .badge.locked")).toHaveText("encrypted");
    await shoot(page, "asset");
    await shootDark(page, "asset");
    await expectFitsPhone(page);
    await axe(page);
  });
});

test.describe("asset page with a hostile card", () => {
  test("runs no script, loads no image until asked, and links nowhere unsafe", async ({ page }) => {
    const { hostile } = hubFixture();
    const imageRequests: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).hostname === "img.example") imageRequests.push(request.url());
    });
    await page.route("https://img.example/**", (route) => route.fulfill({ status: 200, contentType: "image/png", body: PIXEL }));

    const response = await page.goto(`/assets/${hostile.assetId}`, { waitUntil: "networkidle" });
    expect(response?.status()).toBe(200);
    const card = page.locator("#card");
    await expect(card).toBeVisible();
    // The raw HTML is shown as text, never as markup.
    await expect(card).toContainText("<script>alert('card')</script>");
    await expect(card).toContainText("<img src=x onerror=alert(1)>");
    await expect(card.locator("script")).toHaveCount(0);
    await expect(card.locator("img")).toHaveCount(0);
    await expect(page.locator('a[href^="javascript:" i]')).toHaveCount(0);
    // The link text stays, its script URL does not.
    await expect(card.getByText("click", { exact: true })).toHaveCount(1);
    // 1000 nested quotes are flattened.
    const depth = await card.evaluate((root) => {
      let deepest = 0;
      for (const quote of root.querySelectorAll("blockquote")) {
        let d = 0;
        for (let at: Element | null = quote; at && at !== root; at = at.parentElement) if (at.tagName === "BLOCKQUOTE") d += 1;
        deepest = Math.max(deepest, d);
      }
      return deepest;
    });
    expect(depth).toBeGreaterThan(0);
    expect(depth).toBeLessThanOrEqual(MAX_DEPTH);

    const reveal = card.locator("button[data-reveal-image]");
    await expect(reveal).toHaveCount(1);
    await expect(reveal).toHaveAttribute("data-src", REMOTE_IMAGE);
    await expect(reveal).toHaveAccessibleName("Show image “finch” from img.example");
    expect(imageRequests, "the page fetched the remote image before it was asked to").toEqual([]);
    await shoot(page, "asset-hostile");
    await axe(page);

    await reveal.click();
    const image = card.getByRole("img", { name: "finch" });
    await expect(image).toHaveAttribute("src", REMOTE_IMAGE);
    await expect.poll(() => image.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth)).toBe(1);
    await expect(reveal).toHaveCount(0);
    expect(imageRequests).toEqual([REMOTE_IMAGE]);
    // Checked last, so what the card must not do is checked whatever its layout.
    await expectFitsPhone(page);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
