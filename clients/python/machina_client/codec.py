"""Machina's canonical encoding (docs/wire.md), driven by the action schema (schema.json).

Integers are big-endian and fixed width, lists and strings carry a u32 length, an option is a
0/1 byte, an enum is its tag byte and its fields. The schema names every action's fields in
encoding order and their types, so one function encodes any action from its JSON form.
"""

from __future__ import annotations

import json
import struct
from importlib import resources
from typing import Any, Dict, List

_INTS = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "u128": 16, "amount": 16}
_FIXED = {"address": 20, "bytes32": 32, "signature": 64}


class EncodeError(ValueError):
    """A value does not fit the schema: the message names the path to it."""


def load_schema() -> Dict[str, Any]:
    """The schema shipped with this package (a copy of docs/schema.json)."""
    text = resources.files(__package__).joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


SCHEMA = load_schema()
ACTIONS = {a["type"]: a for a in SCHEMA["actions"]}


def hex_bytes(value: Any, path: str) -> bytes:
    """`0x`-prefixed (or bare) hex, or bytes as they are."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise EncodeError(f"{path}: expected hex bytes, got {type(value).__name__}")
    text = value[2:] if value.startswith("0x") else value
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise EncodeError(f"{path}: {value[:80]!r} is not hex: {e}") from None


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise EncodeError(f"{path}: expected an integer, got a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise EncodeError(f"{path}: expected an integer, got {value!r}")


def _length(n: int) -> bytes:
    return struct.pack(">I", n)


def _primitive(ty: str, value: Any, path: str) -> bytes:
    if ty in _INTS:
        n = _int(value, path)
        try:
            return n.to_bytes(_INTS[ty], "big", signed=False)
        except OverflowError:
            raise EncodeError(f"{path}: {n} does not fit a {ty}") from None
    if ty == "i64":
        n = _int(value, path)
        try:
            return n.to_bytes(8, "big", signed=True)
        except OverflowError:
            raise EncodeError(f"{path}: {n} does not fit an i64") from None
    if ty == "bool":
        if not isinstance(value, bool):
            raise EncodeError(f"{path}: expected true or false, got {value!r}")
        return b"\x01" if value else b"\x00"
    if ty == "string":
        if not isinstance(value, str):
            raise EncodeError(f"{path}: expected a string, got {value!r}")
        raw = value.encode("utf-8")
        return _length(len(raw)) + raw
    if ty == "bytes":
        raw = hex_bytes(value, path)
        return _length(len(raw)) + raw
    if ty in _FIXED:
        raw = hex_bytes(value, path)
        if len(raw) != _FIXED[ty]:
            raise EncodeError(f"{path}: a {ty} is {_FIXED[ty]} bytes, got {len(raw)}")
        return raw
    raise EncodeError(f"{path}: unknown type {ty!r} in the schema")


def encode(ty: Any, value: Any, path: str = "value") -> bytes:
    """Encode `value` (its JSON form) as schema type `ty`."""
    if isinstance(ty, dict):
        if "option" in ty:
            if value is None:
                return b"\x00"
            return b"\x01" + encode(ty["option"], value, path)
        if "list" in ty:
            if not isinstance(value, list):
                raise EncodeError(f"{path}: expected a list, got {value!r}")
            items = [encode(ty["list"], v, f"{path}[{i}]") for i, v in enumerate(value)]
            return _length(len(value)) + b"".join(items)
        if "tuple" in ty:
            if not isinstance(value, list) or len(value) != len(ty["tuple"]):
                raise EncodeError(f"{path}: expected a list of {len(ty['tuple'])} items")
            return b"".join(
                encode(t, v, f"{path}[{i}]") for i, (t, v) in enumerate(zip(ty["tuple"], value))
            )
        raise EncodeError(f"{path}: unknown type {ty!r} in the schema")
    if ty in SCHEMA["types"]:
        return _named(SCHEMA["types"][ty], ty, value, path)
    return _primitive(ty, value, path)


def _fields(fields: List[Dict[str, Any]], value: Any, path: str) -> bytes:
    if not isinstance(value, dict):
        raise EncodeError(f"{path}: expected an object, got {value!r}")
    out = []
    for f in fields:
        name = f["name"]
        if name not in value:
            raise EncodeError(f"{path}: missing field {name!r}")
        out.append(encode(f["type"], value[name], f"{path}.{name}"))
    return b"".join(out)


def _named(typedef: Dict[str, Any], name: str, value: Any, path: str) -> bytes:
    if typedef["kind"] == "struct":
        return _fields(typedef["fields"], value, path)
    repr_ = typedef["repr"]
    if repr_ == "string":
        for v in typedef["variants"]:
            if v["name"] == value:
                return bytes([v["tag"]])
        names = ", ".join(v["name"] for v in typedef["variants"])
        raise EncodeError(f"{path}: {value!r} is not a {name} (one of {names})")
    if repr_ == "tagged":
        key = typedef["tag_key"]
        if not isinstance(value, dict) or key not in value:
            raise EncodeError(f"{path}: expected an object with {key!r}")
        for v in typedef["variants"]:
            if v["name"] == value[key]:
                return bytes([v["tag"]]) + _fields(v.get("fields", []), value, path)
        raise EncodeError(f"{path}: {value[key]!r} is not a {name}")
    raise EncodeError(f"{path}: unknown enum representation {repr_!r} in the schema")


def encode_action(action: Dict[str, Any], path: str = "action") -> bytes:
    """An action's tag byte and fields, from its JSON form (`{"type": ..., ...}`)."""
    kind = action.get("type")
    spec = ACTIONS.get(kind)
    if spec is None:
        raise EncodeError(f"{path}: unknown action type {kind!r}")
    return bytes([spec["tag"]]) + _fields(spec["fields"], action, f"{path}({kind})")


def encode_body(body: Dict[str, Any]) -> bytes:
    """The transaction body: what is signed and what the id hashes."""
    actions = body["actions"]
    return b"".join(
        [
            b"\x01",
            _primitive("u64", body["chain_id"], "chain_id"),
            _primitive("address", body["sender"], "sender"),
            _primitive("u64", body["nonce"], "nonce"),
            _primitive("amount", body["fee"], "fee"),
            _primitive("u64", body["expiry_height"], "expiry_height"),
            encode({"option": "address"}, body.get("fee_payer"), "fee_payer"),
            _length(len(actions)),
            *(encode_action(a, f"actions[{i}]") for i, a in enumerate(actions)),
        ]
    )


def encode_tx(tx: Dict[str, Any]) -> bytes:
    """The whole transaction: the body, then each signature as public key and signature."""
    sigs = tx["signatures"]
    parts = [encode_body(tx["body"]), _length(len(sigs))]
    for i, s in enumerate(sigs):
        parts.append(_primitive("bytes32", s["public_key"], f"signatures[{i}].public_key"))
        parts.append(_primitive("signature", s["signature"], f"signatures[{i}].signature"))
    return b"".join(parts)


def to_json(ty: Any, value: Any) -> Any:
    """`value` in the JSON form the node reads: amounts as decimal strings, bytes as 0x-hex.
    Lets callers write `amount=2_500_000` or pass `bytes`."""
    if isinstance(ty, dict):
        if "option" in ty:
            return None if value is None else to_json(ty["option"], value)
        if "list" in ty:
            return [to_json(ty["list"], v) for v in value]
        if "tuple" in ty:
            return [to_json(t, v) for t, v in zip(ty["tuple"], value)]
        return value
    if ty == "amount" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if ty in _FIXED or ty in ("bytes", "bytes32"):
        return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else value
    typedef = SCHEMA["types"].get(ty)
    if typedef is None or not isinstance(value, dict):
        return value
    if typedef["kind"] == "struct":
        return _fields_json(typedef["fields"], value)
    if typedef.get("repr") == "tagged":
        variant = next((v for v in typedef["variants"] if v["name"] == value.get(typedef["tag_key"])), None)
        return _fields_json(variant.get("fields", []), value) if variant else value
    return value


def _fields_json(fields: List[Dict[str, Any]], value: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(value)
    for f in fields:
        if f["name"] in out:
            out[f["name"]] = to_json(f["type"], out[f["name"]])
    return out


def action_json(action: Dict[str, Any]) -> Dict[str, Any]:
    """An action in the node's JSON form (see `to_json`)."""
    spec = ACTIONS.get(action.get("type"))
    return _fields_json(spec["fields"], action) if spec else action
