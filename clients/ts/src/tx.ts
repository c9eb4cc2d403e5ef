/** Transactions: the body, the signing message, signatures and the id (docs/wire.md). */
import { sha256 } from "@noble/hashes/sha2.js";
import { SCHEMA, concat, encode, encodeBody, fromHex, toHex, uint, type Json, type JsonObject, type SchemaType, type Transaction, type TxBody } from "./codec.js";
import type { Keypair } from "./keys.js";

const enc = (s: string) => new TextEncoder().encode(s);
/** The dev chain's id. */
export const DEV_CHAIN_ID = 8645;
/** The least fee a dev chain takes, micro-units. */
export const MIN_FEE = 1000n;

/** A transaction body in its JSON form. */
export function body(opts: {
  chainId: number; sender: string; nonce: number; actions: JsonObject[];
  fee?: bigint | number; expiryHeight: number; feePayer?: string | null;
}): TxBody {
  return {
    chain_id: opts.chainId,
    sender: opts.sender,
    nonce: opts.nonce,
    fee: (opts.fee ?? MIN_FEE).toString(),
    expiry_height: opts.expiryHeight,
    fee_payer: opts.feePayer ?? null,
    actions: opts.actions,
  };
}

/** What each signer signs: the domain and the encoded body. */
export function signingMessage(b: TxBody): Uint8Array {
  return concat(enc("machina/tx/v1"), encodeBody(b));
}

/** The transaction id: SHA-256 of the domain and the body (signatures are not in it). */
export function txId(b: TxBody): string {
  return toHex(sha256(concat(enc("machina/txid/v1"), encodeBody(b))));
}

/** The signed transaction in its JSON form, for `POST /v1/tx`. */
export function sign(b: TxBody, signers: Keypair[]): Transaction {
  const message = signingMessage(b);
  return { body: b, signatures: signers.map((k) => ({ public_key: toHex(k.publicKey), signature: toHex(k.sign(message)) })) };
}

/** A device key's proof of possession for its owner, for `register_machine`. */
export function devicePop(device: Keypair, chainId: number, owner: string): string {
  return toHex(device.sign(concat(enc("machina/device-pop/v1"), uint(BigInt(chainId), 8), fromHex(owner))));
}

function readingType(): SchemaType {
  const spec = SCHEMA.actions.find((a) => a.type === "submit_readings")!;
  const signed = (spec.fields[0].type as { list: string }).list;
  return SCHEMA.types[signed].fields!.find((f) => f.name === "reading")!.type;
}

/** A meter reading signed by its device, one item of `submit_readings`. */
export function signedReading(device: Keypair, chainId: number, reading: JsonObject): JsonObject {
  const message = concat(enc("machina/reading/v1"), uint(BigInt(chainId), 8), encode(readingType(), reading as Json));
  return { reading, device_key: toHex(device.publicKey), signature: toHex(device.sign(message)) };
}
