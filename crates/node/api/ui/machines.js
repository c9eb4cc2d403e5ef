// The machines pages: a filtered, sorted, paginated list of every machine, and one machine's
// identity, keys, meter, wallet, orders, compute and shares.

import { api, apiOrNull, chart, clock, esc, facts, kwh, link, listed, localTime, perKwh, pool, table, tok } from "./lib.js";
import { attrs, history } from "./pages.js";

/** Machines on one page of the list. */
const PAGE = 25;
const KINDS = ["solar", "battery", "ev_charger", "meter", "compute", "sensor", "other"];
const SORTS = [["id", "id"], ["kind", "kind"], ["zone", "zone"], ["owner", "owner"], ["status", "status"], ["power", "rated_power_w"], ["registered", "registered_height"]];

const kw = (w) => `${(Number(w) / 1000).toFixed(1)} kW`;

/** Every machine, filtered by kind, zone, owner and status, sorted and paginated by the API. */
export async function list(ctx) {
  const p = ctx.params;
  const q = new URLSearchParams();
  for (const k of ["kind", "zone", "owner", "status", "sort", "order"]) if (p.get(k)) q.set(k, p.get(k));
  const offset = Number(p.get("offset") ?? 0);
  q.set("offset", offset);
  q.set("limit", PAGE);
  const [page, zones] = await Promise.all([api(`/v1/machines?${q}`), api("/v1/energy/zones")]);
  const balances = await pool(page.machines, 6, (m) => api(`/v1/account/${m.address}`));
  const to = (changes) => {
    const n = new URLSearchParams(q);
    for (const [k, v] of Object.entries(changes)) v === "" || v === null ? n.delete(k) : n.set(k, v);
    n.delete("limit");
    return `#/machines?${n}`;
  };
  const sortBy = p.get("sort") ?? "id";
  const desc = p.get("order") === "desc";
  const head = SORTS.map(([label, key]) => {
    const arrow = sortBy === key ? (desc ? " ▼" : " ▲") : "";
    return `<th><a href="${to({ sort: key, order: sortBy === key && !desc ? "desc" : "asc", offset: 0 })}">${label}${arrow}</a></th>`;
  }).join("");
  const rows = page.machines
    .map(
      (m, i) => `<tr><td>${link("machine", m.machine_id)}</td><td>${esc(m.kind)}</td><td>${m.zone ? link("zone", m.zone, m.zone) : "–"}</td><td>${link("account", m.owner)}</td><td>${esc(m.status)}</td><td>${kw(m.rated_power_w)}</td><td>${m.registered_height}</td><td data-test="balance">${tok(balances[i].balance)}</td></tr>`,
    )
    .join("");
  const select = (name, values) =>
    `<label>${name}<select name="${name}"><option value="">any</option>${values
      .map((v) => `<option${p.get(name) === v ? " selected" : ""}>${esc(v)}</option>`)
      .join("")}</select></label>`;
  ctx.el.innerHTML = `<h1>Machines</h1>
    <form class="filters" id="filters">
      ${select("kind", KINDS)}${select("zone", zones.zones)}${select("status", ["active", "revoked"])}
      <label>owner<input name="owner" value="${esc(p.get("owner") ?? "")}" placeholder="0x…"></label>
    </form>
    <section class="card"><p class="muted" data-test="total">${page.total} machines</p>
      <div class="scroll"><table><thead><tr>${head}<th>balance</th></tr></thead><tbody>${rows}</tbody></table></div>
      <div class="pager">
        ${offset > 0 ? `<a href="${to({ offset: Math.max(0, offset - PAGE) })}">← previous</a>` : ""}
        <span>${page.total ? offset + 1 : 0}–${Math.min(offset + PAGE, page.total)} of ${page.total}</span>
        ${offset + PAGE < page.total ? `<a id="next-page" href="${to({ offset: offset + PAGE })}">next →</a>` : ""}
      </div>
    </section>`;
  const form = document.getElementById("filters");
  form.addEventListener("change", () => {
    const f = new FormData(form);
    location.hash = to({ kind: f.get("kind"), zone: f.get("zone"), status: f.get("status"), owner: f.get("owner").trim(), offset: 0 });
  });
  form.addEventListener("submit", (e) => e.preventDefault());
}

/** Energy imported and exported per hour over the day before the machine's last reading. */
async function meterSeries(id, meter) {
  if (!meter?.timestamp_ms) return null;
  const hour = 3_600_000;
  const end = Math.ceil(meter.timestamp_ms / hour) * hour;
  const starts = Array.from({ length: 24 }, (_, i) => end - (24 - i) * hour);
  const got = await pool(starts, 6, (s) => apiOrNull(`/v1/meter/${id}/energy?from_ms=${s}&to_ms=${s + hour}`));
  const pts = got.map((g, i) => [starts[i], g]).filter(([, g]) => g);
  return [
    { name: "imported, kWh", points: pts.map(([t, g]) => [t, g.import_wh / 1000]) },
    { name: "exported, kWh", points: pts.map(([t, g]) => [t, g.export_wh / 1000]) },
  ];
}

/** Most offers of one machine its page shows, newest first. */
const MACHINE_OFFERS_MAX = 100;

/** The machine's offers, newest first. */
async function offersOf(id) {
  return (await listed(`/v1/compute/offers?machine=${id}`, "offers", MACHINE_OFFERS_MAX)).items;
}

function identity(m) {
  return facts([
    ["kind", esc(m.kind)],
    ["status", m.status === "active" ? `<span class="pill ok">active</span>` : `<span class="pill bad">${esc(m.status)}</span>`],
    ["owner", link("account", m.owner)],
    ["account", link("account", m.address)],
    ["zone", m.zone ? link("zone", m.zone, m.zone) : "–"],
    ["rated power", kw(m.rated_power_w)],
    ["capacity", m.capacity_wh ? kwh(m.capacity_wh) : "–"],
    ["device key", `<code>${esc(m.device_key)}</code>`],
    ["attested by", esc(m.attested_by_name ?? (m.attested_by ? m.attested_by : "not attested"))],
    ["registered", link("block", m.registered_height, `block ${m.registered_height}`)],
    ["made by", esc(`${m.metadata.manufacturer} ${m.metadata.model} ${m.metadata.serial}`)],
    ["readings", `${m.reputation.readings_accepted} accepted, ${m.reputation.readings_rejected} rejected`],
    ["energy delivered", `${kwh(m.reputation.energy_delivered_wh)} of ${kwh(m.reputation.energy_promised_wh)} promised`],
    ["leases", `${m.reputation.leases_completed} completed, ${m.reputation.leases_breached} breached`],
  ]);
}

function walletCard(w) {
  if (!w) return `<p class="muted">no wallet policy</p>`;
  const pol = w.policy ?? {};
  const spent = (w.spent?.buckets ?? []).reduce((s, [, a]) => s + BigInt(a), 0n);
  return facts([
    ["balance", tok(w.balance), "balance"],
    ["frozen", w.frozen ? "yes" : "no"],
    ["per transaction", pol.max_per_tx ? tok(pol.max_per_tx) : "no cap"],
    ["per window", pol.max_per_window ? `${tok(pol.max_per_window)} per ${pol.window_blocks} blocks` : "no cap"],
    ["spent in the window", tok(spent.toString()), "spent"],
    ["cooldown", pol.cooldown_blocks ? `${pol.cooldown_blocks} blocks above ${tok(pol.cooldown_above ?? 0)}` : "none"],
    ["may pay", (pol.allowlist ?? []).map((a) => link("account", a)).join(", ") || "anyone"],
    ["policy breaches", w.policy_breaches],
  ]);
}

const ordersTable = (orders) =>
  table(
    [
      ["order", (o) => o.order_id],
      ["interval", (o) => esc(localTime(o.interval_start_ms))],
      ["side", (o) => esc(o.side)],
      ["limit", (o) => perKwh(o.price)],
      ["qty", (o) => kwh(o.qty_wh)],
      ["filled", (o) => kwh(o.fill_wh)],
      ["metered", (o) => kwh(o.metered_wh)],
      ["settled amount", (o) => tok(o.amount)],
      ["status", (o) => esc(o.status)],
    ],
    [...orders].reverse().slice(0, 48),
    "no orders in the last day",
  );

const revenueTable = (rev) =>
  table(
    [
      ["#", (e) => e.seq],
      ["block", (e) => link("block", e.height)],
      ["time", (e) => esc(localTime(e.time_ms))],
      ["source", (e) => attrs(e.source)],
      ["amount", (e) => tok(e.amount)],
      ["operator fee", (e) => tok(e.operator_fee)],
      ["to holders", (e) => tok(e.to_holders)],
    ],
    [...(rev?.events ?? [])].reverse(),
    "no revenue yet",
  );

/** Most shareholders a machine's page lists (one page of the holders route, by address). */
const HOLDERS_SHOWN = 100;

const holdersTable = (h) =>
  h
    ? `<h2>Shareholders</h2>${table(
        [
          ["holder", (r) => link("account", r.holder)],
          ["shares", (r) => `<span data-test="holder-balance">${r.balance}</span>`],
          ["of supply", (r) => `${((100 * r.balance) / h.supply).toFixed(2)} %`],
          ["claimable", (r) => `<span data-test="holder-claimable">${tok(r.claimable)}</span>`],
        ],
        h.holders,
        "no holders",
        (r) => r.holder,
      )}${h.next ? `<p class="muted">the first ${h.holders.length} of ${h.count} holders, by address</p>` : ""}`
    : "";

/** One machine's page; it reloads when a new block names the machine. */
export async function machine(ctx, idText) {
  const id = Number(idText);
  const m = await api(`/v1/machine/${id}`);
  const head = await api("/v1/block/latest");
  const day = 24 * 3_600_000;
  const [meter, wallet, account, trades, leases, shares, revenue, offers] = await Promise.all([
    apiOrNull(`/v1/meter/${id}`),
    apiOrNull(`/v1/wallet/${id}`),
    api(`/v1/account/${m.address}`),
    m.zone ? apiOrNull(`/v1/energy/machine/${id}/orders?from_ms=${head.timestamp_ms - day}&to_ms=${head.timestamp_ms}`).catch(() => null) : null,
    apiOrNull(`/v1/compute/leases?machine=${id}`),
    apiOrNull(`/v1/shares/machine/${id}`),
    apiOrNull(`/v1/shares/revenue/${id}`),
    m.kind === "compute" ? offersOf(id) : [],
  ]);
  const holders = shares ? await api(`/v1/shares/machine/${id}/holders?limit=${HOLDERS_SHOWN}`) : null;
  const series = await meterSeries(id, meter);
  const keys = (await api(`/v1/machine/${id}/txs?limit=100`)).txs.filter((t) =>
    t.actions.some((a) => /register_machine|rotate_device_key|revoke_machine|transfer_machine/.test(a)),
  );
  if (ctx.stale()) return;
  ctx.el.innerHTML = `<h1>Machine ${id} <span class="muted">${esc(m.kind)}</span></h1>
    <div class="stats">
      <div class="stat"><div class="k">balance</div><div class="v" data-test="machine-balance">${tok(account.balance)}</div></div>
      <div class="stat"><div class="k">last reading</div><div class="v">${meter ? esc(localTime(meter.timestamp_ms)) : "–"}</div></div>
      <div class="stat"><div class="k">meter, imported / exported</div><div class="v">${meter ? `${kwh(meter.import_wh)} / ${kwh(meter.export_wh)}` : "–"}</div></div>
      <div class="stat"><div class="k">revenue</div><div class="v">${shares ? tok(shares.revenue_total) : "–"}</div></div>
    </div>
    <div class="grid">
      <section class="card"><h2>Identity</h2>${identity(m)}</section>
      <section class="card"><h2>Key history</h2>${table(
        [["block", (t) => link("block", t.height)], ["tx", (t) => link("tx", t.tx_hash)], ["change", (t) => esc(t.actions.join(", "))]],
        keys,
        "no key changes in the last 100 transactions",
      )}<p class="muted">current key <code>${esc(m.device_key)}</code></p></section>
      <section class="card"><h2>Meter readings, per hour</h2>${series ? chart({ series, xFmt: clock, yFmt: (y) => y.toFixed(2) }) : `<p class="muted">no readings</p>`}</section>
      <section class="card"><h2>Wallet and policy</h2>${walletCard(wallet)}</section>
    </div>
    ${m.zone ? `<section class="card"><h2>Energy orders and settlements, last day</h2>${ordersTable(trades?.orders ?? [])}</section>` : ""}
    ${m.kind === "compute" ? `<section class="card"><h2>Compute offers and leases</h2>${table(
      [["offer", (o) => o.offer_id], ["price per block", (o) => tok(o.terms.price_per_block)], ["slots", (o) => `${o.leased} of ${o.terms.capacity}`], ["state", (o) => (o.withdrawn ? "withdrawn" : "open")]],
      offers,
      "no offers",
    )}${table(
      [["job", (l) => l.job_id ?? "–"], ["paid", (l) => tok(l.paid)], ["paid until", (l) => `block ${l.paid_until_height}`], ["blocks", (l) => `${l.start_height} to ${l.end_height}`], ["state", (l) => (l.active ? "running" : "ended")]],
      leases?.leases ?? [],
      "no leases",
    )}</section>` : ""}
    <section class="card"><h2>Shareholders and revenue</h2>${
      shares
        ? facts([
            ["shares", `${shares.supply} in class ${shares.class}`],
            ["holders", shares.holders],
            ["operator fee", `${shares.operator_fee_bps / 100} %`],
            ["revenue", tok(shares.revenue_total)],
            ["to holders", tok(shares.to_holders_total)],
            ["claimed", tok(shares.claimed_total)],
          ]) + holdersTable(holders) + `<h2>Audit trail</h2>${revenueTable(revenue)}`
        : `<p class="muted">no shares issued</p>`
    }</section>
    <section class="card"><h2>History</h2><div id="history"></div></section>`;
  await history(ctx, `/v1/machine/${id}/txs`);
  let pending = false;
  return (b) => {
    const named = [...b.events, ...b.receipts.flatMap((r) => r.receipt.events)].some((e) => e.attrs?.machine_id === id);
    if (!named || pending) return;
    pending = true;
    setTimeout(async () => {
      if (!ctx.stale()) await machine(ctx, idText).catch(() => null);
      pending = false;
    }, 500);
  };
}
