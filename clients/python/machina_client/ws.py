"""The event stream `/v1/ws` (docs/events.md) over a small RFC 6455 client on the standard
library, so the package needs no dependency beyond ed25519."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time
import urllib.parse
from typing import Any, Dict, Iterator, Optional

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message accepted from the server (a block with its receipts is far smaller)."""

MAX_HEADER_BYTES = 16 * 1024
"""The largest handshake answer read."""

MAX_RECONNECTS = 30
"""How many times in a row `follow` reconnects before it gives up."""

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocket:
    """One client connection: send text, receive whole text messages, answer pings."""

    def __init__(self, url: str, timeout_s: Optional[float] = 30.0):
        u = urllib.parse.urlparse(url)
        if u.scheme not in ("ws", "http"):
            raise ValueError(f"{url}: only ws:// and http:// are supported")
        host, port = u.hostname or "127.0.0.1", u.port or 80
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        key = base64.b64encode(os.urandom(16))
        path = u.path or "/"
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = self._read_head()
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"the node refused the WebSocket: {status.decode(errors='replace')}")
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        if accept.lower() not in head.lower():
            raise ConnectionError("the node's WebSocket handshake has the wrong accept key")

    def _read_head(self) -> bytes:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError("the node closed the connection during the handshake")
            buf += chunk
            if len(buf) > MAX_HEADER_BYTES:
                raise ConnectionError("the handshake answer is too long")
        head, self._rest = buf.split(b"\r\n\r\n", 1)
        return head

    def _exact(self, n: int) -> bytes:
        out = self._rest[:n]
        self._rest = self._rest[n:]
        while len(out) < n:
            chunk = self.sock.recv(min(65536, n - len(out)))
            if not chunk:
                raise ConnectionError("the node closed the connection")
            out += chunk
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, text: str) -> None:
        """Send one text message."""
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        """The next text message; answers pings on the way; raises on close."""
        parts = []
        size = 0
        while True:
            b0, b1 = self._exact(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            size += n
            if size > MAX_MESSAGE_BYTES:
                raise ConnectionError(f"a message over {MAX_MESSAGE_BYTES} bytes")
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("the node closed the WebSocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode("utf-8")

    def close(self) -> None:
        """Close the connection (with a close frame, if the socket still works)."""
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


def ws_url(node_url: str) -> str:
    """The WebSocket address of a node's API address."""
    return node_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://") + "/v1/ws"


def follow(
    node_url: str,
    subscription: Dict[str, Any],
    *,
    reconnect: bool = True,
    timeout_s: Optional[float] = None,
) -> Iterator[Dict[str, Any]]:
    """Yield the subscription's `block`, `event` and `height` messages, for ever.

    After a disconnection (a restart of the node, `closing` as a slow consumer) it subscribes
    again from the first height it has not seen completely, and skips the events of that
    height it already yielded, so every message arrives exactly once and in order."""
    sub = dict(subscription)
    is_blocks = sub.get("subscribe") == "blocks"
    done: Optional[int] = None  # the last height received completely
    partial = 0  # events already yielded of height done + 1
    failures = 0
    while True:
        if done is not None:
            sub["from_height"] = done + 1
        try:
            conn = WebSocket(ws_url(node_url), timeout_s)
        except OSError:
            failures += 1
            if not reconnect or failures > MAX_RECONNECTS:
                raise
            time.sleep(min(2.0, 0.1 * failures))
            continue
        try:
            conn.send(json.dumps(sub))
            skip = partial
            while True:
                msg = json.loads(conn.recv())
                kind, height = msg.get("type"), msg.get("height")
                if kind == "subscribed":
                    failures = 0
                    continue
                if kind == "error":
                    from .client import MachinaError

                    raise MachinaError(msg.get("code", "error"), msg.get("message", ""))
                if kind == "closing":
                    break
                if kind == "event":
                    if skip:
                        skip -= 1
                        continue
                    partial += 1
                elif (kind == "block" and is_blocks) or kind == "height":
                    done, partial = height, 0
                yield msg
        except (OSError, ValueError):
            if not reconnect:
                raise
        finally:
            conn.close()
        failures += 1
        if failures > MAX_RECONNECTS:
            raise ConnectionError(f"gave up on {node_url} after {MAX_RECONNECTS} reconnections")
        time.sleep(min(2.0, 0.1 * failures))
