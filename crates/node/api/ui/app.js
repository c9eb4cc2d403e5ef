// The dashboard's shell: navigation, hash routes, search and the live header.

import { api, apiOrNull, esc, Live, link } from "./lib.js";
import * as pages from "./pages.js";
import * as machines from "./machines.js";

const live = new Live();
const main = document.getElementById("main");
let off = null;
let token = 0;

const routes = [
  [/^\/?$/, () => pages.overview],
  [/^\/blocks$/, () => pages.blocks],
  [/^\/block\/([^/]+)$/, () => pages.block],
  [/^\/tx\/([^/]+)$/, () => pages.tx],
  [/^\/account\/([^/]+)$/, () => pages.account],
  [/^\/machines$/, () => machines.list],
  [/^\/machine\/(\d+)$/, () => machines.machine],
  [/^\/energy$/, () => pages.energy],
  [/^\/zone\/([^/]+)$/, () => pages.zone],
  [/^\/compute$/, () => pages.compute],
  [/^\/search\/(.*)$/, () => search],
];

/** Renders the page the hash names; a page may return a function called on each new block. */
async function render() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query ?? "");
  const mine = ++token;
  if (off) off();
  off = null;
  const seg = (path || "/").split("/")[1] ?? "";
  const section = { "": "", blocks: "blocks", block: "blocks", tx: "blocks", account: "blocks", search: "blocks", machines: "machines", machine: "machines", energy: "energy", zone: "energy", compute: "compute" }[seg];
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.getAttribute("href") === `#/${section}`);
  for (const [re, page] of routes) {
    const m = re.exec(path || "/");
    if (!m) continue;
    main.setAttribute("aria-busy", "true");
    try {
      const ctx = { live, params, stale: () => mine !== token, el: main };
      const onBlock = await page()(ctx, ...m.slice(1).map(decodeURIComponent));
      if (mine !== token) return;
      if (typeof onBlock === "function") off = live.on((b) => b && mine === token && onBlock(b));
    } catch (e) {
      if (mine === token) main.innerHTML = `<h1>Not found</h1><p class="error">${esc(e.message)}</p>`;
    } finally {
      if (mine === token) main.setAttribute("aria-busy", "false");
    }
    return;
  }
  main.innerHTML = `<h1>Not found</h1><p>No page ${esc(path)}.</p>`;
}

/** What a search term may name, each checked against the API. */
async function candidates(q) {
  const found = [];
  const tries = [];
  if (/^\d+$/.test(q)) {
    tries.push(apiOrNull(`/v1/block/${q}`).then((b) => b && found.push(["block", q, `block ${q}`])));
    tries.push(apiOrNull(`/v1/machine/${q}`).then((m) => m && found.push(["machine", q, `machine ${q} (${m.kind})`])));
  }
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(q)) {
    const h = q.startsWith("0x") ? q : `0x${q}`;
    tries.push(apiOrNull(`/v1/tx/${h}`).then((t) => t && found.push(["tx", h, `transaction ${h}`])));
    tries.push(apiOrNull(`/v1/block/${h}`).then((b) => b && found.push(["block", b.height, `block ${b.height}`])));
  }
  if (/^(0x)?[0-9a-fA-F]{40}$/.test(q)) {
    const a = q.startsWith("0x") ? q.toLowerCase() : `0x${q.toLowerCase()}`;
    found.push(["account", a, `account ${a}`]);
  }
  const m = /^(?:m|machine)[ :#-]?(\d+)$/i.exec(q);
  if (m) tries.push(apiOrNull(`/v1/machine/${m[1]}`).then((x) => x && found.push(["machine", m[1], `machine ${m[1]}`])));
  tries.push(
    api("/v1/energy/zones").then((z) => z.zones.filter((n) => n.toLowerCase() === q.toLowerCase()).forEach((n) => found.push(["zone", n, `zone ${n}`]))),
  );
  await Promise.all(tries.map((t) => t.catch(() => null)));
  return found;
}

async function search(ctx, q) {
  q = q.trim();
  const found = await candidates(q);
  if (ctx.stale()) return;
  if (found.length === 1) {
    location.replace(`#/${found[0][0]}/${found[0][1]}`);
    return;
  }
  ctx.el.innerHTML = `<h1>Search: ${esc(q)}</h1>${
    found.length
      ? `<ul class="results">${found.map(([k, id, t]) => `<li>${link(k, id, t)}</li>`).join("")}</ul>`
      : `<p>Nothing matches. Search by block height or hash, transaction hash, address, machine id (a number, or m12) or zone name.</p>`
  }`;
}

function header() {
  const form = document.getElementById("search");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = form.q.value.trim();
    if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
  });
  const height = document.getElementById("head-height");
  const status = document.getElementById("head-status");
  live.on((b) => {
    if (b) height.textContent = b.height;
    status.textContent = live.connected ? "live" : "reconnecting…";
    status.className = live.connected ? "pill ok" : "pill warn";
  });
}

async function start() {
  header();
  const health = await api("/v1/health");
  document.getElementById("head-height").textContent = health.height;
  document.getElementById("head-chain").textContent = `chain ${health.chain_id}`;
  live.start(health.height, 60);
  window.addEventListener("hashchange", render);
  await render();
}

start().catch((e) => {
  main.innerHTML = `<p class="error">The node did not answer: ${esc(e.message)}</p>`;
});
