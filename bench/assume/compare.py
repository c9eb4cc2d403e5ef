#!/usr/bin/env python3
"""Machina `energy clear` vs ASSUME pay_as_clear on the same random order books.

For each N in --sizes: N bids + N asks (2N orders), prices integer uniform in
[50_000, 300_000] micro/kWh, quantities integer uniform in [100, 5_000] Wh, seeded.

* ASSUME: PayAsClearRole(config).clear(orderbook, products); only that call is
  timed, in a forked child so a size that runs past --budget seconds can be
  killed and reported instead of hanging the run.
* Machina: `machina energy clear --book FILE --json`, timed as a whole process
  (startup + reading the JSON book + clearing + printing), median of 3.
* A plain integer two-pointer clearing in this file is the reference for the
  maximal traded volume and the marginal bid/ask.

Prints a markdown table. Run through run.sh, which makes the venv.
"""

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.normpath(os.path.join(HERE, "..", "..", "target", "release", "machina"))
PRICE_MIN, PRICE_MAX = 50_000, 300_000
QTY_MIN, QTY_MAX = 100, 5_000


def make_book(n, seed):
    """n bids and n asks as (id, price, qty_wh) integer tuples."""
    rng = random.Random(seed * 1_000_003 + n)
    bids = [(f"b{i}", rng.randint(PRICE_MIN, PRICE_MAX), rng.randint(QTY_MIN, QTY_MAX)) for i in range(n)]
    asks = [(f"a{i}", rng.randint(PRICE_MIN, PRICE_MAX), rng.randint(QTY_MIN, QTY_MAX)) for i in range(n)]
    return bids, asks


def write_machina_book(path, bids, asks, k=0.5):
    book = {
        "rule": "pay-as-clear",
        "k": k,
        "bids": [{"id": i, "price": p, "qty_wh": q} for i, p, q in bids],
        "asks": [{"id": i, "price": p, "qty_wh": q} for i, p, q in asks],
    }
    with open(path, "w") as f:
        json.dump(book, f, separators=(",", ":"))


def reference_clear(bids, asks, k=0.5):
    """Exact integer clearing: bids highest first meet asks lowest first.
    Returns (volume_wh, p_low, p_high, k_price) where [p_low, p_high] is the range of
    uniform prices under which nobody left out would rather trade:
    p_low = max(highest traded ask, highest bid left with unfilled quantity),
    p_high = min(lowest traded bid, lowest ask left with unfilled quantity),
    and k_price = p_low + floor(k * (p_high - p_low)) (Machina's stated rule)."""
    b = sorted(bids, key=lambda o: -o[1])
    a = sorted(asks, key=lambda o: o[1])
    i = j = 0
    vol = 0
    b_left = b[0][2] if b else 0
    a_left = a[0][2] if a else 0
    last_ask = last_bid = None
    while i < len(b) and j < len(a) and b[i][1] >= a[j][1]:
        t = min(b_left, a_left)
        vol += t
        last_bid, last_ask = b[i][1], a[j][1]
        b_left -= t
        a_left -= t
        if b_left == 0:
            i += 1
            b_left = b[i][2] if i < len(b) else 0
        if a_left == 0:
            j += 1
            a_left = a[j][2] if j < len(a) else 0
    if not vol:
        return 0, None, None, None
    p_low = max([last_ask] + ([b[i][1]] if i < len(b) else []))
    p_high = min([last_bid] + ([a[j][1]] if j < len(a) else []))
    k_ppm = round(k * 1_000_000)
    return vol, p_low, p_high, p_low + (p_high - p_low) * k_ppm // 1_000_000


# ---------------------------------------------------------------- ASSUME side

def assume_setup():
    """A one-product (1 h) pay_as_clear market; returns (role, products, start, end)."""
    from dateutil import rrule as rr
    from assume.common.market_objects import MarketConfig, MarketProduct
    from assume.markets.clearing_algorithms import clearing_mechanisms

    t0 = datetime(2025, 1, 1)
    config = MarketConfig(
        market_id="bench",
        market_mechanism="pay_as_clear",
        market_products=[MarketProduct(timedelta(hours=1), 1, timedelta(hours=1))],
        opening_hours=rr.rrule(rr.HOURLY, dtstart=t0, until=t0 + timedelta(hours=2)),
    )
    role = clearing_mechanisms["pay_as_clear"](config)
    start, end = t0 + timedelta(hours=1), t0 + timedelta(hours=2)
    return role, [(start, end, None)], start, end


def assume_orderbook(bids, asks, start, end):
    """ASSUME orders: floats; supply (asks) volume > 0, demand (bids) volume < 0.
    Units kept as Machina's (micro/kWh, Wh): every value is an integer below 2**53,
    so float sums stay exact and the volumes can be compared with ==."""
    def order(oid, price, volume):
        return {"bid_id": oid, "agent_addr": oid, "start_time": start, "end_time": end,
                "only_hours": None, "node": "node0", "price": float(price), "volume": float(volume)}
    return [order(i, p, -q) for i, p, q in bids] + [order(i, p, q) for i, p, q in asks]


def assume_child(bids, asks, repeats, conn):
    random.seed(0)  # ASSUME breaks price ties with random.random()
    role, products, start, end = assume_setup()
    times = []
    for _ in range(repeats):
        book = assume_orderbook(bids, asks, start, end)  # clear() mutates orders: fresh book each run
        t = time.perf_counter()
        accepted, rejected, meta, _flows = role.clear(book, products)
        times.append((time.perf_counter() - t) * 1000)
    m = meta[0]
    # supply_volume = sum of accepted_volume over accepted asks;
    # max_price = the uniform price ASSUME gave every accepted order (0.0 if nothing traded)
    conn.send((times, m["supply_volume"], m["max_price"] if m["supply_volume"] else None))
    conn.close()


def run_assume(bids, asks, repeats, budget_s):
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=assume_child, args=(bids, asks, repeats, send))
    p.start()
    send.close()
    if recv.poll(budget_s):
        times, vol, price = recv.recv()
        p.join()
        return statistics.median(times), vol, price
    p.kill()
    p.join()
    return None, None, None


# --------------------------------------------------------------- Machina side

def machina_has_energy(binary):
    if not os.access(binary, os.X_OK):
        return False
    r = subprocess.run([binary, "energy", "clear", "--help"], capture_output=True, text=True)
    return r.returncode == 0


def run_machina(binary, book_path, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        r = subprocess.run([binary, "energy", "clear", "--book", book_path, "--json"],
                           capture_output=True, text=True)
        times.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            raise RuntimeError(f"machina exited {r.returncode}: {r.stderr.strip()[:500]}")
        out = json.loads(r.stdout)
    # Without --json the binary also prints "cleared in X ms": its own clearing time,
    # without process startup or reading the book. Median of the same number of runs.
    inner = []
    for _ in range(repeats):
        r = subprocess.run([binary, "energy", "clear", "--book", book_path], capture_output=True, text=True)
        m = re.search(r"cleared in ([0-9.]+) ms", r.stdout)
        if m:
            inner.append(float(m.group(1)))
    inner_ms = statistics.median(inner) if inner else None
    return statistics.median(times), inner_ms, out["volume_wh"], out["clearing_price"]


def startup_ms(binary):
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([binary, "--version"], capture_output=True)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


# ---------------------------------------------------------------------- main

def fmt_ms(x):
    return "-" if x is None else f"{x:,.1f}"


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:,.{nd}f}" if isinstance(x, float) else f"{x:,}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="500,5000,50000,500000", help="N per side, comma separated")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--machina", default=DEFAULT_BIN, help="path to the machina binary")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds ASSUME may take per size")
    ap.add_argument("--books", default=os.path.join(HERE, "books"), help="where Machina book JSON goes")
    ap.add_argument("--assume-only", action="store_true", help="skip Machina even if the binary exists")
    ap.add_argument("--try-all", action="store_true",
                    help="run ASSUME at every size instead of skipping sizes whose quadratic "
                         "extrapolation from the previous size exceeds 3x --budget")
    args = ap.parse_args()

    sizes = [int(s) for s in args.sizes.split(",")]
    use_machina = not args.assume_only and machina_has_energy(args.machina)
    if not use_machina and not args.assume_only:
        print(f"note: {args.machina} missing or has no `energy clear`; ASSUME only", file=sys.stderr)
    os.makedirs(args.books, exist_ok=True)

    rows, notes = [], []
    assume_gave_up = False
    prev = None  # (orders, ms) of the last ASSUME size that finished
    for n in sizes:
        orders = 2 * n
        bids, asks = make_book(n, args.seed)
        ref_vol, p_low, p_high, k_price = reference_clear(bids, asks)
        book_path = os.path.join(args.books, f"book_{orders}.json")
        write_machina_book(book_path, bids, asks)

        repeats = 3 if orders <= 10_000 else 1
        a_ms = a_vol = a_price = None
        est_s = prev[1] / 1000 * (orders / prev[0]) ** 2 if prev else 0
        if assume_gave_up:
            notes.append(f"{orders:,} orders: ASSUME skipped (a smaller size already ran past {args.budget:.0f} s)")
        elif est_s > 3 * args.budget and not args.try_all:
            notes.append(f"{orders:,} orders: ASSUME skipped: its clearing is quadratic here and "
                         f"{prev[0]:,} orders took {prev[1] / 1000:,.1f} s, so ~{est_s:,.0f} s expected "
                         f"(budget {args.budget:.0f} s; --try-all runs it anyway)")
        else:
            print(f"[{orders:,} orders] ASSUME pay_as_clear x{repeats} ...", file=sys.stderr, flush=True)
            a_ms, a_vol, a_price = run_assume(bids, asks, repeats, args.budget)
            if a_ms is not None:
                prev = (orders, a_ms)
            else:
                assume_gave_up = True
                notes.append(f"{orders:,} orders: ASSUME did not finish within {args.budget:.0f} s (killed)")

        m_ms = m_inner = m_vol = m_price = None
        if use_machina:
            print(f"[{orders:,} orders] machina energy clear x3 ...", file=sys.stderr, flush=True)
            try:
                m_ms, m_inner, m_vol, m_price = run_machina(args.machina, book_path, 3)
            except Exception as e:  # report, keep going
                notes.append(f"{orders:,} orders: Machina failed: {e}")

        ratio = f"{a_ms / m_ms:,.1f}x" if a_ms and m_ms else "-"
        if a_vol is not None and m_vol is not None:
            agree = "yes" if a_vol == m_vol else "NO"
        else:
            agree = "-"
        for who, v in (("ASSUME", a_vol), ("Machina", m_vol)):
            if v is not None and v != ref_vol:
                notes.append(f"{orders:,} orders: {who} volume {fmt(v)} != reference maximal volume {ref_vol:,}")
        where = lambda p: "-" if p is None else ("inside" if p_low <= p <= p_high else "OUTSIDE")
        notes.append(f"{orders:,} orders: reference volume {ref_vol:,} Wh; clearing-price range "
                     f"[{fmt(p_low)}, {fmt(p_high)}], k=0.5 gives {fmt(k_price)}; ASSUME {fmt(a_price)} "
                     f"({where(a_price)}), Machina {fmt(m_price)} "
                     f"({'= k rule' if m_price == k_price else 'differs from k rule' if m_price is not None else '-'})")
        rows.append([f"{orders:,}", fmt_ms(a_ms), fmt_ms(m_ms), fmt_ms(m_inner), ratio, fmt(a_vol), fmt(m_vol), agree,
                     fmt(a_price), fmt(m_price)])

    head = ["orders", "ASSUME ms", "Machina ms", "Machina clear ms (self-reported)",
            "ratio (ASSUME / Machina process)", "ASSUME volume Wh", "Machina volume Wh",
            "volumes agree?", "ASSUME price", "Machina price"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(" --- " for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    if use_machina:
        print(f"Machina process startup (`machina --version`, median of 3): {startup_ms(args.machina):.1f} ms")
    # Prices differ by design, so they are explained, not forced equal:
    # ASSUME (PayAsClearRole) sets clear_price = max(price of accepted supply), the marginal
    # ask, whatever the bids left over would pay. Machina takes p_low + floor(k*(p_high-p_low))
    # over the range in reference_clear(); with k = 0.5 that is the middle of the range.
    # When the marginal bid is only partly filled, p_low is that bid's price, so ASSUME's
    # marginal-ask price falls below the range (a buyer left out would pay more).
    print("Prices: ASSUME = highest accepted ask (marginal supply price). Machina = "
          "p_low + floor(k*(p_high-p_low)), k=0.5, over the clearing-price range below; "
          "they differ by design.")
    for n in notes:
        print(f"- {n}")


if __name__ == "__main__":
    main()
