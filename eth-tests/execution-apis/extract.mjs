// Rebuilds requests.jsonl from a git checkout (or bare mirror) of
// ethereum/execution-apis: every ">> {request}" line of tests/<method>/*.io
// for the methods below, one {"method_dir", "file", "request"} per line.
// Usage: node extract.mjs <path-to-execution-apis-git-dir> [rev]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const METHODS = [
  'eth_chainId', 'net_version', 'web3_clientVersion', 'eth_blockNumber', 'eth_getBlockByNumber',
  'eth_getBlockByHash', 'eth_getBalance', 'eth_getTransactionCount', 'eth_getCode', 'eth_getStorageAt',
  'eth_gasPrice', 'eth_maxPriorityFeePerGas', 'eth_feeHistory', 'eth_estimateGas', 'eth_call',
  'eth_sendRawTransaction', 'eth_getTransactionByHash', 'eth_getTransactionReceipt', 'eth_getLogs', 'eth_syncing',
];
// Methods the suite has no tests/<method>/ directory for: one hand-written
// request each, marked "file": null.
const SYNTHESIZED = {
  web3_clientVersion: [],
  eth_gasPrice: [],
  eth_maxPriorityFeePerGas: [],
};

// Blobs the mirror used here lacked; their ">>" lines as read from
// ethereum/execution-apis@02367765027ad61bc0cdbcb50f97ee8d4ba9f8de.
const ABSENT_BLOBS = {
  'tests/eth_getLogs/no-topics.io': [
    '{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"address":null,"fromBlock":"0x1","toBlock":"0x3","topics":null}]}',
  ],
};

const [gitDir, rev = 'HEAD'] = process.argv.slice(2);
if (!gitDir) {
  console.error('usage: node extract.mjs <execution-apis git dir> [rev]');
  process.exit(2);
}
const git = (...a) => execFileSync('git', ['--git-dir', gitDir, ...a], { encoding: 'utf8', maxBuffer: 64 << 20 });
const commit = git('rev-parse', rev).trim();
const lines = [];
for (const m of METHODS) {
  let files = [];
  try {
    files = git('ls-tree', '--name-only', commit, `tests/${m}/`).split('\n').filter((f) => f.endsWith('.io'));
  } catch {}
  for (const f of files) {
    let text;
    try {
      text = git('show', `${commit}:${f}`);
    } catch (e) {
      if (!ABSENT_BLOBS[f]) throw e;
      text = ABSENT_BLOBS[f].map((l) => `>> ${l}`).join('\n');
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('>> ')) continue;
      lines.push({ method_dir: m, file: f, request: JSON.parse(line.slice(3)) });
    }
  }
  if (files.length === 0) {
    if (!(m in SYNTHESIZED)) throw new Error(`no tests for ${m}`);
    lines.push({ method_dir: m, file: null, request: { jsonrpc: '2.0', id: 1, method: m, params: SYNTHESIZED[m] } });
  }
}
const here = path.dirname(fileURLToPath(import.meta.url));
fs.writeFileSync(path.join(here, 'requests.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
fs.writeFileSync(path.join(here, 'SOURCE'), `ethereum/execution-apis ${commit}\n`);
console.log(`${lines.length} requests from ethereum/execution-apis ${commit}`);
