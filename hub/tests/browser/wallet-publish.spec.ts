// Publishing from the page with the test wallet (test-wallet.ts, forwarding to the real anvil): a
// priced CSV sealed in the browser (its key wrapped for the owner from one signed message and for
// the provider), uploaded through the hub, its metadata written by the hub, minted with a 60/40
// split; a wrong split refused before anything is signed; the owner's "Edit metadata" making
// version 2; a model folder published compute-only. The Rust test then reads both assets back with
// the CLI (the provider decrypts what the browser sealed, the owner unwraps its own copy), which
// is the browser's format checked against the CLI's.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, getAddress, http } from "viem";

import { assetRegistryAbi } from "../../web/generated/abi";
import { axe, expectFitsPhone, hubFixture, shoot, shootDark, watch } from "./helpers";
import { installTestWallet } from "./test-wallet";

test.setTimeout(120_000);

let watched: { problems: string[] };

test.beforeEach(({ page }) => {
  // The refused oversized upload is an error status the test causes.
  watched = watch(page, { errorStatusOk: true });
});

test.afterEach(() => {
  expect(watched.problems, "the page logged errors or opened dialogs").toEqual([]);
});

/** Reloads the asset page until the indexer has read the new metadata document (it does so after the block). */
async function untilIndexed(page: import("@playwright/test").Page, name: string): Promise<void> {
  await expect(async () => {
    await page.reload();
    await expect(page.locator("h1")).toHaveText(name, { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
}

async function registry(request: import("@playwright/test").APIRequestContext) {
  const status = (await (await request.get("/api/status")).json()) as { contracts: { assetRegistry: `0x${string}` } };
  return getAddress(status.contracts.assetRegistry);
}

test("publishes a priced file sealed in the browser, then its owner edits its metadata", async ({ page }) => {
  const { wallet, owner, browserPublish } = hubFixture();
  // What the page publishes; the Rust test downloads it back and compares.
  const CSV = browserPublish.content;
  const testWallet = await installTestWallet(page, wallet);
  await page.goto("/publish");
  await expect(page.locator("h1")).toHaveText("Publish an asset");
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await expect(page.locator(".wallet-account")).toHaveAttribute("data-account", getAddress(wallet.account));
  const state = page.locator("#publish-state");
  const submit = page.locator("#publish-submit");
  await expect(submit).toBeDisabled();
  await expect(state).toHaveText("Choose a file or a folder.");

  // A file over the hub's upload limit is refused when it is picked.
  await page.locator("#publish-file").setInputFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(browserPublish.maxUpload + 1) });
  await expect(page.locator("#publish-picked")).toHaveText(/this hub takes uploads of at most/);
  await expect(submit).toBeDisabled();

  await page.locator("#publish-file").setInputFiles({ name: "finches.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) });
  await expect(page.locator("#publish-picked")).toHaveText(/^finches\.csv, /);
  await page.locator("#publish-name").fill(browserPublish.name);
  await page.locator("#publish-description").fill("Wing lengths of three finches, measured by hand.");
  await page.locator("#publish-license").fill("CC-BY-4.0");
  await page.locator("#publish-tags").fill("birds, browser-made");
  await page.locator("#publish-card").fill("# Finches\n\nMeasured **by hand**.\n\n<script>alert(1)</script>");
  const preview = page.locator("#publish-preview");
  // The card's headings move one level down, under the page's own h1 (as on the asset page).
  await expect(preview.locator("h2")).toHaveText("Finches");
  await expect(preview.locator("strong")).toHaveText("by hand");
  await expect(preview.locator("script")).toHaveCount(0);
  await page.locator("#publish-price").fill("0.02");
  await expect(page.locator("#publish-sealing")).toHaveText(/^Encrypted in this browser before upload; the key wrapped for you and 1 provider\./);

  // A split that does not add up to 100 % is refused before the wallet opens.
  await page.locator("#publish-split-add").click();
  await page.locator("#publish-split-add").click();
  const inputs = page.locator("#publish-split-rows input");
  await inputs.nth(0).fill(wallet.account);
  await inputs.nth(1).fill("60");
  await inputs.nth(2).fill(owner);
  await inputs.nth(3).fill("30");
  await expect(page.locator("#publish-split-sum")).toHaveText("The split's shares add up to 90 %; they must add up to 100 %.");
  await submit.click();
  await expect(state).toHaveText("The split's shares add up to 90 %; they must add up to 100 %.");
  expect(testWallet.calls.filter((m) => m === "personal_sign" || m === "eth_sendTransaction")).toEqual([]);
  await inputs.nth(3).fill("40");
  await expect(page.locator("#publish-split-sum")).toHaveText("The shares add up to 100 %.");
  await expect(state).toHaveText("");
  await axe(page);
  await expectFitsPhone(page);
  await shoot(page, "publish");
  await shootDark(page, "publish");

  await submit.click();
  await page.waitForURL(/\/assets\/\d+$/, { timeout: 60_000 });
  expect(testWallet.calls.filter((m) => m === "personal_sign")).toHaveLength(1);
  const assetId = page.url().split("/").pop() ?? "";
  await untilIndexed(page, browserPublish.name);
  await expect(page.locator(".badge.locked")).toHaveText("encrypted");
  await expect(page.locator(".badge.license")).toHaveText("CC-BY-4.0");
  await expect(page.locator("#split tr[data-recipient]")).toHaveCount(2);
  await expect(page.locator("#card h2")).toHaveText("Finches");

  // On chain: the plaintext's digest, owned by the wallet's account.
  const rpc = createPublicClient({ transport: http(wallet.rpcUrl) });
  const stored = await rpc.readContract({ address: await registry(page.request), abi: assetRegistryAbi, functionName: "getAsset", args: [BigInt(assetId)] });
  const { createHash } = await import("node:crypto");
  expect(stored.contentDigest).toBe(`0x${createHash("sha256").update(CSV).digest("hex")}`);
  expect(stored.version).toBe(1);

  // The owner's "Edit metadata": version 2, the content unchanged.
  const edit = page.locator("#edit-metadata");
  await expect(edit).toBeVisible();
  await axe(page);
  await shoot(page, "asset-edit-metadata");
  await page.locator("#edit-name").fill(`${browserPublish.name} (v2)`);
  await page.locator("#edit-tags").fill("birds, browser-made, edited");
  await expect(page.locator("#edit-preview h2")).toHaveText("Finches");
  // The panel reloads the page once the new version is mined and indexed.
  const reloaded = page.waitForEvent("load", { timeout: 60_000 });
  await edit.getByRole("button", { name: "Publish version 2" }).click();
  await reloaded;
  await untilIndexed(page, `${browserPublish.name} (v2)`);
  await expect(page.locator(".kind")).toContainText("version 2");
  await expect(page.locator(".badge.tag")).toHaveText(["birds", "browser-made", "edited"]);
  const updated = await rpc.readContract({ address: await registry(page.request), abi: assetRegistryAbi, functionName: "getAsset", args: [BigInt(assetId)] });
  expect(updated.contentDigest).toBe(stored.contentDigest);
  expect(updated.version).toBe(2);
});

test("publishes a model folder compute-only, each file sealed and listed in a sealed manifest", async ({ page }) => {
  const { wallet, browserPublish } = hubFixture();
  await installTestWallet(page, wallet);
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "agora-publish-")), "tiny-model");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "config.json"), '{"hidden_size": 4}\n');
  writeFileSync(path.join(dir, "weights.bin"), Buffer.alloc(70_000, 7));
  await page.goto("/publish");
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await page.locator("#publish-folder").setInputFiles(dir);
  await expect(page.locator("#publish-picked")).toHaveText(/^Folder tiny-model: 2 files, /);
  await expect(page.locator("#publish-kind")).toHaveValue("model");
  await page.locator("#publish-name").fill(browserPublish.modelName);
  await page.locator("#publish-compute-only").check();
  await expect(page.locator("#publish-sealing")).toHaveText(/^Encrypted in this browser/);
  await page.locator("#publish-submit").click();
  await page.waitForURL(/\/assets\/\d+$/, { timeout: 60_000 });
  await untilIndexed(page, browserPublish.modelName);
  await expect(page.locator(".badge.locked")).toHaveText("encrypted");
  await expect(page.locator(".badge", { hasText: "compute-only" })).toBeVisible();
  await expect(page.locator("#files")).toContainText("weights.bin");
});
