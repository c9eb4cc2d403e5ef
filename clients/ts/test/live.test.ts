/** The client against a live dev node: a transfer, a machine registered with its device's
 * proof of possession, a signed meter reading, an energy order, queries and the event stream. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Keypair, MachinaError, action, devicePop, machineAccount, signedReading, type Client } from "../src/index.js";
import { DevNode } from "./node.js";

const ZONE = "ts-zone", INTERVAL_MS = 900_000, GATE_MS = 300_000;
const node = new DevNode();
let c: Client;
const alice = Keypair.dev("alice");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const event = (receipt: any, kind: string) => receipt.events.find((e: any) => e.kind === kind);

before(async () => { c = await node.start(); });
after(async () => { await node.stop(); });

test("a transfer, its fee and its history", async () => {
  const carol = Keypair.generate();
  const start = await c.balance(alice.address);
  const view = await c.send(alice, [action("transfer", { to: carol.address, amount: 2_500_000n })]);
  assert.equal(view.receipt.success, true);
  assert.equal(await c.balance(carol.address), 2_500_000n);
  assert.equal(await c.balance(alice.address), start - 2_500_000n - BigInt(view.receipt.fee_charged));
  const hist = await c.accountTxs(carol.address);
  assert.equal(hist.txs[0].tx_hash, view.tx_hash);
});

test("a failing transaction is stopped by the preflight and costs nothing", async () => {
  const poor = Keypair.generate();
  await c.send(alice, [action("transfer", { to: poor.address, amount: 10_000 })]);
  await assert.rejects(c.send(poor, [action("transfer", { to: alice.address, amount: 10n ** 12n })]), (e: unknown) => e instanceof MachinaError && e.code === "insufficient_funds");
  assert.equal(await c.balance(poor.address), 10_000n);
});

test("a machine registered with proof of possession, a signed reading and an energy order", async () => {
  const chainId = await c.chainId();
  const owner = Keypair.generate(), device = Keypair.generate();
  await c.send(alice, [action("transfer", { to: owner.address, amount: 50_000_000 })]);
  await c.send(alice, [action("create_zone", {
    config: { name: ZONE, interval_ms: INTERVAL_MS, gate_closure_ms: GATE_MS, retail_price: 300_000, feed_in_price: 80_000, market_fee_bps: 50,
      rule: { rule: "pay_as_clear", k_ppm: 500_000 }, import_limit_w: 100_000, export_limit_w: 100_000, settlement_deadline_ms: 1_800_000 },
    grid_float: 100_000_000,
  })]);
  const reg = await c.send(owner, [action("register_machine", {
    device_key: device.publicKey, device_signature: devicePop(device, chainId, owner.address),
    kind: "solar", rated_power_w: 4200, capacity_wh: null, zone: ZONE,
    metadata: { manufacturer: "Acme", model: "PV-1", serial: "SN-1", extra: [] }, attestation: null,
  })]);
  const id = Number(event(reg.receipt, "machine_registered").attrs.machine_id);
  assert.equal((await c.machine(id)).owner, owner.address);
  const account = machineAccount(id);
  await c.send(owner, [action("transfer", { to: account, amount: 5_000_000 })]);

  const now = Date.now();
  const reading = { machine_id: id, channel: 0, seq: 1, timestamp_ms: now, import_wh: 0, export_wh: 1200 };
  await c.send(device, [action("submit_readings", { readings: [signedReading(device, chainId, reading)] })], { sender: account });
  const meter = await c.get(`/v1/meter/${id}`);
  assert.deepEqual([meter.seq, meter.export_wh], [1, 1200]);

  const start = Math.floor((now + GATE_MS + 60_000) / INTERVAL_MS) * INTERVAL_MS + INTERVAL_MS;
  const placed = await c.send(owner, [action("place_order", { machine_id: id, side: "ask", interval_start_ms: start, price: 100_000, qty_wh: 500 })]);
  const orderId = Number(event(placed.receipt, "order_placed").attrs.order_id);
  const order = await c.get(`/v1/energy/zone/${ZONE}/order/${orderId}`);
  assert.equal((order.order ?? order).qty_wh, 500);
});

test("the event stream from a past height, then live", async () => {
  const dan = Keypair.generate();
  const view = await c.send(alice, [action("transfer", { to: dan.address, amount: 7 })]);
  const h = view.height;
  for await (const m of c.subscribe({ subscribe: "events", module: "bank", kind: "transfer", account: dan.address, from_height: 1 })) {
    if (m.type !== "event") continue;
    assert.deepEqual([m.height, m.tx_hash, m.event.attrs.to], [h, view.tx_hash, dan.address]);
    break;
  }
  const heights: number[] = [];
  for await (const m of c.subscribe({ subscribe: "blocks", from_height: h })) {
    heights.push(m.height);
    if (heights.length === 1) assert.ok(m.block.receipts.some((r: { tx_hash: string }) => r.tx_hash === view.tx_hash));
    if (heights.length === 3) break;
  }
  assert.deepEqual(heights, [h, h + 1, h + 2]);
});

test("every block exactly once across a restart of the node", async () => {
  const first = await c.height();
  const heights: number[] = [];
  for await (const m of c.subscribe({ subscribe: "blocks", from_height: first })) {
    heights.push(m.height);
    if (heights.length === 3) { await node.stop(); await node.start(); } // the client resubscribes
    if (heights.length === 8) break;
  }
  assert.deepEqual(heights, Array.from({ length: 8 }, (_, i) => first + i));
});
