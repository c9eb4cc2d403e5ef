// The dashboard's pages other than the machines': overview, explorer, energy, compute and
// shares. Each renders into `ctx.el` and may return a function called with each new block.

import {
  api, apiOrNull, chart, clock, duration, esc, facts, kwh, link, localTime, parseMetrics,
  listed, perKwh, pool, table, tok,
} from "./lib.js";

/** Calls `f` at most once per `ms`, the last call winning. */
function throttle(ms, f) {
  let timer = null;
  return (...a) => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      f(...a);
    }, ms);
  };
}

const stat = (k, v, id) => `<div class="stat"><div class="k">${esc(k)}</div><div class="v" data-test="${id}">${v}</div></div>`;

/** An event's attributes with units: decimal strings are micro-units, `_wh` energy, `_ms` times. */
export function attrs(a) {
  return Object.entries(a ?? {})
    .map(([k, v]) => {
      let s;
      if (k === "machine_id") s = link("machine", v);
      else if (typeof v === "string" && /^0x[0-9a-f]{40}$/i.test(v)) s = link("account", v);
      else if (typeof v === "string" && /^-?\d+$/.test(v)) s = tok(v);
      else if (k.endsWith("_wh")) s = kwh(v);
      else if (k.endsWith("_ms") && v > 1e11) s = esc(localTime(v));
      else if (k === "price" || k.endsWith("_per_kwh")) s = perKwh(v);
      else s = esc(typeof v === "object" ? JSON.stringify(v) : v);
      return `<span class="muted">${esc(k)}</span> ${s}`;
    })
    .join(", ");
}

const eventRows = (events) =>
  table(
    [["module", (e) => esc(e.module)], ["kind", (e) => esc(e.kind)], ["details", (e) => attrs(e.attrs)]],
    events,
    "no events",
  );

const blockRow = (b) =>
  `<tr${b.fresh ? ' class="new"' : ""} data-height="${b.height}"><td>${link("block", b.height)}</td><td>${esc(localTime(b.timestamp_ms))}</td><td data-test="tx-count">${b.tx_count}</td><td>${b.events.length}</td><td>${link("block", b.hash)}</td></tr>`;

const blockTable = (blocks) =>
  `<div class="scroll"><table><thead><tr><th>height</th><th>time</th><th>txs</th><th>events</th><th>hash</th></tr></thead><tbody id="block-rows">${blocks.map(blockRow).join("")}</tbody></table></div>`;

/** The overview: head, freshness, finality, throughput, mempool and validators, live. */
export async function overview(ctx) {
  let metrics = parseMetrics(await (await fetch("/metrics")).text());
  const validators = await api("/v1/stake/validators");
  let votes = await api("/v1/consensus/validators");
  const seen = (v) => (v ? `view ${v.view}, ${duration(Date.now() - v.at_ms)} ago` : "–");
  const m = (name, q) => metrics[name]?.find((x) => !q || x.labels.quantile === q)?.value ?? 0;
  const draw = () => {
    const blocks = ctx.live.blocks.slice(-60);
    const last = blocks[blocks.length - 1];
    const height = Math.max(m("machina_height"), last?.height ?? 0);
    const since = last ? Date.now() - last.received_ms : null;
    const vs = validators.validators ?? [];
    ctx.el.innerHTML = `<h1>Overview</h1>
      <div class="stats">
        ${stat("height", height, "height")}
        ${stat("since last block", since === null ? "–" : duration(since), "since")}
        ${stat("finality p50", `${(m("machina_finality_seconds", "0.5") * 1000).toFixed(0)} ms`, "finality")}
        ${stat("mempool", m("machina_mempool_size"), "mempool")}
        ${stat("transactions", m("machina_txs_committed_total"), "txs")}
        ${stat("validators", votes.validators.length || vs.length || "1 (dev)", "validators")}
      </div>
      <div class="grid">
        <section class="card"><h2>Throughput: transactions per block</h2>
          ${chart({ series: [{ name: "transactions", bars: true, points: blocks.map((b) => [b.height, b.tx_count]) }], xFmt: (x) => Math.round(x), yFmt: (y) => Math.round(y) })}
          <p class="muted">last block ${last ? `${last.height} at ${esc(localTime(last.timestamp_ms))} chain time` : "–"}; finality p90 ${(m("machina_finality_seconds", "0.9") * 1000).toFixed(0)} ms, p99 ${(m("machina_finality_seconds", "0.99") * 1000).toFixed(0)} ms (submission to commit)</p>
        </section>
        <section class="card"><h2>Validators</h2>${
          votes.consensus === "simplex"
            ? table(
                [
                  ["validator", (v) => `<code>${esc(v.public_key.slice(0, 12))}…</code>`],
                  ["last notarize", (v) => esc(seen(v.last_notarize))],
                  ["last finalize", (v) => esc(seen(v.last_finalize))],
                  ["last nullify", (v) => esc(seen(v.last_nullify))],
                ],
                votes.validators,
              )
            : vs.length
            ? table(Object.keys(vs[0]).map((k) => [k, (v) => esc(typeof v[k] === "object" ? JSON.stringify(v[k]) : v[k])]), vs)
            : `<p class="muted">A dev chain: one producer, each block final when committed.</p>`
        }</section>
      </div>
      <section class="card"><h2>Latest blocks</h2>${blockTable(blocks.slice(-12).reverse())}</section>`;
  };
  draw();
  const timer = setInterval(() => {
    const el = document.querySelector('[data-test="since"]');
    const last = ctx.live.blocks[ctx.live.blocks.length - 1];
    if (!el || ctx.stale()) return clearInterval(timer);
    if (last) el.textContent = duration(Date.now() - last.received_ms);
  }, 1000);
  const refresh = throttle(500, async () => {
    metrics = parseMetrics(await (await fetch("/metrics")).text());
    votes = await api("/v1/consensus/validators");
    if (!ctx.stale()) draw();
  });
  return (b) => {
    b.fresh = true;
    draw();
    refresh();
  };
}

/** The explorer's start: the latest blocks, new ones added at the top as they come. */
export async function blocks(ctx) {
  const head = (await api("/v1/block/latest")).height;
  const heights = Array.from({ length: Math.min(25, head + 1) }, (_, i) => head - i);
  const list = await pool(heights, 6, (h) => api(`/v1/block/${h}`));
  ctx.el.innerHTML = `<h1>Explorer</h1>
    <p class="muted">Search above by block height or hash, transaction hash, address, machine id or zone name.</p>
    <section class="card"><h2>Blocks</h2>${blockTable(list)}</section>`;
  return (b) => {
    const rows = document.getElementById("block-rows");
    if (!rows || rows.querySelector(`[data-height="${b.height}"]`)) return;
    b.fresh = true;
    rows.insertAdjacentHTML("afterbegin", blockRow(b));
    while (rows.children.length > 50) rows.lastElementChild.remove();
  };
}

/** A block with its transactions, their receipts and events, and the block hooks' events. */
export async function block(ctx, id) {
  const b = await api(`/v1/block/${id}?receipts=true`);
  const head = (await api("/v1/block/latest")).height;
  ctx.el.innerHTML = `<h1>Block ${b.height}</h1>
    <section class="card">${facts([
      ["time", esc(localTime(b.timestamp_ms))],
      ["transactions", b.tx_count, "tx-count"],
      ["hash", `<code>${esc(b.hash)}</code>`],
      ["parent", b.height > 0 ? link("block", b.height - 1, b.parent_hash) : "–"],
      ["state root", `<code>${esc(b.state_root)}</code>`],
      ["proposer", link("account", b.proposer)],
      ["confirmations", head - b.height],
    ])}
    <p>${b.height > 0 ? link("block", b.height - 1, "← previous") : ""} ${b.height < head ? link("block", b.height + 1, "next →") : ""}</p></section>
    <section class="card"><h2>Transactions</h2>${table(
      [
        ["tx", (r) => link("tx", r.tx_hash)],
        ["result", (r) => (r.receipt.success ? `<span class="pill ok">ok</span>` : `<span class="pill bad">${esc(r.receipt.error?.code)}</span>`)],
        ["fee", (r) => tok(r.receipt.fee_charged)],
        ["events", (r) => r.receipt.events.map((e) => esc(`${e.module}.${e.kind}`)).join(", ")],
      ],
      b.receipts,
      "no transactions",
    )}</section>
    <section class="card"><h2>End-of-block events</h2>${eventRows(b.events)}</section>`;
}

/** A transaction: its body, actions, receipt and events. */
export async function tx(ctx, hash) {
  const t = await api(`/v1/tx/${hash}`);
  const body = t.tx?.body ?? {};
  const r = t.receipt ?? {};
  ctx.el.innerHTML = `<h1>Transaction</h1>
    <section class="card">${facts([
      ["hash", `<code>${esc(t.tx_hash)}</code>`],
      ["status", esc(t.status)],
      ["block", t.height !== undefined ? link("block", t.height) : "pending"],
      ["position", t.index ?? "–"],
      ["sender", link("account", body.sender)],
      ["fee payer", body.fee_payer ? link("account", body.fee_payer) : "the sender"],
      ["nonce", body.nonce],
      ["fee charged", r.fee_charged ? tok(r.fee_charged) : "–"],
      ["result", r.success ? `<span class="pill ok">success</span>` : `<span class="pill bad">${esc(r.error?.code ?? "")}</span> ${esc(r.error?.message ?? "")}`],
    ])}</section>
    <section class="card"><h2>Actions</h2>${table(
      [["type", (a) => esc(a.type)], ["details", (a) => attrs(Object.fromEntries(Object.entries(a).filter(([k]) => k !== "type")))]],
      body.actions ?? [],
    )}</section>
    <section class="card"><h2>Events</h2>${eventRows(r.events ?? [])}</section>`;
}

/** An account: balance, machines, share holdings and history with older pages. */
export async function account(ctx, address) {
  const [a, owned, holder] = await Promise.all([
    api(`/v1/account/${address}`),
    api(`/v1/machines?owner=${address}&limit=100`),
    apiOrNull(`/v1/shares/holder/${address}`),
  ]);
  ctx.el.innerHTML = `<h1>Account <code>${esc(a.address)}</code></h1>
    <section class="card">${facts([
      ["balance", tok(a.balance), "balance"],
      ["nonce", a.nonce],
      ["machines owned", owned.total],
      ["claimable revenue", holder ? tok(holder.claimable) : "–"],
    ])}</section>
    <div class="grid">
      <section class="card"><h2>Machines</h2>${table(
        [["id", (m) => link("machine", m.machine_id)], ["kind", (m) => esc(m.kind)], ["zone", (m) => esc(m.zone ?? "–")], ["status", (m) => esc(m.status)]],
        owned.machines,
      )}</section>
      <section class="card"><h2>Shares held</h2>${table(
        [["machine", (h) => link("machine", h.machine_id)], ["shares", (h) => `${h.balance} of ${h.supply}`], ["claimable", (h) => tok(h.claimable)]],
        holder?.holdings ?? [],
      )}</section>
    </div>
    <section class="card"><h2>History</h2><div id="history"></div></section>`;
  await history(ctx, `/v1/account/${address}/txs`);
}

/** A history list (account or machine) with a button for older pages. */
export async function history(ctx, base, before) {
  const page = await api(`${base}?limit=25${before ? `&before=${before}` : ""}`);
  const el = document.getElementById("history");
  if (!el || ctx.stale()) return;
  const html = table(
    [
      ["block", (t) => link("block", t.height)],
      ["tx", (t) => link("tx", t.tx_hash)],
      ["sender", (t) => link("account", t.sender)],
      ["actions", (t) => esc(t.actions.join(", "))],
      ["result", (t) => (t.success ? "ok" : `<span class="pill bad">${esc(t.code)}</span>`)],
      ["fee", (t) => tok(t.fee_charged)],
    ],
    page.txs,
    "no transactions",
  );
  el.insertAdjacentHTML("beforeend", html);
  document.getElementById("older")?.remove();
  if (page.next) {
    el.insertAdjacentHTML("beforeend", `<button id="older">older</button>`);
    document.getElementById("older").onclick = () => history(ctx, base, page.next);
  }
}

/** Up to `n` intervals of a zone before `end` (exclusive), oldest first, each or null. */
export async function intervals(name, zone, end, n) {
  const step = zone.config.interval_ms;
  const starts = Array.from({ length: n }, (_, i) => end - (n - i) * step);
  const got = await pool(starts, 8, (s) => apiOrNull(`/v1/energy/zone/${name}/interval/${s}?orders=false`));
  return got.filter(Boolean);
}

/** The latest interval that traded, of those given (what "last price" means on every page). */
export const lastTraded = (list) => [...list].reverse().find((i) => i.interval.cleared && i.interval.volume_wh > 0);

/** Every zone with its tariffs and last price. */
export async function energy(ctx) {
  const { zones } = await api("/v1/energy/zones");
  const cards = await pool(zones, 4, async (name) => {
    const z = (await api(`/v1/energy/zone/${name}`)).zone;
    const recent = await intervals(name, z, z.clear_cursor, 16);
    const last = lastTraded(recent);
    return `<section class="card"><h2>${link("zone", name, name)}</h2>${facts([
      ["last price", last ? perKwh(last.interval.price) : "–", `last-price-${name}`],
      ["at", last ? esc(localTime(last.interval_start_ms)) : "–"],
      ["retail", perKwh(z.config.retail_price)],
      ["feed-in", perKwh(z.config.feed_in_price)],
      ["interval", duration(z.config.interval_ms)],
      ["market fee", `${z.config.market_fee_bps / 100} %`],
    ])}</section>`;
  });
  ctx.el.innerHTML = `<h1>Energy</h1><div class="grid">${cards.join("") || '<p class="muted">no zones</p>'}</div>`;
}

/** A zone: clearing price and volume per interval against its tariffs, the open book, imbalances. */
export async function zone(ctx, name) {
  const view = await api(`/v1/energy/zone/${name}`);
  const z = view.zone;
  const c = z.config;
  const list = await intervals(name, z, z.clear_cursor, 96);
  const traded = list.filter((i) => i.interval.cleared && i.interval.volume_wh > 0);
  const last = lastTraded(list);
  let open = await apiOrNull(`/v1/energy/zone/${name}/interval/${z.clear_cursor}`);
  if (!open?.orders?.length) open = (await apiOrNull(`/v1/energy/zone/${name}/interval/${z.clear_cursor + c.interval_ms}`)) ?? open;
  const orders = open?.orders ?? [];
  const depth = (side, cmp) => {
    let sum = 0;
    return orders
      .filter((o) => o.side === side)
      .sort(cmp)
      .map((o) => [o.price / 1e6, (sum += o.qty_wh) / 1000]);
  };
  const imbalances = list.filter((i) => i.interval.shortfall_charges !== "0" || i.interval.unused_credits !== "0");
  const xs = list.map((i) => i.interval_start_ms);
  const flat = (p) => (xs.length ? [[xs[0], p / 1e6], [xs[xs.length - 1], p / 1e6]] : []);
  ctx.el.innerHTML = `<h1>Zone ${esc(name)}</h1>
    <div class="stats">
      ${stat("last price", last ? perKwh(last.interval.price) : "–", "last-price")}
      ${stat("last volume", last ? kwh(last.interval.volume_wh) : "–", "last-volume")}
      ${stat("retail", perKwh(c.retail_price), "retail")}
      ${stat("feed-in", perKwh(c.feed_in_price), "feed-in")}
    </div>
    <div class="grid">
      <section class="card"><h2>Clearing price per interval, tokens/kWh</h2>${chart({
        series: [
          { name: "clearing price", points: traded.map((i) => [i.interval_start_ms, i.interval.price / 1e6]) },
          { name: "retail", points: flat(c.retail_price), dash: true, color: "#d14343" },
          { name: "feed-in", points: flat(c.feed_in_price), dash: true, color: "#3aa655" },
        ],
        xFmt: clock,
        yFmt: (y) => y.toFixed(3),
      })}</section>
      <section class="card"><h2>Traded volume per interval, kWh</h2>${chart({
        series: [{ name: "volume", bars: true, points: list.map((i) => [i.interval_start_ms, i.interval.volume_wh / 1000]) }],
        xFmt: clock,
        yFmt: (y) => y.toFixed(2),
      })}</section>
      <section class="card"><h2>Order book ${open ? `for ${esc(localTime(open.interval_start_ms))}` : ""}</h2>${chart({
        series: [
          { name: "bids (cumulative kWh by price)", points: depth("bid", (a, b) => b.price - a.price).map(([p, q]) => [p, q]), step: true, color: "#2f7de1" },
          { name: "asks", points: depth("ask", (a, b) => a.price - b.price), color: "#e0702f" },
        ],
        xFmt: (x) => x.toFixed(3),
        yFmt: (y) => y.toFixed(2),
        step: true,
      })}<p class="muted">${orders.length} open orders; price in tokens/kWh across, cumulative kWh up</p></section>
      <section class="card"><h2>Imbalances settled</h2>${table(
        [
          ["interval", (i) => esc(localTime(i.interval_start_ms))],
          ["shortfall charged", (i) => tok(i.interval.shortfall_charges)],
          ["unused credited", (i) => tok(i.interval.unused_credits)],
          ["orders settled", (i) => `${i.interval.settled} of ${i.interval.orders}`],
        ],
        imbalances.slice(-12).reverse(),
      )}</section>
    </div>
    <section class="card"><h2>Intervals</h2>${table(
      [
        ["start", (i) => esc(localTime(i.interval_start_ms))],
        ["orders", (i) => i.interval.orders],
        ["price", (i) => (i.interval.cleared ? perKwh(i.interval.price) : "open")],
        ["volume", (i) => kwh(i.interval.volume_wh)],
        ["buyers paid", (i) => tok(i.interval.buyers_paid)],
        ["fees", (i) => tok(i.interval.fees)],
        ["settled", (i) => (i.interval.done ? "yes" : `${i.interval.settled} of ${i.interval.orders}`)],
      ],
      list.slice(-24).reverse(),
    )}</section>`;
  let cursor = `${z.clear_cursor}/${z.settle_cursor}`;
  return throttle(1000, async () => {
    const now = (await api(`/v1/energy/zone/${name}`)).zone;
    if (ctx.stale() || `${now.clear_cursor}/${now.settle_cursor}` === cursor) return;
    cursor = `${now.clear_cursor}/${now.settle_cursor}`;
    await zone(ctx, name);
  });
}

/** Events of a module from `from` to the head, read once over `/v1/ws`. */
export function pastEvents(module, from) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`);
    const got = [];
    let head = null;
    const done = () => {
      ws.close();
      resolve(got);
    };
    ws.onopen = () => ws.send(JSON.stringify({ subscribe: "events", module, from_height: from }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "subscribed") head = msg.height;
      if (msg.type === "event") got.push({ ...msg.event, height: msg.height });
      if ((msg.type === "height" && msg.height >= head) || msg.type === "error") done();
    };
    ws.onerror = done;
    setTimeout(done, 5000);
  });
}

/** Most past blocks the compute and shares page reads events from. */
const HISTORY_BLOCKS = 5000;

/** Most offers and jobs the compute page shows, newest first. */
const LIST_MAX = 100;

/** "newest 100 of 250", or nothing when the whole list is shown. */
const shown = (l, what) =>
  l.items.length < l.count ? `<p class="muted" data-test="${what}-shown">newest ${l.items.length} of ${l.count} ${what}</p>` : "";

/** Compute offers, jobs, leases and their payment, SLA breaches; share classes and revenue. */
export async function compute(ctx) {
  const head = (await api("/v1/block/latest")).height;
  const from = Math.max(1, head - HISTORY_BLOCKS);
  const [offerList, jobList, cevents, sevents] = await Promise.all([
    listed("/v1/compute/offers", "offers", LIST_MAX),
    listed("/v1/compute/jobs", "jobs", LIST_MAX),
    pastEvents("compute", from),
    pastEvents("shares", from),
  ]);
  const [offers, jobs] = [offerList.items, jobList.items];
  const leases = jobs.flatMap((j) => j.leases.map((l) => ({ ...l, job: j })));
  const breaches = cevents.filter((e) => e.kind === "breach");
  const ids = [...new Set(sevents.map((e) => e.attrs.machine_id).filter((x) => x !== undefined))].slice(0, 100);
  const classes = (await pool(ids, 6, (id) => apiOrNull(`/v1/shares/machine/${id}`))).filter(Boolean);
  ctx.el.innerHTML = `<h1>Compute and shares</h1>
    <section class="card"><h2>Offers</h2>${table(
      [
        ["offer", (o) => o.offer_id],
        ["machine", (o) => link("machine", o.machine_id)],
        ["resources", (o) => esc(`${o.terms.resources.gpus}× ${o.terms.resources.gpu_model}, ${o.terms.resources.vcpus} vCPU, ${o.terms.resources.ram_gb} GB`)],
        ["price per block", (o) => tok(o.terms.price_per_block)],
        ["slots", (o) => `${o.leased} of ${o.terms.capacity} leased`],
        ["state", (o) => (o.withdrawn ? "withdrawn" : "open")],
      ],
      offers,
      "no offers",
      (o) => `offer-${o.offer_id}`,
    )}${shown(offerList, "offers")}</section>
    <section class="card"><h2>Jobs</h2>${table(
      [
        ["job", (j) => j.job_id],
        ["tenant", (j) => link("account", j.tenant)],
        ["status", (j) => esc(typeof j.status === "object" ? JSON.stringify(j.status) : j.status)],
        ["escrow", (j) => tok(j.escrow)],
        ["replicas", (j) => j.leases.length],
        ["paid until", (j) => `block ${j.paid_until_height} of ${j.end_height}`],
      ],
      jobs,
      "no jobs",
      (j) => `job-${j.job_id}`,
    )}${shown(jobList, "jobs")}</section>
    <section class="card"><h2>Leases and payments</h2>${table(
      [
        ["job", (l) => l.job.job_id],
        ["machine", (l) => link("machine", l.machine_id)],
        ["price per block", (l) => tok(l.price_per_block)],
        ["paid", (l) => tok(l.paid)],
        ["paid until", (l) => `block ${l.paid_until_height}`],
        ["blocks", (l) => `${l.start_height} to ${l.end_height}`],
        ["state", (l) => (l.active ? `<span class="pill ok">running</span>` : "ended")],
      ],
      leases,
      "no leases",
    )}</section>
    <section class="card"><h2>SLA breaches</h2>${table(
      [["block", (e) => link("block", e.height)], ["details", (e) => attrs(e.attrs)]],
      breaches,
      "no breaches",
    )}</section>
    <section class="card"><h2>Machine shares</h2>${table(
      [
        ["machine", (c) => link("machine", c.machine_id)],
        ["supply", (c) => c.supply],
        ["holders", (c) => c.holders],
        ["revenue", (c) => tok(c.revenue_total)],
        ["to holders", (c) => tok(c.to_holders_total)],
        ["claimed", (c) => tok(c.claimed_total)],
      ],
      classes,
      "no share classes",
    )}</section>`;
}
