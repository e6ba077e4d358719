// Running a compute job from the page, driven by clicking with the test wallet (test-wallet.ts,
// forwarding to the real anvil): bad options and a spec over the provider's limits are refused
// before anything is signed; the cost (the dataset's token bought with the job when none is held,
// the provider's price, the fee) is shown before the wallet opens; one transaction opens the job,
// one signature sends it to the provider; the job page follows it at the provider and on chain to
// its posted result; then the result is challenged from the page with the DAO's bond. Every effect
// is checked by reading the chain directly.
import { expect, test, type Page } from "@playwright/test";
import { type Address, createPublicClient, getAddress, http } from "viem";

import { accessTokenAbi, assetRegistryAbi, computeMarketAbi } from "../../web/generated/abi";
import { axe, expectFitsPhone, hubFixture, shoot, shootDark, watch } from "./helpers";
import { installTestWallet } from "./test-wallet";

// A job runs (MiniLM over three sentences), the indexer catches up, then a dispute.
test.setTimeout(180_000);

/** `IComputeMarket.JobStatus`. */
const RESULT_POSTED = 2;
const DISPUTED = 3;

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  // The provider's 422 for the over-limit spec is one the test causes (Chromium logs any error
  // status of a fetch); uncaught errors and every other console message still count.
  watched = watch(page, { errorStatusOk: true });
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

function rpc() {
  return createPublicClient({ transport: http(hubFixture().wallet.rpcUrl) });
}

async function contracts(page: Page): Promise<{ computeMarket: Address; assetRegistry: Address }> {
  const response = await page.request.get("/api/status");
  expect(response.status()).toBe(200);
  const status = (await response.json()) as { contracts: { computeMarket: Address; assetRegistry: Address } };
  return { computeMarket: getAddress(status.contracts.computeMarket), assetRegistry: getAddress(status.contracts.assetRegistry) };
}

async function tokensOf(page: Page, assetId: string): Promise<bigint> {
  const { assetRegistry } = await contracts(page);
  const token = await rpc().readContract({ address: assetRegistry, abi: assetRegistryAbi, functionName: "accessTokenOf", args: [BigInt(assetId)] });
  return rpc().readContract({ address: token, abi: accessTokenAbi, functionName: "balanceOf", args: [getAddress(hubFixture().wallet.account)] });
}

test("runs an embed job from the page, follows it to its result, and challenges it", async ({ page }) => {
  const { eth, compute, wallet } = hubFixture();
  const testWallet = await installTestWallet(page, wallet);
  await page.goto(`/jobs/new?dataset=${eth.assetId}&model=${compute.modelId}`);
  await expect(page.locator("h1")).toHaveText("Run a compute job");
  await expect(page.locator("#job-dataset")).toHaveValue(eth.assetId);
  await expect(page.locator("#job-model")).toHaveValue(compute.modelId);
  await expect(page.locator("#job-provider")).toHaveValue(compute.provider);
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await expect(page.locator(".wallet-account")).toHaveAttribute("data-account", getAddress(wallet.account));
  const review = page.locator("#job-review");
  const state = page.locator("#job-state");
  await expect(review).toBeEnabled();

  // Refused before anything is signed: options that are not JSON, a spec over the provider's limits.
  await page.locator("#job-options").fill("{not json");
  await review.click();
  await expect(state).toHaveText(/^The options are not JSON/);
  await page.locator("#job-options").fill('{"text_field": "text", "batch_size": 0}');
  await review.click();
  await expect(state).toHaveText(/^The provider refused this job: .*batch_size must be at least 1/);
  expect(testWallet.calls.filter((method) => method === "eth_sendTransaction")).toEqual([]);

  // The cost, shown before the wallet opens.
  const held = await tokensOf(page, eth.assetId);
  await page.locator("#job-options").fill('{"text_field": "text", "batch_size": 2}');
  await review.click();
  await expect(state).toHaveText("Check the cost, then pay and run.");
  const costs = page.locator("#job-costs");
  await expect(costs).toBeVisible();
  await expect(costs.locator("tr[data-cost=dataset] td")).toHaveText(
    held === 0n ? "0.001 ETH (buys one access token with the job)" : "spends one of your access tokens",
  );
  await expect(costs.locator("tr[data-cost=algorithm\\/model] td")).toHaveText("free: no access token needed");
  await expect(costs.locator("tr[data-cost=provider] td")).toHaveText(/^0\.01 ETH \(escrowed until the result is final; the DAO's fee is \d+\.\d\d% of it\)$/);
  await expect(costs.locator("tr[data-cost=total] td")).toHaveText(held === 0n ? "0.011 ETH" : "0.01 ETH");
  await axe(page);
  await shoot(page, "job-new-costs");
  await shootDark(page, "job-new-costs");

  // One transaction opens the job (buying the dataset's token with it), one signature sends it.
  const sentBefore = testWallet.calls.filter((method) => method === "eth_sendTransaction").length;
  await page.locator("#job-run").click();
  await page.waitForURL(/\/jobs\/\d+$/, { timeout: 60_000 });
  const jobId = BigInt(new URL(page.url()).pathname.split("/").pop() ?? "0");
  expect(testWallet.calls.filter((method) => method === "eth_sendTransaction").length - sentBefore).toBe(1);
  expect(testWallet.calls.filter((method) => method === "eth_signTypedData_v4").length).toBe(1);
  expect(await tokensOf(page, eth.assetId)).toBe(held === 0n ? 0n : held - 1n);

  // The page follows the job at its provider, then on chain to the posted result.
  await expect(page.locator("#job-progress-text")).toHaveText(/^(Queued|Running|Succeeded)/, { timeout: 30_000 });
  await expect(page.locator("#job-status")).toHaveText("Result posted: open to challenge", { timeout: 120_000 });
  const { computeMarket } = await contracts(page);
  const onChain = await rpc().readContract({ address: computeMarket, abi: computeMarketAbi, functionName: "getJob", args: [jobId] });
  expect(onChain.status).toBe(RESULT_POSTED);
  expect(getAddress(onChain.consumer)).toBe(getAddress(wallet.account));
  await shoot(page, "job-live");

  // Challenged from the page: the reason on IPFS through the hub, the DAO's bond escrowed.
  await page.reload();
  await expect(page.locator("#receipt-check")).toHaveAttribute("data-result", "valid", { timeout: 10_000 });
  const challenge = page.locator("#dispute-submit");
  await expect(challenge).toHaveText(/^Challenge \(bond \d+(\.\d+)? ETH\)$/);
  await challenge.click();
  await expect(page.locator("#dispute-state")).toHaveText("Say why the result is wrong first.");
  await page.locator("#dispute-reason").fill("The embeddings do not reproduce on my machine.");
  await challenge.click();
  await expect(page.locator("#dispute-state")).toHaveText(/^Challenged with a bond of .* ETH; the DAO rules on it\.$/, { timeout: 60_000 });
  const disputed = await rpc().readContract({ address: computeMarket, abi: computeMarketAbi, functionName: "getJob", args: [jobId] });
  expect(disputed.status).toBe(DISPUTED);
  await shoot(page, "job-disputed");
  await expectFitsPhone(page);
});
