#!/usr/bin/env python3
"""The HTTP attacks of issue 18 against a running node, measured from outside.

  bench/http/attacks.py http://127.0.0.1:8645 [--idle 2000] [--loris 300] [--loris-every 5]

1. `--idle` sockets that connect and never speak;
2. `--loris` slow-loris clients that send a request line, then one header line every
   `--loris-every` seconds, never ending the head;
3. one slow body: a POST whose body comes one byte every 2 s.

For each it reports how many the server closed and after how long (median and max), and the
latency of `GET /v1/health` sampled every 100 ms on fresh connections throughout, with how
many health checks failed. Standard library only.
"""

import argparse
import asyncio
import statistics
import time
import urllib.parse

GIVE_UP_S = 120.0


async def until_closed(reader, started):
    """Seconds from `started` until the server closes the connection (None: never)."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(4096), GIVE_UP_S)
            if not data:
                return time.monotonic() - started, b""
            if b"HTTP/1.1" in data[:16]:
                return time.monotonic() - started, data
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started, b""
    except asyncio.TimeoutError:
        return None, b""


async def idle(host, port):
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        return ("connect_failed", str(e))
    closed, data = await until_closed(reader, started)
    writer.close()
    return ("refused_503" if data.startswith(b"HTTP/1.1 503") else "closed", closed)


async def loris(host, port, every):
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        return ("connect_failed", str(e))
    writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
    watch = asyncio.ensure_future(until_closed(reader, started))
    i = 0
    while not watch.done():
        try:
            await asyncio.wait_for(asyncio.shield(watch), every)
        except asyncio.TimeoutError:
            try:
                writer.write(f"X-{i}: y\r\n".encode())
                await writer.drain()
            except OSError:
                break
            i += 1
    closed, data = await watch
    writer.close()
    return ("refused_503" if data.startswith(b"HTTP/1.1 503") else "closed", closed)


async def slow_body(host, port):
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                 b"Content-Length: 1000\r\n\r\n")
    watch = asyncio.ensure_future(until_closed(reader, started))
    while not watch.done():
        try:
            await asyncio.wait_for(asyncio.shield(watch), 2.0)
        except asyncio.TimeoutError:
            try:
                writer.write(b"x")
                await writer.drain()
            except OSError:
                break
    closed, data = await watch
    writer.close()
    status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1") else "closed"
    return (status, closed)


async def health_sampler(host, port, stop, out):
    while not stop.is_set():
        t = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(reader.read(4096), 10)
            writer.close()
            out.append((time.monotonic() - t) if data.startswith(b"HTTP/1.1 200") else None)
        except (OSError, asyncio.TimeoutError):
            out.append(None)
        await asyncio.sleep(0.1)


def summary(name, results):
    kinds = {}
    for kind, closed in results:
        kinds.setdefault(kind, []).append(closed)
    parts = []
    for kind, times in sorted(kinds.items()):
        ts = [t for t in times if isinstance(t, float)]
        never = sum(1 for t in times if t is None)
        if ts:
            parts.append(f"{len(times)} {kind} after median {statistics.median(ts):.1f} s, "
                         f"max {max(ts):.1f} s" + (f", {never} never" if never else ""))
        else:
            parts.append(f"{len(times)} {kind}" + (f" ({times[0]})" if times else ""))
    print(f"{name}: " + "; ".join(parts))


def health_summary(name, samples):
    ok = sorted(s for s in samples if s is not None)
    failed = len(samples) - len(ok)
    if ok:
        p50 = ok[len(ok) // 2] * 1000
        p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000
        print(f"  health during {name}: {len(samples)} checks, {failed} failed, "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    else:
        print(f"  health during {name}: {len(samples)} checks, all failed")


async def run(name, host, port, attack):
    stop, samples = asyncio.Event(), []
    sampler = asyncio.ensure_future(health_sampler(host, port, stop, samples))
    results = await attack
    stop.set()
    await sampler
    summary(name, results)
    health_summary(name, samples)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--idle", type=int, default=2000)
    p.add_argument("--loris", type=int, default=300)
    p.add_argument("--loris-every", type=float, default=5.0)
    a = p.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port
    await run(f"{a.idle} idle sockets", host, port,
              asyncio.gather(*(idle(host, port) for _ in range(a.idle))))
    await run(f"{a.loris} slow-loris clients (a header line every {a.loris_every:g} s)", host,
              port, asyncio.gather(*(loris(host, port, a.loris_every) for _ in range(a.loris))))
    await run("a slow body (1 byte every 2 s)", host, port,
              asyncio.gather(slow_body(host, port)))


if __name__ == "__main__":
    asyncio.run(main())
