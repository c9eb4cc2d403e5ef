// Sends every request of requests.jsonl (request lines of the
// ethereum/execution-apis test suite, see README.md) to $ETH_RPC and
// classifies each answer:
//   ok        a JSON-RPC result of the right JSON type for the method
//   null      a null result where the method answers null for "not found"
//   error     a JSON-RPC error with a sensible code (-32602 invalid params,
//             -32000..-32099 server errors, 3 execution reverted, ...)
//   shape     a result of the wrong JSON type for the method
//   protocol  an HTTP error, -32601 method not found, -32600/-32700,
//             a malformed body or a response with the wrong id
// The suite's requests refer to its own chain (tests/chain.rlp), so against
// another chain "null" and "error" are expected for block hashes and
// transactions it does not have; "shape" and "protocol" are the findings.
// Prints counts per method and in total; exits 1 when shape+protocol > 0.
// Options: --verbose (one line per request), --json (summary as JSON).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ETH_RPC = process.env.ETH_RPC || 'http://127.0.0.1:8545';
const verbose = process.argv.includes('--verbose');
const asJson = process.argv.includes('--json');

const HEX_QTY = /^0x(0|[1-9a-f][0-9a-f]*)$/i;
const HEX_DATA = /^0x([0-9a-f]{2})*$/i;
const HASH = /^0x[0-9a-f]{64}$/i;
const qty = (v) => typeof v === 'string' && HEX_QTY.test(v);
const data = (v) => typeof v === 'string' && HEX_DATA.test(v);
const hash = (v) => typeof v === 'string' && HASH.test(v);
const obj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const block = (v) => obj(v) && hash(v.hash) && qty(v.number) && qty(v.gasLimit) && Array.isArray(v.transactions);
const tx = (v) => obj(v) && hash(v.hash) && qty(v.nonce) && data(v.input);
const receipt = (v) => obj(v) && hash(v.transactionHash) && qty(v.gasUsed) && Array.isArray(v.logs) && (qty(v.status) || hash(v.root));
const log = (v) => obj(v) && data(v.address) && Array.isArray(v.topics) && data(v.data);

// method -> [shape check of a non-null result, whether null means "not found"]
const SHAPES = {
  eth_chainId: [qty, false],
  net_version: [(v) => typeof v === 'string' && /^[0-9]+$/.test(v), false],
  web3_clientVersion: [(v) => typeof v === 'string' && v.length > 0, false],
  eth_blockNumber: [qty, false],
  eth_getBlockByNumber: [block, true],
  eth_getBlockByHash: [block, true],
  eth_getBalance: [qty, false],
  eth_getTransactionCount: [qty, false],
  eth_getCode: [data, false],
  eth_getStorageAt: [hash, false],
  eth_gasPrice: [qty, false],
  eth_maxPriorityFeePerGas: [qty, false],
  eth_feeHistory: [(v) => obj(v) && qty(v.oldestBlock) && Array.isArray(v.baseFeePerGas) && v.baseFeePerGas.every(qty) && Array.isArray(v.gasUsedRatio), false],
  eth_estimateGas: [qty, false],
  eth_call: [data, false],
  eth_sendRawTransaction: [hash, false],
  eth_getTransactionByHash: [tx, true],
  eth_getTransactionReceipt: [receipt, true],
  eth_getLogs: [(v) => Array.isArray(v) && v.every(log), false],
  eth_syncing: [(v) => v === false || obj(v), false],
};
const PROTOCOL_CODES = new Set([-32700, -32600, -32601]);

function classify(method, status, text, id) {
  if (status !== 200) return ['protocol', `HTTP ${status}`];
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return ['protocol', `malformed body: ${text.slice(0, 80)}`];
  }
  if (!obj(msg) || msg.jsonrpc !== '2.0') return ['protocol', 'not a JSON-RPC 2.0 object'];
  if (msg.id !== id) return ['protocol', `id ${JSON.stringify(msg.id)} != ${id}`];
  if ('error' in msg) {
    const e = msg.error;
    if (!obj(e) || !Number.isInteger(e.code) || typeof e.message !== 'string') return ['protocol', 'malformed error object'];
    if (PROTOCOL_CODES.has(e.code)) return ['protocol', `${e.code} ${e.message}`];
    return ['error', `${e.code} ${e.message}`.slice(0, 120)];
  }
  if (!('result' in msg)) return ['protocol', 'neither result nor error'];
  const [shape, nullable] = SHAPES[method] ?? [() => true, true];
  if (msg.result === null) return nullable ? ['null', 'null (not found)'] : ['shape', 'null result'];
  return shape(msg.result) ? ['ok', JSON.stringify(msg.result).slice(0, 80)] : ['shape', `bad shape: ${JSON.stringify(msg.result).slice(0, 80)}`];
}

const lines = fs.readFileSync(path.join(here, 'requests.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const KINDS = ['ok', 'null', 'error', 'shape', 'protocol'];
const perMethod = new Map();
let id = 1000;
for (const { method_dir, file, request } of lines) {
  const req = { ...request, id: ++id };
  let kind, detail;
  try {
    const res = await fetch(ETH_RPC, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
    [kind, detail] = classify(request.method, res.status, await res.text(), req.id);
  } catch (e) {
    [kind, detail] = ['protocol', `transport: ${e.cause?.code || e.message}`];
  }
  const m = perMethod.get(method_dir) ?? Object.fromEntries(KINDS.map((k) => [k, 0]));
  m[kind]++;
  perMethod.set(method_dir, m);
  if (verbose || kind === 'shape' || kind === 'protocol') {
    console.log(`${kind.padEnd(8)} ${method_dir} ${file ?? '(synthesized)'}: ${detail}`);
  }
}

const total = Object.fromEntries(KINDS.map((k) => [k, 0]));
for (const m of perMethod.values()) for (const k of KINDS) total[k] += m[k];
if (asJson) {
  console.log(JSON.stringify({ rpc: ETH_RPC, requests: lines.length, total, perMethod: Object.fromEntries(perMethod) }));
} else {
  console.log(`${'method'.padEnd(28)} ${KINDS.map((k) => k.padStart(8)).join(' ')}`);
  for (const [name, m] of perMethod) console.log(`${name.padEnd(28)} ${KINDS.map((k) => String(m[k]).padStart(8)).join(' ')}`);
  console.log(`${'total'.padEnd(28)} ${KINDS.map((k) => String(total[k]).padStart(8)).join(' ')}`);
}
const bad = total.shape + total.protocol;
console.log(`execution-apis: ${lines.length - bad} passed, ${bad} failed (${total.ok} ok, ${total.null} null, ${total.error} error, ${total.shape} shape, ${total.protocol} protocol; of ${lines.length} requests)`);
process.exit(bad ? 1 : 0);
