// Buying access tokens from the page: the quote read from the marketplace for this account, the
// slippage guard set to the price the page showed, ETH or an ERC-20 paid with an EIP-2612 permit
// (one signature and one transaction, no separate approve), optionally buying one and spending it
// for a download in the same transaction. The page follows the transaction from the wallet to the
// block to the indexer.

import { type Address, type TransactionReceipt, parseSignature, zeroAddress } from "viem";
import { getBlock, getEip712Domain, readContract, signTypedData } from "viem/actions";

import { ierc20Abi, ierc20PermitAbi, marketplaceAbi } from "../../generated/abi";
import { formatAmount, unitsOf } from "./currency";
import { Told } from "./hub-api";
import type { Units } from "./errors";
import type { Session } from "./session";
import { send } from "./tx";

/** What the asset page says about the purchase. */
export interface Listing {
  assetId: bigint;
  /** The currency: the zero address for ETH. */
  currency: Address;
  /** The price per token the page showed, in base units: the most the purchase may cost per token. */
  shownPrice: bigint;
}

/** The purchase as the marketplace quotes it for this account. */
export interface Quote {
  amount: bigint;
  cost: bigint;
  free: bigint;
  units: Units;
}

/** How long a permit signature stays valid. */
const PERMIT_LIFETIME_S = 20 * 60;

export async function quote(session: Session, listing: Listing, amount: bigint): Promise<Quote> {
  const [[cost, free], units] = await Promise.all([
    readContract(session.client, {
      address: session.deployment.contracts.marketplace,
      abi: marketplaceAbi,
      functionName: "quote",
      args: [listing.assetId, session.account, amount],
    }),
    unitsOf(session, listing.currency),
  ]);
  return { amount, cost, free, units };
}

/** A permit letting the marketplace take `value` of `token` from the account, signed in the wallet. */
async function permit(session: Session, token: Address, value: bigint, status: (text: string) => void) {
  const spender = session.deployment.contracts.marketplace;
  const [{ domain, fields }, nonce] = await Promise.all([
    getEip712Domain(session.client, { address: token }),
    readContract(session.client, { address: token, abi: ierc20PermitAbi, functionName: "nonces", args: [session.account] }),
  ]);
  // The token checks the deadline against the chain's clock, which need not be the browser's.
  const deadline = (await getBlock(session.client)).timestamp + BigInt(PERMIT_LIFETIME_S);
  status("Sign the payment permit in your wallet (a signature, not a transaction)…");
  const signature = await signTypedData(session.client, {
    account: session.account,
    // ERC-5267's `fields` says which members the token's domain has (0x0f: all but the salt).
    domain: {
      name: domain.name,
      version: domain.version,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
      ...((Number(fields) & 0x10) !== 0 ? { salt: domain.salt } : {}),
    },
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit",
    message: { owner: session.account, spender, value, nonce, deadline },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  return { value, deadline, v: Number(v ?? BigInt(27 + yParity)), r, s };
}

/**
 * Buys `amount` tokens (or, with `downloadVia`, one token spent for that provider at once); resolves
 * with the mined receipt once the indexer has it too.
 */
export async function buy(
  session: Session,
  listing: Listing,
  shown: Quote,
  downloadVia: Address | null,
  status: (text: string) => void,
): Promise<TransactionReceipt> {
  const eth = listing.currency === zeroAddress;
  const maxPrice = listing.shownPrice;
  const { assetId, currency } = listing;
  let signed: Awaited<ReturnType<typeof permit>> | null = null;
  if (!eth && shown.cost > 0n) {
    const balance = await readContract(session.client, {
      address: currency,
      abi: ierc20Abi,
      functionName: "balanceOf",
      args: [session.account],
    });
    if (balance < shown.cost) {
      throw new Told(
        `Your balance is too small: you hold ${formatAmount(balance, shown.units)}, the purchase costs ${formatAmount(shown.cost, shown.units)}.`,
      );
    }
    signed = await permit(session, currency, shown.cost, status);
  }
  const value = eth ? shown.cost : 0n;
  const market = { address: session.deployment.contracts.marketplace, abi: marketplaceAbi } as const;
  const what = downloadVia ? "the purchase (one token, spent for the download)" : "the purchase";
  const receipt = downloadVia
    ? signed
      ? await send(session, { ...market, functionName: "buyAndConsumeWithPermit", args: [assetId, downloadVia, currency, maxPrice, signed] }, what, status)
      : await send(session, { ...market, functionName: "buyAndConsume", args: [assetId, downloadVia, currency, maxPrice], value }, what, status)
    : signed
      ? await send(session, { ...market, functionName: "buyWithPermit", args: [assetId, shown.amount, currency, maxPrice, signed] }, what, status)
      : await send(session, { ...market, functionName: "buy", args: [assetId, shown.amount, currency, maxPrice], value }, what, status);
  return receipt;
}
