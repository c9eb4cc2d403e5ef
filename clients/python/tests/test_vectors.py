"""The client's encoder, signer and ids against docs/vectors.json, written by the node's codec."""

import json
import os
import unittest
from pathlib import Path

from machina_client import Keypair, SCHEMA, encode_body, encode_tx, sign, signing_message, tx_id
from machina_client.codec import EncodeError, encode_action

ROOT = Path(os.environ.get("MACHINA_REPO", Path(__file__).resolve().parents[3]))
VECTORS = json.loads((ROOT / "docs" / "vectors.json").read_text())


class Vectors(unittest.TestCase):
    def test_schema_is_the_documented_one(self):
        self.assertEqual(SCHEMA, json.loads((ROOT / "docs" / "schema.json").read_text()))

    def test_every_action_kind_has_a_vector(self):
        named = {v["tx"]["body"]["actions"][0]["type"] for v in VECTORS}
        self.assertEqual(named, {a["type"] for a in SCHEMA["actions"]})

    def test_bytes_message_id_and_signatures(self):
        alice, bob = Keypair.dev("alice"), Keypair.dev("bob")
        for v in VECTORS:
            with self.subTest(v["name"]):
                body = v["tx"]["body"]
                self.assertEqual(encode_body(body).hex(), v["body_bytes"])
                self.assertEqual(signing_message(body).hex(), v["signing_message"])
                self.assertEqual(tx_id(body), v["tx_id"])
                self.assertEqual(encode_tx(v["tx"]).hex(), v["tx_bytes"])
                signers = [alice, bob][: len(v["signatures"])]
                self.assertEqual(sign(body, signers)["signatures"], v["signatures"])
                self.assertEqual("0x" + alice.public_key.hex(), v["public_key"])

    def test_a_wrong_value_names_its_field(self):
        bad = {"type": "transfer", "to": "0x01", "amount": "5"}
        with self.assertRaisesRegex(EncodeError, r"\.to: a address is 20 bytes"):
            encode_action(bad)
        with self.assertRaisesRegex(EncodeError, "missing field 'amount'"):
            encode_action({"type": "transfer", "to": "0x" + "01" * 20})
        with self.assertRaisesRegex(EncodeError, "does not fit a u64"):
            encode_action({"type": "revoke_machine", "machine_id": 2**64})


if __name__ == "__main__":
    unittest.main()
