// Amounts in their currency's units: ETH, or an ERC-20's symbol and decimals read from the token.

import { type Address, formatUnits, zeroAddress } from "viem";
import { readContract } from "viem/actions";

import { ierc20MetadataAbi } from "../../generated/abi";
import type { Units } from "./errors";
import type { Session } from "./session";

export async function erc20Units(session: Session, token: Address): Promise<Units> {
  const read = (functionName: "symbol" | "decimals") =>
    readContract(session.client, { address: token, abi: ierc20MetadataAbi, functionName });
  const [symbol, decimals] = await Promise.all([read("symbol").catch(() => token), read("decimals")]);
  return { symbol: String(symbol), decimals: Number(decimals) };
}

/** The units of `currency`: ETH for the zero address, else the ERC-20's. */
export async function unitsOf(session: Session, currency: Address): Promise<Units> {
  return currency === zeroAddress ? { symbol: "ETH", decimals: 18 } : erc20Units(session, currency);
}

/** `amount` base units as `1.5 ETH`, with at most 6 decimals (as the CLI writes them). */
export function formatAmount(amount: bigint, units: Units): string {
  const [whole, fraction = ""] = formatUnits(amount, units.decimals).split(".");
  const kept = fraction.slice(0, 6).replace(/0+$/, "");
  return `${whole}${kept ? `.${kept}` : ""} ${units.symbol}`;
}
