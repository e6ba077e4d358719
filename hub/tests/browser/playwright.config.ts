// Browser tests for the hub: a real Chromium (Debian's, installed by scripts/chromium.sh; Playwright
// cannot download its own browsers here) against a running hub at $HUB_URL.
//   smoke  — smoke.spec.ts against the static fixture page (scripts/test-hub-js.sh serves it);
//   hub    — every other spec, against the real hub and stack.
// Specs save their own screenshots (helpers.ts `shoot`) under $HUB_SCREENSHOTS.
import { defineConfig } from "@playwright/test";
import path from "node:path";

const baseURL = process.env["HUB_URL"];
if (!baseURL) {
  throw new Error(
    "HUB_URL is not set: point it at a running hub (e.g. HUB_URL=http://127.0.0.1:3000), " +
      "or run ./scripts/test-hub-js.sh for the smoke test against the fixture page",
  );
}

export default defineConfig({
  testDir: __dirname,
  outputDir: path.resolve(__dirname, "../../../target/playwright-results"),
  // Two cores, shared with the hub and the stack it talks to.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env["CI"],
  reporter: "list",
  timeout: 30_000,
  use: {
    baseURL,
    headless: true,
    browserName: "chromium",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      // Chromium's sandbox refuses to start as root (containers, CI).
      args: ["--no-sandbox"],
    },
    screenshot: "off",
    trace: "off",
  },
  projects: [
    { name: "smoke", testMatch: "smoke.spec.ts" },
    { name: "hub", testIgnore: "smoke.spec.ts" },
  ],
});
