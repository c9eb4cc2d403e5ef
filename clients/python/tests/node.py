"""Starts a real `machina dev` node for the live tests: `MACHINA_BIN`, or the workspace's
debug binary."""

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from machina_client import Client

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevNode:
    """One dev chain in a temporary data directory, stopped with SIGTERM."""

    def __init__(self):
        self.bin = os.environ.get("MACHINA_BIN", str(ROOT / "target" / "debug" / "machina"))
        self.dir = tempfile.mkdtemp(prefix="machina-py-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> Client:
        with open(os.path.join(self.dir, "node.log"), "ab") as log:
            self.proc = self._spawn(log)
        client = Client(self.url)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.health()
                return client
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"machina dev did not start: see {self.dir}/node.log")
                time.sleep(0.1)

    def _spawn(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [self.bin, "dev", "--data-dir", os.path.join(self.dir, "data"),
             "--http", f"127.0.0.1:{self.port}", "--keystore", os.path.join(self.dir, "ks.json")],
            stdout=log, stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
