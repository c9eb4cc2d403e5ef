/** The client's encoder, signer and ids against docs/vectors.json, written by the node's codec. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EncodeError, Keypair, SCHEMA, encodeAction, encodeBody, encodeTx, sign, signingMessage, toHex, txId, type Transaction } from "../src/index.js";
import { ROOT } from "./node.js";

const vectors = JSON.parse(readFileSync(join(ROOT, "docs", "vectors.json"), "utf8")) as {
  name: string; tx: Transaction; tx_bytes: string; body_bytes: string; signing_message: string;
  public_key: string; signatures: { public_key: string; signature: string }[]; tx_id: string;
}[];
const hex = (b: Uint8Array) => toHex(b).slice(2);

test("the schema is the documented one", () => {
  assert.deepEqual(SCHEMA, JSON.parse(readFileSync(join(ROOT, "docs", "schema.json"), "utf8")));
});

test("every action kind has a vector", () => {
  const named = new Set(vectors.map((v) => String(v.tx.body.actions[0].type)));
  assert.deepEqual([...named].sort(), SCHEMA.actions.map((a) => a.type).sort());
});

test("bytes, signing message, id and signatures of every vector", () => {
  const alice = Keypair.dev("alice"), bob = Keypair.dev("bob");
  for (const v of vectors) {
    const b = v.tx.body;
    assert.equal(hex(encodeBody(b)), v.body_bytes, v.name);
    assert.equal(hex(signingMessage(b)), v.signing_message, v.name);
    assert.equal(txId(b), v.tx_id, v.name);
    assert.equal(hex(encodeTx(v.tx)), v.tx_bytes, v.name);
    assert.deepEqual(sign(b, [alice, bob].slice(0, v.signatures.length)).signatures, v.signatures, v.name);
    assert.equal(alice.publicKeyHex, v.public_key);
  }
});

test("a wrong value names its field", () => {
  assert.throws(() => encodeAction({ type: "transfer", to: "0x01", amount: "5" }), (e: Error) => e instanceof EncodeError && /\.to: a address is 20 bytes/.test(e.message));
  assert.throws(() => encodeAction({ type: "transfer", to: "0x" + "01".repeat(20) }), /missing field "amount"/);
  assert.throws(() => encodeAction({ type: "revoke_machine", machine_id: 2n ** 64n }), /does not fit 64 bits/);
});
