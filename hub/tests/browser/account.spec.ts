// The account page over the live indexer: what the publisher owns.
import { expect, test } from "@playwright/test";
import { axe, expectFitsPhone, hubFixture, shoot, shootDark, watch } from "./helpers";

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

test.describe("account page", () => {
  test("the publisher's page lists the assets it owns", async ({ page }) => {
    const { owner } = hubFixture();
    const response = await page.goto(`/accounts/${owner}`);
    expect(response?.status()).toBe(200);
    // The address in full, with its copy button.
    await expect(page.locator("header.account-head .hash code")).toHaveText(owner);
    const cards = page.locator("#owned li.card");
    const count = await cards.count();
    expect(count, "the publisher owns no listed asset").toBeGreaterThan(0);
    await expect(page.locator("#owned h2")).toHaveText(new RegExp(`^Assets owned \\((\\d+)\\)$`));
    const total = Number((await page.locator("#owned h2").textContent())?.match(/\((\d+)\)/)?.[1]);
    expect(total).toBeGreaterThanOrEqual(count);
    // Every card is the publisher's and links to its page.
    for (const card of await cards.all()) {
      const id = await card.getAttribute("data-asset-id");
      await expect(card.locator("h3 a")).toHaveAttribute("href", `/assets/${id}`);
      await expect(card.locator("p.meta code")).toHaveText(`${owner.slice(0, 6)}…${owner.slice(-4)}`);
    }
    await shoot(page, "account");
    await shootDark(page, "account");
    await expectFitsPhone(page);
    await axe(page);
  });
});
