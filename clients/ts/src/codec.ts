/**
 * Machina's canonical encoding (docs/wire.md), driven by the action schema (schema.json):
 * integers big-endian and fixed width, lists and strings with a u32 length, an option as a 0/1
 * byte, an enum as its tag byte and its fields. One function encodes any action from its JSON
 * form.
 */
import schemaJson from "./schema.json" with { type: "json" };

/** A type in the schema: a primitive or type name, or an option, list or tuple of types. */
export type SchemaType = string | { option: SchemaType } | { list: SchemaType } | { tuple: SchemaType[] };
/** A named field of a struct, an enum variant or an action. */
export interface Field { name: string; type: SchemaType }
/** A struct, or an enum written as a string or as an object tagged by `tag_key`. */
export interface TypeDef {
  kind: "struct" | "enum";
  fields?: Field[];
  repr?: "string" | "tagged";
  tag_key?: string;
  variants?: { name: string; tag: number; fields?: Field[] }[];
}
/** One action: its tag byte, JSON `type`, module and fields in encoding order. */
export interface ActionSpec { tag: number; type: string; module: string; fields: Field[] }
/** The whole schema (a copy of docs/schema.json). */
export interface Schema { version: number; types: Record<string, TypeDef>; actions: ActionSpec[] }

export const SCHEMA = schemaJson as unknown as Schema;
export const ACTIONS: ReadonlyMap<string, ActionSpec> = new Map(SCHEMA.actions.map((a) => [a.type, a]));

/** A JSON value as the node reads it. */
export type Json = null | boolean | number | string | bigint | Uint8Array | Json[] | { [k: string]: Json };
/** An object in JSON form. */
export type JsonObject = { [k: string]: Json };

/** A value does not fit the schema: the message names the path to it. */
export class EncodeError extends Error {}

const INTS: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, u128: 16, amount: 16 };
const FIXED: Record<string, number> = { address: 20, bytes32: 32, signature: 64 };

/** Lowercase hex with `0x`, as the API writes bytes. */
export function toHex(raw: Uint8Array): string {
  return "0x" + Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes from `0x`-hex (or bare hex), or bytes as they are. */
export function fromHex(value: Json, path = "value"): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== "string") throw new EncodeError(`${path}: expected hex bytes, got ${typeof value}`);
  const text = value.startsWith("0x") ? value.slice(2) : value;
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new EncodeError(`${path}: ${JSON.stringify(value.slice(0, 80))} is not hex`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Concatenates byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function toInt(value: Json, path: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  throw new EncodeError(`${path}: expected an integer, got ${JSON.stringify(String(value))}`);
}

/** `n` as `width` big-endian bytes; `signed` in two's complement. */
export function uint(n: bigint, width: number, path = "value", signed = false): Uint8Array {
  const bits = BigInt(width * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (n < min || n > max) throw new EncodeError(`${path}: ${n} does not fit ${width * 8} bits${signed ? " (signed)" : ""}`);
  let v = n < 0n ? n + (1n << bits) : n;
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

const u32 = (n: number) => uint(BigInt(n), 4);

function primitive(ty: string, value: Json, path: string): Uint8Array {
  if (ty in INTS) return uint(toInt(value, path), INTS[ty], `${path} (${ty})`);
  if (ty === "i64") return uint(toInt(value, path), 8, `${path} (i64)`, true);
  if (ty === "bool") {
    if (typeof value !== "boolean") throw new EncodeError(`${path}: expected true or false`);
    return Uint8Array.of(value ? 1 : 0);
  }
  if (ty === "string") {
    if (typeof value !== "string") throw new EncodeError(`${path}: expected a string`);
    const raw = new TextEncoder().encode(value);
    return concat(u32(raw.length), raw);
  }
  if (ty === "bytes") { const raw = fromHex(value, path); return concat(u32(raw.length), raw); }
  if (ty in FIXED) {
    const raw = fromHex(value, path);
    if (raw.length !== FIXED[ty]) throw new EncodeError(`${path}: a ${ty} is ${FIXED[ty]} bytes, got ${raw.length}`);
    return raw;
  }
  throw new EncodeError(`${path}: unknown type ${JSON.stringify(ty)} in the schema`);
}

/** Encodes `value` (its JSON form) as schema type `ty`. */
export function encode(ty: SchemaType, value: Json, path = "value"): Uint8Array {
  if (typeof ty === "object") {
    if ("option" in ty) return value === null || value === undefined ? Uint8Array.of(0) : concat(Uint8Array.of(1), encode(ty.option, value, path));
    if ("list" in ty) {
      if (!Array.isArray(value)) throw new EncodeError(`${path}: expected a list`);
      return concat(u32(value.length), ...value.map((v, i) => encode(ty.list, v, `${path}[${i}]`)));
    }
    if (!Array.isArray(value) || value.length !== ty.tuple.length) throw new EncodeError(`${path}: expected a list of ${ty.tuple.length} items`);
    return concat(...ty.tuple.map((t, i) => encode(t, value[i], `${path}[${i}]`)));
  }
  const def = SCHEMA.types[ty];
  return def ? named(def, ty, value, path) : primitive(ty, value, path);
}

function asObject(value: Json, path: string): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new EncodeError(`${path}: expected an object`);
  }
  return value;
}

function fields(spec: Field[], value: Json, path: string): Uint8Array {
  const obj = asObject(value, path);
  return concat(...spec.map((f) => {
    if (!(f.name in obj)) throw new EncodeError(`${path}: missing field ${JSON.stringify(f.name)}`);
    return encode(f.type, obj[f.name], `${path}.${f.name}`);
  }));
}

function named(def: TypeDef, name: string, value: Json, path: string): Uint8Array {
  if (def.kind === "struct") return fields(def.fields ?? [], value, path);
  const variants = def.variants ?? [];
  if (def.repr === "string") {
    const v = variants.find((x) => x.name === value);
    if (!v) throw new EncodeError(`${path}: ${JSON.stringify(value)} is not a ${name} (one of ${variants.map((x) => x.name).join(", ")})`);
    return Uint8Array.of(v.tag);
  }
  const key = def.tag_key ?? "type";
  const obj = asObject(value, path);
  const v = variants.find((x) => x.name === obj[key]);
  if (!v) throw new EncodeError(`${path}: ${JSON.stringify(obj[key])} is not a ${name}`);
  return concat(Uint8Array.of(v.tag), fields(v.fields ?? [], obj, path));
}

/** An action's tag byte and fields, from its JSON form (`{type: "transfer", ...}`). */
export function encodeAction(action: JsonObject, path = "action"): Uint8Array {
  const spec = ACTIONS.get(String(action.type));
  if (!spec) throw new EncodeError(`${path}: unknown action type ${JSON.stringify(action.type)}`);
  return concat(Uint8Array.of(spec.tag), fields(spec.fields, action, `${path}(${spec.type})`));
}

/** A transaction body in its JSON form. */
export interface TxBody {
  chain_id: number;
  sender: string;
  nonce: number;
  fee: string;
  expiry_height: number;
  fee_payer: string | null;
  actions: JsonObject[];
}
/** One signature: the signer's public key and its signature, hex. */
export interface TxSignature { public_key: string; signature: string }
/** A signed transaction in its JSON form, for `POST /v1/tx`. */
export interface Transaction { body: TxBody; signatures: TxSignature[] }

/** The body's bytes: what is signed and what the id hashes. */
export function encodeBody(body: TxBody): Uint8Array {
  return concat(
    Uint8Array.of(1),
    primitive("u64", body.chain_id, "chain_id"),
    primitive("address", body.sender, "sender"),
    primitive("u64", body.nonce, "nonce"),
    primitive("amount", body.fee, "fee"),
    primitive("u64", body.expiry_height, "expiry_height"),
    encode({ option: "address" }, body.fee_payer, "fee_payer"),
    u32(body.actions.length),
    ...body.actions.map((a, i) => encodeAction(a, `actions[${i}]`)),
  );
}

/** The whole transaction: the body, then each signature as public key and signature. */
export function encodeTx(tx: Transaction): Uint8Array {
  return concat(
    encodeBody(tx.body),
    u32(tx.signatures.length),
    ...tx.signatures.flatMap((s, i) => [primitive("bytes32", s.public_key, `signatures[${i}].public_key`), primitive("signature", s.signature, `signatures[${i}].signature`)]),
  );
}

/** `value` in the JSON form the node reads: amounts as decimal strings, bytes as hex, so a
 * caller may write `amount: 2_500_000` or pass a `Uint8Array`. */
export function toJson(ty: SchemaType, value: Json): Json {
  if (value === null || value === undefined) return null;
  if (typeof ty === "object") {
    if ("option" in ty) return toJson(ty.option, value);
    if ("list" in ty) return Array.isArray(value) ? value.map((v) => toJson(ty.list, v)) : value;
    return Array.isArray(value) ? value.map((v, i) => toJson(ty.tuple[i], v)) : value;
  }
  if ((ty === "amount" || ty === "u128") && (typeof value === "number" || typeof value === "bigint")) {
    return ty === "amount" ? value.toString() : value;
  }
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return toHex(value);
  const def = SCHEMA.types[ty];
  if (!def || typeof value !== "object" || Array.isArray(value)) return value;
  if (def.kind === "struct") return fieldsJson(def.fields ?? [], value);
  if (def.repr === "tagged") {
    const v = (def.variants ?? []).find((x) => x.name === value[def.tag_key ?? "type"]);
    return v ? fieldsJson(v.fields ?? [], value) : value;
  }
  return value;
}

function fieldsJson(spec: Field[], value: JsonObject): JsonObject {
  const out: JsonObject = { ...value };
  for (const f of spec) if (f.name in out) out[f.name] = toJson(f.type, out[f.name]);
  return out;
}

/** An action in the node's JSON form (see `toJson`). */
export function actionJson(a: JsonObject): JsonObject {
  const spec = ACTIONS.get(String(a.type));
  return spec ? fieldsJson(spec.fields, a) : a;
}

/** An action in the node's JSON form, checked against the schema now rather than at the
 * node: `action("transfer", { to: bob.address, amount: 2_500_000n })`. */
export function action(type: string, values: JsonObject): JsonObject {
  const spec = ACTIONS.get(type);
  if (!spec) throw new EncodeError(`unknown action type ${JSON.stringify(type)}`);
  const out = fieldsJson(spec.fields, { type, ...values });
  encodeAction(out);
  return out;
}
