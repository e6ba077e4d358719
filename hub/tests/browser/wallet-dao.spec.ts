// The DAO from the page with the test wallet (test-wallet.ts, over the real anvil): delegate to
// yourself, propose a fee change from the form (its call shown decoded first), vote with a reason,
// queue and execute it, and read the new fee on chain. A fee above the marketplace's cap is
// refused by the form before anything is signed.
import { expect, test, type Page } from "@playwright/test";
import { type Address, createPublicClient, getAddress, http } from "viem";

import { marketplaceAbi } from "../../web/generated/abi";
import { axe, hubFixture, shoot, watch } from "./helpers";
import { installTestWallet } from "./test-wallet";

test.setTimeout(120_000);

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

/** Anvil's own methods: mine blocks, move the clock. */
async function anvil(method: string, params: unknown[]): Promise<void> {
  const response = await fetch(hubFixture().wallet.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
}

async function marketplace(page: Page): Promise<Address> {
  const status = (await (await page.request.get("/api/status")).json()) as { contracts: { marketplace: Address } };
  return getAddress(status.contracts.marketplace);
}

test("delegate, propose a fee change, vote, queue and execute it from the page; the fee changes on chain", async ({ page }) => {
  const { wallet } = hubFixture();
  await installTestWallet(page, wallet);
  await page.goto("/dao");
  await page.getByRole("button", { name: "Connect wallet" }).click();
  const votes = page.locator("#votes-state");
  await expect(votes).toHaveText(/^You hold 5000000 AGORA; your voting power is 0 votes; delegated to nobody yet/);

  await page.locator("#delegate-form button[type=submit]").click();
  await expect(votes).toHaveText("You hold 5000000 AGORA; your voting power is 5000000 votes; delegated to yourself.", { timeout: 60_000 });

  // The form refuses what the marketplace would, before anything is signed.
  await page.locator("#fee-bps").fill("5000");
  await expect(page.locator("#proposal-preview")).toHaveText("The fee can be at most 1000 basis points (10 %): the marketplace refuses more.");
  await page.locator("#fee-bps").fill("200");
  const market = await marketplace(page);
  await expect(page.locator("#proposal-preview li")).toContainText(`Marketplace ${market}: setProtocolFee(feeBps: 200)`);
  await page.locator("#proposal-description").fill("Fee to 2%\n\nProposed from the hub's page.");
  await axe(page);
  await shoot(page, "dao-propose");
  await page.locator("#propose-form button[type=submit]").click();
  await page.waitForURL(/\/dao\/proposals\/\d+$/, { timeout: 60_000 });
  await expect(page.locator("h1")).toHaveText("Fee to 2%");

  // Voting opens after the voting delay: a second on the local chain (the clock is the block
  // timestamp).
  await anvil("evm_increaseTime", [2]);
  await anvil("anvil_mine", ["0x1"]);
  await page.reload();
  await page.getByLabel("Against", { exact: true }).check();
  await page.getByLabel("For", { exact: true }).check();
  await page.locator("#vote-reason").fill("Cheaper data for everyone.");
  await shoot(page, "dao-vote");
  await page.getByRole("button", { name: "Cast vote" }).click();
  await expect(page.locator("#vote-state")).toHaveText(/^Your vote is counted \(block \d+\)\.$/, { timeout: 60_000 });
  await page.reload();
  await expect(page.locator("#voters")).toContainText("Cheaper data for everyone.");

  // After the voting period (five minutes locally): queue, wait out the timelock's delay, execute.
  await anvil("evm_increaseTime", [301]);
  await anvil("anvil_mine", ["0x1"]);
  await page.reload();
  await page.getByRole("button", { name: "Queue for execution" }).click();
  await expect(page.locator("#vote-state")).toHaveText(/^Queued( in the timelock\.|: it can run from)/, { timeout: 60_000 });
  await anvil("evm_increaseTime", [3600]);
  await anvil("anvil_mine", ["0x1"]);
  await page.reload();
  await page.getByRole("button", { name: "Execute" }).click();
  await expect(page.locator("#vote-state")).toHaveText("The proposal is executed.", { timeout: 60_000 });

  const client = createPublicClient({ transport: http(wallet.rpcUrl) });
  expect(await client.readContract({ address: market, abi: marketplaceAbi, functionName: "protocolFeeBps" })).toBe(200);
  await page.reload();
  await expect(page.locator("[data-state]").first()).toHaveText("executed");
});
