// Sending a contract transaction from the page, the one way every action does it: simulated
// first (so a revert is explained before the wallet opens), signed and sent by the wallet, its
// receipt awaited, then the indexer's catch-up to its block (so the pages show it), with the state
// of each step told to the user.

import type { Abi, ContractFunctionArgs, ContractFunctionName, TransactionReceipt } from "viem";
import { simulateContract, waitForTransactionReceipt, writeContract } from "viem/actions";

import { Told, awaitIndexed } from "./hub-api";
import type { Session } from "./session";

/** One contract call. */
export interface Call<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">> {
  address: `0x${string}`;
  abi: abi;
  functionName: name;
  args: ContractFunctionArgs<abi, "nonpayable" | "payable", name>;
  value?: bigint;
}

/**
 * Sends `call` as `what` ("the purchase", "your vote"), telling `status` each step; resolves with
 * the receipt once the indexer has its block too (or says it has not yet, after two minutes).
 */
export async function send<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">>(
  session: Session,
  call: Call<abi, name>,
  what: string,
  status: (text: string) => void,
): Promise<TransactionReceipt> {
  const { request } = await simulateContract(session.client, { account: session.account, ...call } as never);
  status(`Confirm ${what} in your wallet…`);
  const hash = await writeContract(session.client, { ...(request as object), chain: null } as never);
  status(`Pending: transaction ${hash.slice(0, 10)}… sent, waiting for a block…`);
  const receipt = await waitForTransactionReceipt(session.client, { hash });
  if (receipt.status !== "success") throw new Told(`Transaction ${hash} was mined but reverted.`);
  status(`Mined in block ${receipt.blockNumber}; waiting for the indexer…`);
  if (!(await awaitIndexed(receipt.blockNumber))) {
    status(`Mined in block ${receipt.blockNumber}; the indexer has not reached it yet, so the pages will show it later.`);
  }
  return receipt;
}
