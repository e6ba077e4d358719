// Prints the receipt part of hub/tests/browser/fixtures/job.html: the `#receipt` section's data
// attributes and the `#receipt-json` script, signed with the fixture key:
//   node hub/web/test/make-fixture.mjs
// receipt.test.mjs checks that the committed fixture still verifies.
import { signedReceipt } from "./sign.mjs";

const { signed, data } = await signedReceipt();
console.log(
  `<section id="receipt" data-chain-id="${data.chainId}" data-provider="${data.provider}" ` +
    `data-job-id="${data.jobId}" data-output-hash="${data.outputHash}">`,
);
console.log(`<script type="application/json" id="receipt-json">${JSON.stringify(signed)}</script>`);
