// The DAO pages over the live indexer: the proposal list, and a proposal's tally, state and votes,
// which must agree with what the Governor says on chain.
import { expect, test, type Locator } from "@playwright/test";
import { axe, expectFitsPhone, follow, hubFixture, shoot, shootDark, watch } from "./helpers";

/** Every state the hub can show a proposal in (hub/src/dao.rs `state`). */
const STATES = ["pending", "active", "succeeded", "defeated", "queued", "executed", "canceled"];

/** A decimal uint256 of 18-decimal base units as the hub writes it: `1500000000000000000` → `1.5`. */
function units(raw: string): string {
  const padded = BigInt(raw).toString().padStart(19, "0");
  const whole = padded.slice(0, -18);
  const fraction = padded.slice(-18).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** Checks a tally (`div.tally`) against the fixture's votes: raw numbers and their display. */
async function expectTally(tally: Locator, votes: { for: string; against: string; abstain: string }): Promise<void> {
  for (const side of ["for", "against", "abstain"] as const) {
    const dd = tally.locator(`dd[data-votes=${side}]`);
    await expect(dd).toHaveAttribute("data-raw", votes[side]);
    await expect(dd).toHaveText(units(votes[side]));
  }
}

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

test.describe("DAO", () => {
  test("/dao lists the proposal with its state and tally", async ({ page }) => {
    const { proposal } = hubFixture();
    const response = await page.goto("/dao");
    expect(response?.status()).toBe(200);
    const item = page.locator(`li[data-proposal-id="${proposal.proposalId}"]`);
    await expect(item).toHaveCount(1);
    await expect(item.getByRole("link")).toHaveAttribute("href", `/dao/proposals/${proposal.proposalId}`);
    const state = (await item.locator(".badge.state").textContent())?.trim() ?? "";
    expect(STATES).toContain(state);
    await expectTally(item.locator("div.tally"), proposal);
    await shoot(page, "dao");
    await expectFitsPhone(page);
    await axe(page);
  });

  test("a proposal's page shows the chain's tally, a known state and who voted", async ({ page }) => {
    const { proposal } = hubFixture();
    await page.goto("/dao");
    await follow(page, page.locator(`li[data-proposal-id="${proposal.proposalId}"] a`));
    // The page's own heading (the description below may hold headings of its own).
    await expect(page.locator("main > h1")).not.toBeEmpty();
    await expectTally(page.locator("aside div.tally"), proposal);

    const badge = page.locator("[data-state]");
    await expect(badge).toHaveCount(1);
    const state = (await badge.getAttribute("data-state")) ?? "";
    expect(STATES).toContain(state);
    await expect(badge).toHaveText(state);

    const votes = page.locator("#voters tbody tr");
    expect(await votes.count(), "the votes table lists no voter").toBeGreaterThan(0);
    // Each row names its voter by a link to the voter's account.
    for (const row of await votes.all()) {
      await expect(row.locator("td").first().getByRole("link")).toHaveAttribute("href", /^\/accounts\/0x[0-9a-f]{40}$/);
      expect(["for", "against", "abstain"]).toContain((await row.locator("td").nth(1).textContent())?.trim());
    }
    if (BigInt(proposal.for) > 0n) await expect(votes.filter({ has: page.locator("td:nth-child(2)", { hasText: /^for$/ }) })).not.toHaveCount(0);
    await expect(page.locator("#voters h2")).toHaveText(`Votes (${await votes.count()})`);
    await shoot(page, "proposal");
    await shootDark(page, "proposal");
    await expectFitsPhone(page);
    await axe(page);
  });
});
