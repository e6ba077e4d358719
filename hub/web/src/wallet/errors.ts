// Any failure of an action in words: a refusal in the wallet is a calm sentence, a revert is the
// protocol's sentence for its custom error (the hub's `/api/revert`, the CLI's table), and
// everything else viem's short message. Never a raw hex string or a stack trace.

import { BaseError, ContractFunctionRevertedError, type Hex, UserRejectedRequestError } from "viem";

import { Told, explainRevert } from "./hub-api";
import { calmMessage } from "./session";

/** How amounts in a revert are written (the currency of the action). */
export interface Units {
  symbol: string;
  decimals: number;
}

function revertOf(err: unknown): ContractFunctionRevertedError | null {
  if (!(err instanceof BaseError)) return null;
  const found = err.walk((e) => e instanceof ContractFunctionRevertedError);
  return found instanceof ContractFunctionRevertedError ? found : null;
}

function rejected(err: unknown): boolean {
  if (err instanceof BaseError && err.walk((e) => e instanceof UserRejectedRequestError)) return true;
  // Errors straight from the wallet's `request`, not wrapped by viem.
  return (err as { code?: unknown }).code === 4001;
}

/** The sentence for `err`. */
export async function explain(err: unknown, units?: Units): Promise<string> {
  if (err instanceof Told) return err.message;
  if (rejected(err)) return "You declined in your wallet; nothing was sent.";
  const revert = revertOf(err);
  if (revert) {
    const raw: Hex | undefined = revert.raw;
    const sentence = raw ? await explainRevert(raw, units) : null;
    if (sentence) return `The transaction would fail: ${sentence}.`;
    if (revert.reason) return `The transaction would fail: ${revert.reason}.`;
    if (revert.data) return `The transaction would fail: ${revert.data.errorName}.`;
    return "The transaction would fail (the contract gave no reason).";
  }
  return calmMessage(err);
}
