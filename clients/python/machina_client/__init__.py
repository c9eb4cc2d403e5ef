"""Machina's reference Python client.

Build, sign and submit every action (the schema in `schema.json` drives the encoder), wait for
receipts, query the API and follow the event stream. The wire format is `docs/wire.md`.
"""

from typing import Any, Dict

from .client import Client, MachinaError
from .codec import ACTIONS, SCHEMA, EncodeError, action_json, encode_action, encode_body, encode_tx
from .keys import DEV_ACCOUNTS, Keypair, address_of, machine_account, verify
from .tx import DEV_CHAIN_ID, MIN_FEE, body, device_pop, sign, signed_reading, signing_message, tx_id
from .ws import WebSocket, follow


def action(action_type: str, /, **fields: Any) -> Dict[str, Any]:
    """An action's JSON form, checked against the schema now rather than at the node:
    `action("transfer", to=bob.address, amount=2_500_000)`."""
    value = action_json({"type": action_type, **fields})
    encode_action(value)  # raises EncodeError naming the field that is wrong or missing
    return value


__all__ = [
    "ACTIONS", "Client", "action_json", "DEV_ACCOUNTS", "DEV_CHAIN_ID", "EncodeError", "Keypair",
    "MIN_FEE", "MachinaError", "SCHEMA", "WebSocket", "action", "address_of", "body",
    "device_pop", "encode_action", "encode_body", "encode_tx", "follow", "machine_account",
    "sign", "signed_reading", "signing_message", "tx_id", "verify",
]
