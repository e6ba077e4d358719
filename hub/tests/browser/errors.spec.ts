// Error pages: an unknown asset and an unknown path are 404s that offer a search, and a hub whose
// indexer is down answers 503 naming the indexer, on every page that needs it.
import { expect, test } from "@playwright/test";
import { axe, expectFitsPhone, hubDownURL, shoot, watch } from "./helpers";

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  // The document itself comes with an error status here; Chromium logs that, and only that is fine.
  watched = watch(page, { errorStatusOk: true });
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

test.describe("not found", () => {
  test("an unknown asset is a 404 page with a search box", async ({ page }) => {
    const response = await page.goto("/assets/999999");
    expect(response?.status()).toBe(404);
    expect(await page.title()).toContain("Not found");
    await expect(page.locator("h1")).toHaveText("Not found");
    const search = page.locator("main form[role=search]");
    await expect(search).toBeVisible();
    await expect(search.locator("input[name=q]")).toBeVisible();
    await expect(search).toHaveAttribute("action", "/assets");
    await shoot(page, "not-found");
    await expectFitsPhone(page);
    await axe(page);
  });

  test("an unknown path is a 404 page", async ({ page }) => {
    const response = await page.goto("/no/such/page");
    expect(response?.status()).toBe(404);
    expect(await page.title()).toContain("Not found");
    await expect(page.locator("main form[role=search]")).toBeVisible();
  });
});

test.describe("indexer down", () => {
  test("the front page is a 503 that names the indexer as unreachable", async ({ page }) => {
    const response = await page.goto(`${hubDownURL()}/`);
    expect(response?.status()).toBe(503);
    await expect(page.locator("h1")).toHaveText("The indexer is unreachable");
    const why = page.locator("main p.unavailable[data-service=indexer]");
    await expect(why).toBeVisible();
    await expect(why).toContainText("could not reach the indexer at");
    // It names where it looked, not the request it made.
    await expect(why.locator("code")).toHaveText(/^https?:\/\/[^/]+$/);
    await shoot(page, "indexer-down");
    await expectFitsPhone(page);
    await axe(page);
  });

  test("every page that reads the indexer says the same", async ({ request }) => {
    for (const path of ["/assets?q=anything", "/assets/1", "/accounts/0x0000000000000000000000000000000000000001", "/dao", "/dao/proposals/1", "/providers", "/jobs", "/jobs/1"]) {
      const response = await request.get(`${hubDownURL()}${path}`);
      expect(response.status(), path).toBe(503);
      expect(await response.text(), path).toContain('data-service="indexer"');
    }
    // What needs no indexer still works.
    expect((await request.get(`${hubDownURL()}/health`)).status()).toBe(200);
    expect((await request.get(`${hubDownURL()}/static/hub.css`)).status()).toBe(200);
  });
});
