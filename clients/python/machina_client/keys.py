"""Ed25519 keys, addresses and the dev keys, as docs/wire.md defines them."""

from __future__ import annotations

import hashlib
import os

from nacl.signing import SigningKey, VerifyKey

ADDRESS_DOMAIN = b"machina/address/v1"
DEV_KEY_DOMAIN = b"machina/dev-key/v1/"
MACHINE_ACCOUNT_DOMAIN = b"machina/machine-account/v1"
DEV_ACCOUNTS = ("alice", "bob", "charlie", "dave", "eve", "ferdie")


def hex0x(raw: bytes) -> str:
    """Bytes as the API writes them: `0x` and lowercase hex."""
    return "0x" + raw.hex()


def address_of(public_key: bytes) -> str:
    """An account's address: the first 20 bytes of SHA-256(domain || public key)."""
    return hex0x(hashlib.sha256(ADDRESS_DOMAIN + public_key).digest()[:20])


def machine_account(machine_id: int) -> str:
    """The account a machine pays from and is paid to (no key has it)."""
    digest = hashlib.sha256(MACHINE_ACCOUNT_DOMAIN + machine_id.to_bytes(8, "big")).digest()
    return hex0x(digest[:20])


class Keypair:
    """An ed25519 key: signs messages as they are (RFC 8032), and names its account."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise ValueError(f"an ed25519 secret key (seed) is 32 bytes, got {len(seed)}")
        self._key = SigningKey(seed)
        self.seed = seed
        self.public_key = bytes(self._key.verify_key)
        self.address = address_of(self.public_key)

    @classmethod
    def generate(cls) -> "Keypair":
        """A new random key."""
        return cls(os.urandom(32))

    @classmethod
    def dev(cls, name: str) -> "Keypair":
        """The dev key `name` (alice, bob, ..., dev-0, ...): never use it on a real network."""
        return cls(hashlib.sha256(DEV_KEY_DOMAIN + name.encode()).digest())

    @classmethod
    def from_hex(cls, secret: str) -> "Keypair":
        """A key from its 32-byte secret in hex, as `machina dev` prints it."""
        return cls(bytes.fromhex(secret[2:] if secret.startswith("0x") else secret))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of `message`."""
        return self._key.sign(message).signature

    def __repr__(self) -> str:
        return f"Keypair({self.address})"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_key`'s over `message`."""
    try:
        VerifyKey(public_key).verify(message, signature)
        return True
    except Exception:  # nacl raises BadSignatureError, or ValueError on a malformed key
        return False
