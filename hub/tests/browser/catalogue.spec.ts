// The catalogue (`/`, `/assets`) over the live indexer: listing, search from the header, the kind
// filter, cursor pagination, sorting, the skip link, and what a first visit costs.
import { expect, test, type Page } from "@playwright/test";
import { axe, expectFitsPhone, follow, hubFixture, shoot, shootDark, watch } from "./helpers";

/** Most a first load of `/` may transfer, every request included. */
const MAX_FIRST_LOAD_BYTES = 200 * 1024;

/** The cards on the page: each asset's id and kind badge, in page order. */
async function cardsOf(page: Page): Promise<{ id: string; kind: string }[]> {
  return page.locator("ol#results li.card").evaluateAll((cards) =>
    cards.map((card) => ({
      id: card.getAttribute("data-asset-id") ?? "",
      kind: card.querySelector(".badge.kind")?.textContent?.trim() ?? "",
    })),
  );
}

/** Every card from the page open now to the last, following "Next page", with the cards on each page. */
async function walkPages(page: Page, pageSize: number, maxPages: number): Promise<{ id: string; kind: string }[][]> {
  const pages = [await cardsOf(page)];
  const next = page.locator("a[rel=next]");
  while ((await next.count()) > 0) {
    expect(pages.length, `more than ${maxPages} pages: the pager does not end`).toBeLessThan(maxPages);
    await follow(page, next);
    pages.push(await cardsOf(page));
  }
  for (const [i, cards] of pages.entries()) {
    expect(cards.length, `page ${i + 1} holds more cards than the page size`).toBeLessThanOrEqual(pageSize);
  }
  return pages;
}

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

test.describe("catalogue", () => {
  test("the front page lists the first page of assets and passes axe", async ({ page }) => {
    const { pageSize, assetCount } = hubFixture();
    const response = await page.goto("/");
    expect(response?.status()).toBe(200);
    await expect(page.locator("h1")).toHaveText("Catalogue");
    await expect(page.locator("ol#results li.card")).toHaveCount(Math.min(pageSize, assetCount));
    // Every card links to its own asset page.
    for (const card of await page.locator("ol#results li.card").all()) {
      const id = await card.getAttribute("data-asset-id");
      await expect(card.locator("h3 a")).toHaveAttribute("href", `/assets/${id}`);
    }
    await shoot(page, "catalogue");
    await shootDark(page, "catalogue");
    await expectFitsPhone(page);
    await axe(page);
  });

  test("searching from the header finds exactly the asset with that word", async ({ page }) => {
    const { search } = hubFixture();
    await page.goto("/");
    const box = page.locator("header.site form[role=search] input[name=q]");
    await box.fill(search.word);
    await Promise.all([page.waitForURL((url) => url.pathname === "/assets" && url.searchParams.get("q") === search.word), box.press("Enter")]);
    await expect(page.locator("h1")).toHaveText(`Results for “${search.word}”`);
    const cards = page.locator("ol#results li.card");
    await expect(cards).toHaveCount(1);
    await expect(cards).toHaveAttribute("data-asset-id", search.assetId);
    await expect(cards.locator("h3 a")).toHaveText(search.name);
    await shoot(page, "search");
    await expectFitsPhone(page);
    await axe(page);
  });

  test("following Next page until there is none visits every asset once", async ({ page }) => {
    const { pageSize, assetCount } = hubFixture();
    await page.goto("/");
    const pages = await walkPages(page, pageSize, assetCount + 2);
    const ids = pages.flat().map((card) => card.id);
    expect(new Set(ids).size, `an asset was listed twice: ${ids.join(", ")}`).toBe(ids.length);
    expect(ids).toHaveLength(assetCount);
    // Every page before the last is full (so there are as few pages as can be).
    for (const [i, cards] of pages.slice(0, -1).entries()) expect(cards.length, `page ${i + 1} of ${pages.length}`).toBe(pageSize);
  });

  test("the Models filter lists the models only, all of them, and marks itself current", async ({ page }) => {
    const { pageSize, assetCount } = hubFixture();
    await page.goto("/");
    const models = (await walkPages(page, pageSize, assetCount + 2))
      .flat()
      .filter((card) => card.kind === "model")
      .map((card) => card.id);
    expect(models.length, "the journeys publish at least one model").toBeGreaterThan(0);

    await page.goto("/");
    const filters = page.locator("nav[aria-label=Filters]");
    await expect(filters.getByRole("link", { name: "All", exact: true })).toHaveAttribute("aria-current", "true");
    const link = filters.getByRole("link", { name: /^Models \d+$/ });
    await follow(page, link);
    expect(new URL(page.url()).searchParams.get("kind")).toBe("model");
    await expect(page.locator("h1")).toHaveText("Models");
    await expect(link).toHaveAttribute("aria-current", "true");
    await expect(filters.getByRole("link", { name: "All", exact: true })).not.toHaveAttribute("aria-current");
    await expect(page.locator("ol#results li.card .badge.kind").first()).toBeVisible();
    const listed = (await walkPages(page, pageSize, assetCount + 2)).flat();
    expect(listed.map((card) => card.kind).filter((kind) => kind !== "model"), "kinds other than model").toEqual([]);
    expect(listed.map((card) => card.id).sort()).toEqual([...models].sort());
  });

  test("sorting by Oldest puts asset 1 first and the ids in ascending order", async ({ page }) => {
    await page.goto("/");
    await page.getByLabel("Sort by").selectOption({ label: "Oldest" });
    await Promise.all([
      page.waitForURL((url) => url.searchParams.get("sort") === "oldest"),
      page.locator("form.sort").getByRole("button", { name: "Apply" }).click(),
    ]);
    await expect(page.getByLabel("Sort by")).toHaveValue("oldest");
    const ids = (await cardsOf(page)).map((card) => BigInt(card.id));
    expect(ids[0]).toBe(1n);
    expect(ids, "oldest first means ascending ids").toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  test("Tab from the top reaches the skip link first, and it moves focus to the content", async ({ page }) => {
    await page.goto("/");
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    await expect(skip).toBeFocused();
    await expect(skip).toBeInViewport();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(/#content$/);
    await expect(page.locator("main#content")).toBeFocused();
    // The next Tab goes on inside the content, not back to the header.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.closest("main")?.id ?? null), "focus after the skip link").toBe("content");
  });

  test("every link on the front page leads to a page the hub serves", async ({ page, request }) => {
    await page.goto("/");
    const hrefs = await page.locator("a[href]").evaluateAll((links) => links.map((link) => link.getAttribute("href") ?? ""));
    const local = [...new Set(hrefs.filter((href) => href.startsWith("/")))];
    expect(local.length).toBeGreaterThan(0);
    const broken: string[] = [];
    for (const href of local) {
      const status = (await request.get(href)).status();
      if (status >= 400) broken.push(`${href} → ${status}`);
    }
    expect(broken, "links that lead nowhere").toEqual([]);
  });

  test("a first load of / stays under 200 KB and asks nothing of another host", async ({ page, baseURL }) => {
    const hub = new URL(baseURL ?? "").origin;
    const elsewhere: string[] = [];
    const bodies: Promise<number>[] = [];
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.protocol !== "data:" && url.origin !== hub) elsewhere.push(request.url());
    });
    // A redirect has no body to read.
    page.on("response", (response) => bodies.push(response.body().then((body) => body.length, () => 0)));
    const response = await page.goto("/", { waitUntil: "networkidle" });
    expect(response?.status()).toBe(200);
    const bytes = (await Promise.all(bodies)).reduce((sum, n) => sum + n, 0);
    expect(bodies.length, "the page made no requests at all").toBeGreaterThan(0);
    expect(bytes, `${bodies.length} responses`).toBeLessThanOrEqual(MAX_FIRST_LOAD_BYTES);
    // The browser's own count agrees that nothing else was fetched.
    const transferred = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((entry) => (entry as PerformanceResourceTiming).name),
    );
    expect(transferred.filter((name) => !name.startsWith("data:") && new URL(name).origin !== hub)).toEqual([]);
    expect(elsewhere).toEqual([]);
  });
});
