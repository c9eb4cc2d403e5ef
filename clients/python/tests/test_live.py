"""The client against a live dev node: a transfer, a machine registered with its device's proof
of possession, a signed meter reading, an energy order, queries and the event stream."""

import itertools
import time
import unittest

from machina_client import Keypair, MachinaError, action, device_pop, machine_account, signed_reading

from node import DevNode

ZONE = "py-zone"
INTERVAL_MS = 900_000
GATE_MS = 300_000


def event(receipt, kind):
    return next(e for e in receipt["events"] if e["kind"] == kind)


class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = DevNode()
        cls.client = cls.node.start()
        cls.alice = Keypair.dev("alice")

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def test_1_transfer_and_history(self):
        carol = Keypair.generate()
        before = self.client.balance(self.alice.address)
        view = self.client.send(self.alice, [action("transfer", to=carol.address, amount=2_500_000)])
        self.assertTrue(view["receipt"]["success"])
        self.assertEqual(self.client.balance(carol.address), 2_500_000)
        fee = int(view["receipt"]["fee_charged"])
        self.assertEqual(self.client.balance(self.alice.address), before - 2_500_000 - fee)
        hist = self.client.account_txs(carol.address)
        self.assertEqual(hist["txs"][0]["tx_hash"], view["tx_hash"])

    def test_2_failure_is_stopped_by_preflight(self):
        poor = Keypair.generate()
        self.client.send(self.alice, [action("transfer", to=poor.address, amount=10_000)])
        with self.assertRaises(MachinaError) as e:
            self.client.send(poor, [action("transfer", to=self.alice.address, amount=10**12)])
        self.assertEqual(e.exception.code, "insufficient_funds")
        self.assertEqual(self.client.balance(poor.address), 10_000)  # nothing sent, no fee

    def test_3_machine_reading_and_order(self):
        c, chain_id = self.client, self.client.chain_id()
        owner, device = Keypair.generate(), Keypair.generate()
        c.send(self.alice, [action("transfer", to=owner.address, amount=50_000_000)])
        c.send(self.alice, [action(
            "create_zone",
            config={
                "name": ZONE, "interval_ms": INTERVAL_MS, "gate_closure_ms": GATE_MS,
                "retail_price": 300_000, "feed_in_price": 80_000, "market_fee_bps": 50,
                "rule": {"rule": "pay_as_clear", "k_ppm": 500_000},
                "import_limit_w": 100_000, "export_limit_w": 100_000,
                "settlement_deadline_ms": 1_800_000,
            },
            grid_float=100_000_000,
        )])
        view = c.send(owner, [action(
            "register_machine",
            device_key=device.public_key,
            device_signature=device_pop(device, chain_id, owner.address),
            kind="solar", rated_power_w=4200, capacity_wh=None, zone=ZONE,
            metadata={"manufacturer": "Acme", "model": "PV-1", "serial": "SN-1", "extra": []},
            attestation=None,
        )])
        machine_id = int(event(view["receipt"], "machine_registered")["attrs"]["machine_id"])
        record = c.machine(machine_id)
        self.assertEqual(record["owner"], owner.address)
        account = machine_account(machine_id)
        c.send(owner, [action("transfer", to=account, amount=5_000_000)])

        now_ms = int(time.time() * 1000)
        reading = {"machine_id": machine_id, "channel": 0, "seq": 1, "timestamp_ms": now_ms,
                   "import_wh": 0, "export_wh": 1200}
        c.send(device, [action("submit_readings", readings=[signed_reading(device, chain_id, reading)])],
               sender=account)
        meter = c.get(f"/v1/meter/{machine_id}")
        self.assertEqual((meter["seq"], meter["export_wh"]), (1, 1200))

        start = (now_ms + GATE_MS + 60_000) // INTERVAL_MS * INTERVAL_MS + INTERVAL_MS
        view = c.send(owner, [action("place_order", machine_id=machine_id, side="ask",
                                     interval_start_ms=start, price=100_000, qty_wh=500)])
        order_id = int(event(view["receipt"], "order_placed")["attrs"]["order_id"])
        order = c.get(f"/v1/energy/zone/{ZONE}/order/{order_id}")
        self.assertEqual(order["order"]["qty_wh"] if "order" in order else order["qty_wh"], 500)
        type(self).machine_id = machine_id

    def test_4_event_stream_from_a_past_height(self):
        dan = Keypair.generate()
        view = self.client.send(self.alice, [action("transfer", to=dan.address, amount=7)])
        height = view["height"]
        events = self.client.subscribe(
            {"subscribe": "events", "module": "bank", "kind": "transfer", "account": dan.address,
             "from_height": 1})
        first = next(m for m in events if m["type"] == "event")
        self.assertEqual((first["height"], first["tx_hash"]), (height, view["tx_hash"]))
        self.assertEqual(first["event"]["attrs"]["to"], dan.address)
        blocks = self.client.subscribe({"subscribe": "blocks", "from_height": height})
        got = [m for m in itertools.islice(blocks, 3)]
        self.assertEqual([m["height"] for m in got], [height, height + 1, height + 2])
        hashes = [r["tx_hash"] for r in got[0]["block"]["receipts"]]
        self.assertIn(view["tx_hash"], hashes)

    def test_5_blocks_exactly_once_across_a_restart(self):
        first = self.client.height()
        heights = []
        for msg in self.client.subscribe({"subscribe": "blocks", "from_height": first}):
            heights.append(msg["height"])
            if len(heights) == 3:
                self.node.stop()  # the stream breaks; the client resubscribes after the restart
                self.node.start()
            if len(heights) == 8:
                break
        self.assertEqual(heights, list(range(first, first + 8)))


if __name__ == "__main__":
    unittest.main()
