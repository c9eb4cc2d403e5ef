// Shared helpers of the dashboard: API reads, units, HTML escaping, SVG charts and the live
// block stream. No third-party code.

/** Reads a JSON route of this node; an API error is thrown as an Error with its code. */
export async function api(path) {
  const res = await fetch(path, { headers: { accept: "application/json" } });
  const body = await res.json().catch(() => ({ code: "bad_response", message: res.statusText }));
  if (!res.ok) {
    const e = new Error(`${body.code}: ${body.message}`);
    e.code = body.code;
    e.status = res.status;
    throw e;
  }
  return body;
}

/** Like `api`, but `null` for a 404. */
export async function apiOrNull(path) {
  try {
    return await api(path);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

/** Most requests `listed` makes for one list: each reads at most 1,000 ids on the node. */
const MAX_LIST_REQUESTS = 50;

/**
 * The first `max` records of a list route with a cursor (`?before=` from the last page's
 * `next`, newest first), as `{ items, count, complete }`: `complete` when the list ended.
 */
export async function listed(path, key, max) {
  const items = [];
  let before = null;
  let count = 0;
  for (let i = 0; i < MAX_LIST_REQUESTS && items.length < max; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=${Math.min(100, max - items.length)}${before === null ? "" : `&before=${before}`}`);
    count = page.count;
    items.push(...page[key]);
    if (page.next === null || page.next === undefined) return { items, count, complete: true };
    before = page.next;
  }
  return { items, count, complete: false };
}

/** Runs `f` over `items` with at most `n` at once, keeping the order. */
export async function pool(items, n, f) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** Escapes text for HTML. */
export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const group = (s) => s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** Micro-units (a decimal string or number) as tokens: exact, grouped, trailing zeros cut. */
export function tokens(micro) {
  let n = BigInt(micro ?? 0);
  const neg = n < 0n;
  if (neg) n = -n;
  const whole = group((n / 1000000n).toString());
  const frac = (n % 1000000n).toString().padStart(6, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? "." + frac : ""}`;
}

/** Micro-units as tokens with the unit. */
export const tok = (micro) => `${tokens(micro)} tokens`;

/** Watt-hours as kWh with three decimals. */
export const kwh = (wh) => `${(Number(wh ?? 0) / 1000).toFixed(3)} kWh`;

/** Micro-units per kWh as tokens per kWh with four decimals. */
export const perKwh = (p) => `${(Number(p ?? 0) / 1e6).toFixed(4)} tokens/kWh`;

/** Milliseconds since the epoch as local date and time. */
export const localTime = (ms) => (ms ? new Date(Number(ms)).toLocaleString() : "–");

/** Milliseconds since the epoch as a local hour and minute. */
export const clock = (ms) =>
  new Date(Number(ms)).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** A duration in ms, readable. */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A hash or address, shortened, linked to its page. */
export function link(kind, id, text) {
  const label = text ?? (String(id).length > 20 ? `${String(id).slice(0, 10)}…${String(id).slice(-6)}` : id);
  return `<a href="#/${kind}/${esc(id)}" title="${esc(id)}">${esc(label)}</a>`;
}

/** A table of rows; `cols` are [heading, row => html]; `rowKey` names each row (`data-key`). */
export function table(cols, rows, empty = "none", rowKey = null) {
  if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
  const head = cols.map(([h]) => `<th>${esc(h)}</th>`).join("");
  const key = (r) => (rowKey ? ` data-key="${esc(rowKey(r))}"` : "");
  const body = rows.map((r) => `<tr${key(r)}>${cols.map(([, f]) => `<td>${f(r)}</td>`).join("")}</tr>`).join("");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** Label/value pairs as a definition list. */
export function facts(pairs) {
  return `<dl class="facts">${pairs
    .map(([k, v, id]) => `<div><dt>${esc(k)}</dt><dd${id ? ` data-test="${id}"` : ""}>${v}</dd></div>`)
    .join("")}</dl>`;
}

/** The labelled values of a Prometheus text page, as {name: [{labels, value}]}. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? ([-0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    (out[m[1]] ??= []).push({ labels, value: Number(m[3]) });
  }
  return out;
}

const COLORS = ["#2f7de1", "#e0702f", "#3aa655", "#a14fd1", "#c9a227"];

/**
 * An SVG chart: `series` of {name, points: [[x, y]], color?, bars?, dash?}, axes labelled
 * with `xFmt` and `yFmt`. Bars are drawn under lines.
 */
export function chart({ series, xFmt = String, yFmt = String, height = 220, step = false }) {
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) return `<p class="muted">no data yet</p>`;
  const W = 640, H = height, L = 64, R = 12, T = 12, B = 28;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(0, ...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const ticks = (a, b, n) => Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n);
  let svg = `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img">`;
  for (const y of ticks(y0, y1, 4)) {
    svg += `<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" class="grid"/>`;
    svg += `<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${esc(yFmt(y))}</text>`;
  }
  for (const x of ticks(x0, x1, 4)) {
    svg += `<text x="${sx(x)}" y="${H - 8}" text-anchor="middle">${esc(xFmt(x))}</text>`;
  }
  const bw = Math.max(2, ((W - L - R) / Math.max(1, series.find((s) => s.bars)?.points.length ?? 1)) * 0.7);
  series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length];
    if (s.bars) {
      for (const [x, y] of s.points) {
        svg += `<rect x="${sx(x) - bw / 2}" y="${sy(Math.max(y, 0))}" width="${bw}" height="${Math.abs(sy(y) - sy(0))}" fill="${c}" opacity="0.35"><title>${esc(xFmt(x))}: ${esc(yFmt(y))}</title></rect>`;
      }
      return;
    }
    const p = s.points;
    let d = "";
    p.forEach(([x, y], k) => {
      if (k && step) d += ` H${sx(x)}`;
      d += `${k ? (step ? " V" : " L") : "M"}${k && step ? sy(y) : `${sx(x)},${sy(y)}`}`;
    });
    svg += `<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${s.dash ? ' stroke-dasharray="6 4"' : ""}/>`;
  });
  svg += `</svg>`;
  const legend = series
    .map((s, i) => `<span><i style="background:${s.color ?? COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`)
    .join("");
  return `<figure>${svg}<figcaption class="legend">${legend}</figcaption></figure>`;
}

/**
 * The live block stream over `/v1/ws`: every block from `fromHeight` on, each delivered once
 * to every listener, resubscribing after a disconnection from the height after the last one.
 */
export class Live {
  constructor() {
    this.listeners = new Set();
    this.last = null;
    this.blocks = [];
    this.connected = false;
  }

  /** Starts the stream with the `keep` blocks before the head. */
  start(head, keep) {
    this.last = Math.max(0, head - keep);
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/v1/ws`);
    ws.onopen = () => {
      this.connected = true;
      ws.send(JSON.stringify({ subscribe: "blocks", from_height: this.last + 1 }));
      this.emit(null);
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type !== "block" || msg.height <= this.last) return;
      this.last = msg.height;
      const b = msg.block;
      b.received_ms = Date.now();
      this.blocks.push(b);
      if (this.blocks.length > MAX_KEPT_BLOCKS) this.blocks.shift();
      this.emit(b);
    };
    ws.onclose = () => {
      this.connected = false;
      this.emit(null);
      setTimeout(() => this.connect(), 1000);
    };
  }

  emit(block) {
    for (const f of this.listeners) f(block);
  }

  /** Calls `f` with each new block (and `null` when the connection changes) until `off()`. */
  on(f) {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}

/** Most recent blocks the page keeps for the overview's charts. */
export const MAX_KEPT_BLOCKS = 120;
