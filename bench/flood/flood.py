#!/usr/bin/env python3
"""Floods a dev node with signed transfers and samples its resident memory, to check the
memory budget (docs/memory.md): RSS during and after each flood, and whether a second flood
raises the plateau.

  machina dev --accounts 1000 ...            # the node, funded senders dev-0 .. dev-999
  bench/flood/flood.py http://127.0.0.1:8645 PID [--per-sender 200] [--floods 2] [--rest 30]

Uses the reference Python client (pip install ./clients/python). Before each flood, each of
1,000 senders signs its next `--per-sender` transfers (200,000 in all by default); then they go
to POST /v1/txs in batches of 2,000 as fast as the node takes them.
"""

import argparse
import json
import threading
import time
import urllib.request

from machina_client import Client, Keypair, action, sign, body

BATCH = 2000
SENDERS = 1000
AHEAD = 200  # nonces signed ahead per sender, within the mempool's per-sender limit


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post_batch(url, txs):
    req = urllib.request.Request(url + "/v1/txs", data=json.dumps(txs).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return {"error": e.code}


def presign(client, keys, per_sender):
    """`per_sender` transfers from each key, at its next nonces, signed before the clock runs."""
    chain_id, to = client.chain_id(), Keypair.dev("bob").address
    expiry = client.height() + 100_000
    txs = []
    for k in keys:
        n0 = int(client.account(k.address)["nonce"])
        for n in range(n0, n0 + per_sender):
            b = body(chain_id, k.address, n, [action("transfer", to=to, amount=1)], expiry_height=expiry)
            txs.append(sign(b, [k]))
    # Interleave senders so each batch carries many of them.
    return [txs[i * per_sender + j] for j in range(per_sender) for i in range(len(keys))]


def flood(url, txs):
    start = time.monotonic()
    for i in range(0, len(txs), BATCH):
        post_batch(url, txs[i:i + BATCH])
    return time.monotonic() - start


def wait_empty(client, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = client.get("/metrics")  # text
        line = next((l for l in m.splitlines() if l.startswith("machina_mempool_size ")), "x 0")
        if float(line.split()[1]) == 0:
            return
        time.sleep(0.5)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("pid", type=int)
    p.add_argument("--per-sender", type=int, default=AHEAD)
    p.add_argument("--floods", type=int, default=2)
    p.add_argument("--rest", type=float, default=30)
    a = p.parse_args()
    client = Client(a.url)
    keys = [Keypair.dev(f"dev-{i}") for i in range(SENDERS)]
    print(f"start: RSS {rss_mb(a.pid):.0f} MB")
    for n in range(1, a.floods + 1):
        txs = presign(client, keys, a.per_sender)
        peak, stop = [0.0], threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mb(a.pid))
                time.sleep(0.1)

        t = threading.Thread(target=sample)
        t.start()
        took = flood(a.url, txs)
        wait_empty(client)
        stop.set()
        t.join()
        time.sleep(a.rest)
        print(f"flood {n}: {len(txs)} transfers posted in {took:.1f} s, RSS peak {peak[0]:.0f} MB, "
              f"{a.rest:g} s after the mempool emptied {rss_mb(a.pid):.0f} MB", flush=True)


if __name__ == "__main__":
    main()
