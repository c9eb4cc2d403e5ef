"""Transactions: the body, the signing message, signatures and the id (docs/wire.md)."""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterable, List, Optional

from .codec import SCHEMA, encode, encode_body
from .keys import Keypair, hex0x

SIGNING_DOMAIN = b"machina/tx/v1"
TXID_DOMAIN = b"machina/txid/v1"
DEVICE_POP_DOMAIN = b"machina/device-pop/v1"
READING_DOMAIN = b"machina/reading/v1"
DEV_CHAIN_ID = 8645
MIN_FEE = 1000


def body(
    chain_id: int,
    sender: str,
    nonce: int,
    actions: List[Dict[str, Any]],
    fee: int = MIN_FEE,
    expiry_height: int = 2**63,
    fee_payer: Optional[str] = None,
) -> Dict[str, Any]:
    """A transaction body in its JSON form."""
    return {
        "chain_id": chain_id,
        "sender": sender,
        "nonce": nonce,
        "fee": str(fee),
        "expiry_height": expiry_height,
        "fee_payer": fee_payer,
        "actions": actions,
    }


def signing_message(tx_body: Dict[str, Any]) -> bytes:
    """What each signer signs: the domain and the encoded body."""
    return SIGNING_DOMAIN + encode_body(tx_body)


def tx_id(tx_body: Dict[str, Any]) -> str:
    """The transaction id: SHA-256 of the domain and the body (signatures are not in it)."""
    return hex0x(hashlib.sha256(TXID_DOMAIN + encode_body(tx_body)).digest())


def sign(tx_body: Dict[str, Any], signers: Iterable[Keypair]) -> Dict[str, Any]:
    """The signed transaction in its JSON form, for `POST /v1/tx`."""
    message = signing_message(tx_body)
    sigs = [
        {"public_key": hex0x(k.public_key), "signature": hex0x(k.sign(message))} for k in signers
    ]
    return {"body": tx_body, "signatures": sigs}


def device_pop(device: Keypair, chain_id: int, owner: str) -> str:
    """A device key's proof of possession for its owner, for `register_machine`."""
    owner_raw = bytes.fromhex(owner[2:])
    return hex0x(device.sign(DEVICE_POP_DOMAIN + chain_id.to_bytes(8, "big") + owner_raw))


def _reading_type() -> Any:
    spec = next(a for a in SCHEMA["actions"] if a["type"] == "submit_readings")
    signed = spec["fields"][0]["type"]["list"]
    return next(f["type"] for f in SCHEMA["types"][signed]["fields"] if f["name"] == "reading")


def signed_reading(device: Keypair, chain_id: int, reading: Dict[str, Any]) -> Dict[str, Any]:
    """A meter reading signed by its device, one item of `submit_readings`."""
    message = READING_DOMAIN + chain_id.to_bytes(8, "big") + encode(_reading_type(), reading)
    return {
        "reading": reading,
        "device_key": hex0x(device.public_key),
        "signature": hex0x(device.sign(message)),
    }
