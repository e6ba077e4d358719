// The wallet flows of an asset page, driven by clicking, with a test wallet that forwards to the
// real anvil (test-wallet.ts): connecting and refusing a wrong chain, buying with ETH and with an
// EIP-2612 stablecoin (one signature, one transaction), downloading with the sha-256 checked in the
// browser (and refusing altered bytes), buy-and-download in one transaction, a declined signature,
// a revert in words, giving tokens away and releasing revenue. Every effect is checked by reading
// the chain directly.
import { expect, test, type Page } from "@playwright/test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type Address, createPublicClient, createWalletClient, getAddress, http, zeroAddress } from "viem";

import { accessTokenAbi, ierc20Abi, marketplaceAbi, revenueSplitterAbi } from "../../web/generated/abi";
import { axe, hubFixture, shoot, watch } from "./helpers";
import { type TestWallet, installTestWallet } from "./test-wallet";

test.describe.configure({ mode: "serial" });
// Transactions, the indexer's catch-up and a download per test.
test.setTimeout(90_000);

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  watched = watch(page);
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

function rpc() {
  return createPublicClient({ transport: http(hubFixture().wallet.rpcUrl) });
}

async function marketplace(page: Page): Promise<Address> {
  const response = await page.request.get("/api/status");
  expect(response.status()).toBe(200);
  const status = (await response.json()) as { contracts: { marketplace: Address } };
  return getAddress(status.contracts.marketplace);
}

/** Opens asset `assetId`'s page with the test wallet installed and connects it. */
async function connected(page: Page, assetId: string, startChainId?: number): Promise<TestWallet> {
  const { wallet } = hubFixture();
  const testWallet = await installTestWallet(page, { ...wallet, ...(startChainId === undefined ? {} : { startChainId }) });
  await page.goto(`/assets/${assetId}`);
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await expect(page.locator(".wallet-account")).toHaveAttribute("data-account", getAddress(wallet.account));
  return testWallet;
}

async function accessTokens(page: Page): Promise<bigint> {
  const token = getAddress((await page.locator("#access").getAttribute("data-access-token")) ?? zeroAddress);
  return rpc().readContract({ address: token, abi: accessTokenAbi, functionName: "balanceOf", args: [getAddress(hubFixture().wallet.account)] });
}

const state = (page: Page) => page.locator("#access-state");

test("refuses a wrong chain until the wallet switches to the deployment's", async ({ page }) => {
  const { eth, wallet } = hubFixture();
  await connected(page, eth.assetId, 1);
  await expect(page.locator(".wallet-warning")).toHaveText(
    `Wrong network: your wallet is on chain 1, this hub's deployment is on chain ${wallet.chainId}. Switch networks to continue.`,
  );
  await expect(page.locator("#buy-form button[type=submit]")).toBeDisabled();
  await shoot(page, "wallet-wrong-chain");
  await page.getByRole("button", { name: "Switch network" }).click();
  await expect(page.locator(".wallet-warning")).toHaveCount(0);
  await expect(page.locator(".wallet-chain")).toHaveAttribute("data-chain-id", String(wallet.chainId));
  await expect(page.locator("#buy-form button[type=submit]")).toBeEnabled();
  await expect(state(page)).toHaveText(/^You pay 0\.001 ETH for 1 access token; you hold \d+\.$/);
  await axe(page);
  await shoot(page, "wallet-connected");
  // Disconnecting forgets the account; the page offers to connect again.
  await page.getByRole("button", { name: "Disconnect" }).click();
  await expect(page.getByRole("button", { name: "Connect wallet" })).toBeVisible();
  await expect(page.locator("#buy-form button[type=submit]")).toBeDisabled();
});

test("buys access tokens with ETH; the chain and the indexer show it", async ({ page }) => {
  const { eth } = hubFixture();
  const wallet = await connected(page, eth.assetId);
  const before = await accessTokens(page);
  const sales = Number(await page.locator("#usage dd[data-count=sales]").textContent());
  await page.locator("#buy-amount").fill("2");
  await expect(page.locator("#buy-form button[type=submit]")).toHaveText("Buy for 0.002 ETH");
  await page.locator("#buy-form button[type=submit]").click();
  await expect(state(page)).toHaveText(/^Bought 2 access tokens in block \d+; the indexer has it\.$/, { timeout: 60_000 });
  expect(await accessTokens(page)).toBe(before + 2n);
  expect(wallet.calls.filter((call) => call === "eth_sendTransaction")).toHaveLength(1);
  // Awaited, not guessed: the indexer already counts the sale when the page says so.
  await page.reload();
  await expect(page.locator("#usage dd[data-count=sales]")).toHaveText(String(sales + 1));
});

test("downloads, checks the sha-256 in the browser and saves the file", async ({ page }) => {
  const { eth } = hubFixture();
  const wallet = await connected(page, eth.assetId);
  const before = await accessTokens(page);
  expect(before).toBeGreaterThan(0n);
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download and verify" }).click();
  const saved = await download;
  expect(readFileSync(await saved.path(), "utf8")).toBe(eth.content);
  await expect(state(page)).toHaveText(`Verified: sha-256 ${eth.digest} matches the chain. Saved as ${saved.suggestedFilename()}.`);
  await expect(page.locator("#download-progress")).toHaveAttribute("value", String(eth.content.length));
  expect(await accessTokens(page)).toBe(before - 1n);
  expect(wallet.calls).toContain("eth_signTypedData_v4");
  await shoot(page, "wallet-downloaded");
});

test("passes over a provider that does not answer and one that fails, then downloads from the next", async ({ page }) => {
  const { eth } = hubFixture();
  await connected(page, eth.assetId);
  // A token of its own, so the tests after this one keep theirs.
  await page.locator("#buy-amount").fill("1");
  await page.locator("#buy-form button[type=submit]").click();
  await expect(state(page)).toHaveText(/^Bought 1 access token in block \d+; the indexer has it\.$/, { timeout: 60_000 });
  const before = await accessTokens(page);
  // Two providers ranked ahead of the real one: the first refuses connections; the second answers
  // its info as the real one does, then fails every download with a 503.
  const dead = "http://dead-provider.test";
  const failing = "http://failing-provider.test";
  await page.route(`${dead}/**`, (route) => route.abort("connectionrefused"));
  let ranked: { endpoint: string }[] = [];
  await page.route("**/api/assets/*/providers", async (route) => {
    const response = await route.fetch();
    ranked = (await response.json()) as { endpoint: string }[];
    const real = ranked[0]?.endpoint ?? "";
    await page.route(`${failing}/v1/info`, async (info) => info.fulfill({ response: await page.request.get(`${real}/v1/info`) }));
    await page.route(`${failing}/v1/download`, (download) => download.fulfill({ status: 503, json: { error: "the provider is overloaded" } }));
    await route.fulfill({ response, json: [{ endpoint: dead, address: null, healthy: false }, { endpoint: failing, address: null, healthy: true }, ...ranked] });
  });
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download and verify" }).click();
  const saved = await download;
  expect(readFileSync(await saved.path(), "utf8")).toBe(eth.content);
  await expect(state(page)).toHaveText(`Verified: sha-256 ${eth.digest} matches the chain. Saved as ${saved.suggestedFilename()}.`);
  // The hub lists the real provider, healthy; the order spent for the failing one (the same
  // provider's address) served the download: one token in all.
  expect(ranked).toEqual([expect.objectContaining({ healthy: true })]);
  expect(await accessTokens(page)).toBe(before - 1n);
  // The browser logs the two failures the page passed over; nothing else may be logged.
  const expected = [/net::ERR_CONNECTION_REFUSED/, /status of 503/];
  const unexpected = watched.problems.filter((problem) => !expected.some((pattern) => pattern.test(problem)));
  expect(watched.problems.length - unexpected.length).toBe(2);
  watched.problems = unexpected;
});

test("refuses bytes the provider altered and saves nothing", async ({ page }) => {
  const { eth } = hubFixture();
  await connected(page, eth.assetId);
  // A provider that flips one bit of what it serves.
  await page.route("**/v1/download", async (route) => {
    const response = await route.fetch();
    const body = await response.body();
    if (body.length > 0) body[0] = (body[0] ?? 0) ^ 1;
    await route.fulfill({ response, body });
  });
  let downloads = 0;
  page.on("download", () => downloads++);
  await page.getByRole("button", { name: "Download and verify" }).click();
  await expect(state(page)).toHaveText(
    new RegExp(`^Verification failed: the bytes have sha-256 0x[0-9a-f]{64}, the chain records ${eth.digest}\\. The file was not saved\\.$`),
  );
  await expect(state(page)).toHaveAttribute("data-kind", "error");
  expect(downloads).toBe(0);
});

test("buys one token and downloads in one transaction", async ({ page }) => {
  const { eth } = hubFixture();
  const wallet = await connected(page, eth.assetId);
  const before = await accessTokens(page);
  await page.getByLabel("Buy one and download now (one transaction)").check();
  const download = page.waitForEvent("download", { timeout: 60_000 });
  await page.locator("#buy-form button[type=submit]").click();
  expect(readFileSync(await (await download).path(), "utf8")).toBe(eth.content);
  await expect(state(page)).toHaveText(/^Verified: sha-256/);
  expect(wallet.calls.filter((call) => call === "eth_sendTransaction")).toHaveLength(1);
  // Bought and spent at once: the balance is unchanged.
  expect(await accessTokens(page)).toBe(before);
});

test("pays a stablecoin price with a permit: one signature and one transaction", async ({ page }) => {
  const { usd, wallet: w } = hubFixture();
  const account = getAddress(w.account);
  const token = getAddress(usd.token);
  const balance = () => rpc().readContract({ address: token, abi: ierc20Abi, functionName: "balanceOf", args: [account] });
  const wallet = await connected(page, usd.assetId);
  const before = await balance();
  await expect(page.locator("#buy-form button[type=submit]")).toHaveText("Buy for 2.5 mUSD");
  await page.locator("#buy-form button[type=submit]").click();
  await expect(state(page)).toHaveText(/^Bought 1 access token in block \d+; the indexer has it\.$/, { timeout: 60_000 });
  expect(await balance()).toBe(before - 2_500_000n);
  expect(await accessTokens(page)).toBe(1n);
  expect(wallet.calls.filter((call) => call === "eth_signTypedData_v4")).toHaveLength(1);
  expect(wallet.calls.filter((call) => call === "eth_sendTransaction")).toHaveLength(1);
  const allowance = await rpc().readContract({ address: token, abi: ierc20Abi, functionName: "allowance", args: [account, await marketplace(page)] });
  expect(allowance, "the permit allowed exactly the price, all spent").toBe(0n);
});

test("a declined request in the wallet is a calm message and sends nothing", async ({ page }) => {
  const { eth } = hubFixture();
  const wallet = await connected(page, eth.assetId);
  const before = await accessTokens(page);
  await expect(page.locator("#buy-form button[type=submit]")).toBeEnabled();
  wallet.rejectNext();
  await page.locator("#buy-form button[type=submit]").click();
  await expect(state(page)).toHaveText("You declined in your wallet; nothing was sent.");
  expect(await accessTokens(page)).toBe(before);
  await shoot(page, "wallet-declined");
});

test("a revert reads as the protocol's sentence: the price changed after the page showed it", async ({ page }) => {
  const { eth, owner } = hubFixture();
  await connected(page, eth.assetId);
  const market = await marketplace(page);
  const assetId = BigInt(eth.assetId);
  const listing = await rpc().readContract({ address: market, abi: marketplaceAbi, functionName: "getListing", args: [assetId] });
  const seller = createWalletClient({ account: getAddress(owner), transport: http(hubFixture().wallet.rpcUrl) });
  const setPrice = async (price: bigint) => {
    const hash = await seller.writeContract({
      chain: null,
      address: market,
      abi: marketplaceAbi,
      functionName: "setListing",
      args: [assetId, listing.currency, price, listing.freePerAddress],
    });
    await rpc().waitForTransactionReceipt({ hash });
  };
  await setPrice(listing.price * 2n);
  try {
    await page.locator("#buy-form button[type=submit]").click();
    await expect(state(page)).toHaveText("The transaction would fail: price changed: you allowed 0.001 ETH, it is now 0.002 ETH.");
  } finally {
    await setPrice(listing.price);
  }
});

test("gives access tokens to another account: the sender no longer holds them", async ({ page }) => {
  const { eth } = hubFixture();
  await connected(page, eth.assetId);
  // The downloads above spent what the purchases bought: one more to give.
  await page.locator("#buy-form button[type=submit]").click();
  await expect(state(page)).toHaveText(/^Bought 1 access token/, { timeout: 60_000 });
  const before = await accessTokens(page);
  expect(before).toBeGreaterThan(0n);
  const friend = getAddress("0x000000000000000000000000000000000000f00d");
  const token = getAddress((await page.locator("#access").getAttribute("data-access-token")) ?? zeroAddress);
  const theirs = () => rpc().readContract({ address: token, abi: accessTokenAbi, functionName: "balanceOf", args: [friend] });
  const friendBefore = await theirs();
  await page.locator("#transfer-form input[name=to]").fill("0x1234");
  await page.locator("#transfer-form button[type=submit]").click();
  await expect(state(page)).toHaveText("The recipient must be an address (0x and 40 hex digits).");
  await page.locator("#transfer-form input[name=to]").fill(friend);
  await page.locator("#transfer-form button[type=submit]").click();
  await expect(state(page)).toHaveText(`Gave 1 access token to ${friend}: they no longer give you access.`, { timeout: 60_000 });
  expect(await accessTokens(page)).toBe(before - 1n);
  expect(await theirs()).toBe(friendBefore + 1n);
});

test("the publisher releases the revenue waiting in the splitter", async ({ page }) => {
  const { eth, owner, wallet } = hubFixture();
  // The publisher's own wallet: anvil signs for every dev account.
  await installTestWallet(page, { ...wallet, account: owner });
  await page.goto(`/assets/${eth.assetId}`);
  await page.getByRole("button", { name: "Connect wallet" }).click();
  const status = (await (await page.request.get("/api/status")).json()) as { contracts: { revenueSplitter: Address } };
  const splitter = getAddress(status.contracts.revenueSplitter);
  const waiting = () =>
    rpc().readContract({ address: splitter, abi: revenueSplitterAbi, functionName: "releasable", args: [BigInt(eth.assetId), zeroAddress, getAddress(owner)] });
  const before = await waiting();
  expect(before, "the sales above left revenue for the publisher").toBeGreaterThan(0n);
  const release = page.locator("#release-box button[data-currency]");
  await expect(release).toHaveText(/^Release [\d.]+ ETH$/);
  await shoot(page, "wallet-release");
  await release.click();
  await expect(page.locator("#release-state")).toHaveText(/^Released [\d.]+ ETH to your account\.$/, { timeout: 60_000 });
  expect(await waiting()).toBe(0n);
  await page.goto(`/accounts/${owner}`);
  await expect(page.locator("#revenue")).toContainText("ETH");
});

test("a download cut off halfway resumes with a Range after a new signature and still verifies", async ({ page }) => {
  const { large } = hubFixture();
  // The network drops once: the first download's body breaks after half the bytes.
  await page.addInitScript(() => {
    const realFetch = window.fetch.bind(window);
    let dropped = false;
    window.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (dropped || !url.endsWith("/v1/download") || !response.body) return response;
      dropped = true;
      const half = Number(response.headers.get("content-length")) / 2;
      const reader = response.body.getReader();
      let sent = 0;
      // Pulled only when the page reads (no queue ahead), so every byte before the cut arrives.
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (sent >= half) {
              void reader.cancel();
              controller.error(new TypeError("network error"));
              return;
            }
            const { done, value } = await reader.read();
            if (done) return controller.close();
            const kept = value.subarray(0, Math.min(value.byteLength, half - sent));
            sent += kept.byteLength;
            controller.enqueue(kept);
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { status: response.status, headers: response.headers });
    };
  });
  const wallet = await connected(page, large.assetId);
  await page.locator("#buy-form button[type=submit]").click();
  await expect(state(page)).toHaveText(/^Bought 1 access token/, { timeout: 60_000 });
  const ranges: (string | undefined)[] = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/v1/download")) ranges.push(request.headers()["range"]);
  });
  await page.getByRole("button", { name: "Download and verify" }).click();
  await expect(state(page)).toHaveText(`The connection broke after ${large.size / 2} bytes; resume to fetch the rest.`, { timeout: 60_000 });
  await expect(page.locator("#download-progress")).toHaveAttribute("value", String(large.size / 2));
  await expect(page.locator("#download-meter")).toHaveText(/^3\.0 MiB of 6\.0 MiB · /);
  await shoot(page, "wallet-download-interrupted");
  const download = page.waitForEvent("download", { timeout: 60_000 });
  await page.getByRole("button", { name: "Resume download" }).click();
  const saved = readFileSync(await (await download).path());
  expect(saved.length).toBe(large.size);
  expect(`0x${createHash("sha256").update(saved).digest("hex")}`).toBe(large.digest);
  await expect(state(page)).toHaveText(`Verified: sha-256 ${large.digest} matches the chain. Saved as wrens.bin.`);
  expect(ranges).toEqual([undefined, `bytes=${large.size / 2}-`]);
  // One purchase and one token spent: the resume reused the order (the wallet only signed again).
  expect(wallet.calls.filter((call) => call === "eth_sendTransaction")).toHaveLength(2);
  expect(wallet.calls.filter((call) => call === "eth_signTypedData_v4")).toHaveLength(2);
});
