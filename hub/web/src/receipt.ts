// Job pages only: checks the provider's signed receipt in the browser, against what the chain
// says, when the page loads and whenever "Verify receipt" is pressed. The receipt is re-read from
// `#receipt-json` every time, so what is checked is what the page holds now.

import { checkReceipt, expectedFromData } from "./receipt-check";

/** Counts checks, so a slow earlier one never overwrites the answer of a later one. */
let latest = 0;

async function verify(section: HTMLElement, output: HTMLOutputElement): Promise<void> {
  const run = ++latest;
  output.dataset["result"] = "checking";
  output.textContent = "Checking…";
  let result: { ok: true; text: string } | { ok: false; text: string };
  try {
    const expected = expectedFromData(section.dataset);
    if (typeof expected === "string") {
      result = { ok: false, text: expected };
    } else {
      let signed: unknown;
      try {
        signed = JSON.parse(document.getElementById("receipt-json")?.textContent ?? "");
      } catch {
        signed = undefined;
      }
      const checked =
        signed === undefined
          ? ({ ok: false, reason: "The receipt on this page is not valid JSON." } as const)
          : await checkReceipt(signed, expected);
      result = checked.ok
        ? {
            ok: true,
            text: `Signed by ${checked.signer} (the job's provider); output hash matches the chain`,
          }
        : { ok: false, text: checked.reason };
    }
  } catch (error) {
    result = { ok: false, text: `The receipt could not be checked: ${String(error)}` };
  }
  if (run !== latest) return;
  output.dataset["result"] = result.ok ? "valid" : "invalid";
  output.textContent = `${result.ok ? "✓" : "✗"} ${result.text}`;
}

const section = document.getElementById("receipt");
const output = document.getElementById("receipt-check");
if (section && output instanceof HTMLOutputElement) {
  document.getElementById("verify-receipt")?.addEventListener("click", () => void verify(section, output));
  void verify(section, output);
}
