/** A client of a Machina node's HTTP API: query, simulate, submit, wait for receipts, and
 * follow the event stream with no gap and no duplicate across reconnections. */
import { actionJson, encodeTx, type JsonObject, type Transaction } from "./codec.js";
import type { Keypair } from "./keys.js";
import { body, MIN_FEE, sign, txId } from "./tx.js";

/** How many blocks ahead a transaction built here may still be included. */
export const EXPIRY_BLOCKS = 600;
/** How long one `GET /v1/tx/{id}` waits at the node for a receipt (the node's long poll). */
export const WAIT_SLICE_MS = 5000;
/** How many times in a row `subscribe` reconnects before it gives up. */
export const MAX_RECONNECTS = 30;

/** The node refused a request: `code` is stable, `message` says what to do. */
export class MachinaError extends Error {
  constructor(readonly code: string, readonly detail: string, readonly status = 0, readonly receipt?: unknown) {
    super(`${code}: ${detail}`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Options of a transaction built by `Client.build`. */
export interface BuildOptions {
  sender?: string; signers?: Keypair[]; fee?: bigint | number; feePayer?: string | null; nonce?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One node's API, for example `new Client("http://127.0.0.1:8645")`. */
export class Client {
  private chainIdCache?: number;
  readonly url: string;

  constructor(url = "http://127.0.0.1:8645") {
    this.url = url.replace(/\/+$/, "");
  }

  private async request(method: string, path: string, body?: BodyInit, contentType?: string): Promise<Any> {
    const res = await fetch(this.url + path, { method, body, headers: contentType ? { "content-type": contentType } : {} });
    const text = await res.text();
    if (!res.ok) {
      let err: Any = {};
      try { err = JSON.parse(text); } catch { err = { code: "http_error", message: text.slice(0, 200) }; }
      throw new MachinaError(err.code ?? "http_error", err.message ?? "", res.status, err.receipt);
    }
    return (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text;
  }

  /** `GET` a path of the API, such as `/v1/machine/7`. */
  get(path: string): Promise<Any> { return this.request("GET", path); }
  /** `POST` a JSON value to a path of the API. */
  post(path: string, value: unknown): Promise<Any> { return this.request("POST", path, JSON.stringify(value), "application/json"); }

  /** Chain id, height and state root. */
  health(): Promise<{ chain_id: number; height: number; state_root: string }> { return this.get("/v1/health"); }
  /** The node's chain id (asked once). */
  async chainId(): Promise<number> { return (this.chainIdCache ??= Number((await this.health()).chain_id)); }
  /** The latest committed height. */
  async height(): Promise<number> { return Number((await this.health()).height); }
  /** An account's balance (micro-units, a decimal string) and next nonce. */
  account(address: string): Promise<{ address: string; balance: string; nonce: number }> { return this.get(`/v1/account/${address}`); }
  /** An account's balance in micro-units. */
  async balance(address: string): Promise<bigint> { return BigInt((await this.account(address)).balance); }
  /** A machine's record: owner, kind, zone, status, account, keys. */
  machine(id: number): Promise<Any> { return this.get(`/v1/machine/${id}`); }
  /** A block by height, hash or `latest`, with its receipts if asked. */
  block(id: number | string = "latest", receipts = false): Promise<Any> { return this.get(`/v1/block/${id}${receipts ? "?receipts=true" : ""}`); }
  /** An account's transactions, newest first; `before` is the page's cursor. */
  accountTxs(address: string, before?: string): Promise<Any> { return this.get(`/v1/account/${address}/txs${before ? `?before=${before}` : ""}`); }

  /** A signed transaction from `sender` (default: the signer's account), with its next nonce
   * unless given; extra `signers` sign too (multisig members, a fee payer). */
  async build(signer: Keypair, actions: JsonObject[], opts: BuildOptions = {}): Promise<Transaction> {
    const sender = opts.sender ?? signer.address;
    const nonce = opts.nonce ?? Number((await this.account(sender)).nonce);
    const normalized = actions.map(actionJson);
    const b = body({ chainId: await this.chainId(), sender, nonce, actions: normalized, fee: opts.fee ?? MIN_FEE, expiryHeight: (await this.height()) + EXPIRY_BLOCKS, feePayer: opts.feePayer });
    return sign(b, [signer, ...(opts.signers ?? [])]);
  }

  /** The receipt and events `tx` would get against the pending state; nothing charged. */
  simulate(tx: Transaction): Promise<Any> { return this.post("/v1/tx/simulate", tx); }
  /** Admits `tx` to the node's mempool; answers its id. Admission is not inclusion. */
  async submit(tx: Transaction): Promise<string> { return String((await this.post("/v1/tx", tx)).tx_hash); }
  /** Like `submit`, sending the canonical bytes instead of JSON. */
  async submitBytes(tx: Transaction): Promise<string> {
    return String((await this.request("POST", "/v1/tx", encodeTx(tx) as BodyInit, "application/octet-stream")).tx_hash);
  }

  /** Waits for `tx`'s receipt, resubmitting it if the node lost it (a restart drops the
   * mempool; one body is one id, so resubmitting is idempotent). */
  async wait(tx: Transaction, timeoutMs = 60_000): Promise<Any> {
    const id = txId(tx.body);
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const view = await this.get(`/v1/tx/${id}?wait_ms=${WAIT_SLICE_MS}`);
        if (view.status === "committed") return view;
      } catch (e) {
        if (e instanceof MachinaError && e.code === "not_found") {
          // Refusals are kept, not thrown: the transaction may have been committed meanwhile.
          lastError = await this.submit(tx).then(() => undefined, (r) => (r instanceof MachinaError && r.code === "already_known" ? undefined : r));
        } else if (e instanceof MachinaError) {
          throw e;
        } else {
          lastError = e;
          await sleep(500); // the node is restarting: try again until the deadline
        }
      }
      if (Date.now() >= deadline) throw new Error(`transaction ${id} was not committed in ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ""}`);
    }
  }

  /** Builds, preflights, submits and waits: the record of a transaction that succeeded.
   * Throws `MachinaError` with the failing action's code if the simulation or the committed
   * transaction failed (a committed failure still pays its fee). */
  async send(signer: Keypair, actions: JsonObject[], opts: BuildOptions = {}): Promise<Any> {
    const tx = await this.build(signer, actions, opts);
    const sim = await this.simulate(tx);
    raiseFailed(sim.receipt, "simulated first, nothing was sent");
    await this.submit(tx);
    const view = await this.wait(tx);
    raiseFailed(view.receipt, `committed at height ${view.height}`);
    return view;
  }

  /** Follows `/v1/ws` (docs/events.md): yields the subscription's `block`, `event` and
   * `height` messages. After a disconnection it subscribes again from the first height it has
   * not seen completely and skips that height's events it already yielded, so every message
   * arrives exactly once and in order. Stop by breaking out of the loop. */
  async *subscribe(subscription: JsonObject): AsyncGenerator<Any> {
    const sub: JsonObject = { ...subscription };
    const isBlocks = sub.subscribe === "blocks";
    let done: number | undefined;
    let partial = 0;
    let failures = 0;
    for (;;) {
      if (done !== undefined) sub.from_height = done + 1;
      const conn = new Inbox(this.url.replace(/^http/, "ws") + "/v1/ws");
      let skip = partial;
      try {
        await conn.opened;
        conn.socket.send(JSON.stringify(sub));
        for (;;) {
          const msg = await conn.next();
          if (msg === undefined) break;
          if (msg.type === "subscribed") { failures = 0; continue; }
          if (msg.type === "error") throw new MachinaError(msg.code, msg.message);
          if (msg.type === "closing") break;
          if (msg.type === "event") {
            if (skip > 0) { skip--; continue; }
            partial++;
          } else if ((msg.type === "block" && isBlocks) || msg.type === "height") {
            done = msg.height; partial = 0;
          }
          yield msg;
        }
      } catch (e) {
        if (e instanceof MachinaError) throw e;
      } finally {
        conn.close();
      }
      if (++failures > MAX_RECONNECTS) throw new Error(`gave up on ${this.url} after ${MAX_RECONNECTS} reconnections`);
      await sleep(Math.min(2000, 100 * failures));
    }
  }
}

/** A WebSocket's messages as a queue that can be awaited one at a time. */
class Inbox {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  private queue: Any[] = [];
  private waiting?: (m: Any) => void;
  private ended = false;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = () => reject(new Error(`could not open ${url}`));
    });
    this.socket.onmessage = (e) => this.push(JSON.parse(String(e.data)));
    this.socket.onclose = () => { this.ended = true; this.push(undefined); };
  }

  private push(m: Any) {
    if (this.waiting) { const w = this.waiting; this.waiting = undefined; w(m); } else this.queue.push(m);
  }

  /** The next message, or `undefined` once the connection is closed. */
  next(): Promise<Any> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => (this.waiting = r));
  }

  close() { try { this.socket.close(); } catch { /* already closed */ } }
}

function raiseFailed(receipt: Any, context: string): void {
  if (!receipt?.success) {
    const err = receipt?.error ?? {};
    throw new MachinaError(err.code ?? "failed", `${err.message ?? ""} (${context})`, 0, receipt);
  }
}
