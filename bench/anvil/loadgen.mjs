// ERC-20 transfer load generator for any Ethereum JSON-RPC node.
//
//   node bench/anvil/loadgen.mjs <rpc-url> [--txs 20000] [--senders 8]
//        [--batch 100] [--conns 4] [--chain-id N] [--gas-price WEI]
//        [--tip WEI] [--gas-limit 100000] [--recipients 1000] [--timeout 600]
//        [--kick METHOD]
//
// 1. Deploys contracts/ERC20.sol (compiled by eth-tests/compile.mjs) from dev
//    account 0 and gives each sender (dev accounts 1..senders) its share of
//    tokens. This setup uses ordinary RPC and is not timed.
// 2. Presigns --txs EIP-1559 transfer(recipient, 1) transactions, round-robin
//    over the senders with sequential nonces from each sender's current nonce,
//    with an explicit gas limit, maxFeePerGas = 2 * gasPrice and
//    maxPriorityFeePerGas = tip (default: min(1 gwei, gasPrice)), chain id
//    from --chain-id or eth_chainId, gasPrice from --gas-price or eth_gasPrice.
//    Signing needs no RPC. Recipients cycle over --recipients fixed addresses.
// 3. Timed: sends them all with eth_sendRawTransaction in JSON-RPC batches of
//    --batch over --conns keep-alive connections in parallel; each sender's
//    transactions go down one connection in nonce order. Then polls
//    eth_getTransactionCount(sender, "latest") until every sender's last
//    nonce is mined. seconds = first send to last nonce mined. A transaction
//    refused for back-pressure (nonce_too_far_ahead, sender_full,
//    mempool_full: the node's queue limits) is resent after 20 ms, in nonce
//    order, within the timed span; `resent` counts those resends.
// 4. Untimed: checks every receipt exists with status 1 (batched
//    eth_getTransactionReceipt) and the recipients' token balances.
// --kick METHOD (e.g. evm_mine, for anvil): when no sender's nonce has moved
//    for 500 ms while some are still short, call METHOD once. anvil's
//    instant-mining (auto-mine) mode leaves ready transactions unmined after
//    a burst (foundry-rs/foundry#10122); this is the only node-specific knob
//    and is off by default. The number of kicks is reported.
// Prints one JSON object: {"erc20_per_s", "txs", "seconds", ...details}.
// Progress goes to stderr.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ethTests = path.resolve(here, '..', '..', 'eth-tests');
const require = createRequire(path.join(ethTests, 'package.json'));
const { ethers } = require('ethers');

// m/44'/60'/0'/0/i of "test test test test test test test test test test test junk"
const MNEMONIC = 'test test test test test test test test test test test junk';

function parseArgs(argv) {
  const o = { kick: null, txs: 20000, senders: 8, batch: 100, conns: 4, gasLimit: 100000, recipients: 1000, timeout: 600 };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => argv[++i];
    switch (a) {
      case '--txs': o.txs = Number(take()); break;
      case '--senders': o.senders = Number(take()); break;
      case '--batch': o.batch = Number(take()); break;
      case '--conns': o.conns = Number(take()); break;
      case '--chain-id': o.chainId = BigInt(take()); break;
      case '--gas-price': o.gasPrice = BigInt(take()); break;
      case '--tip': o.tip = BigInt(take()); break;
      case '--gas-limit': o.gasLimit = Number(take()); break;
      case '--recipients': o.recipients = Number(take()); break;
      case '--timeout': o.timeout = Number(take()); break;
      case '--kick': o.kick = take(); break;
      default:
        if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
        rest.push(a);
    }
  }
  o.rpc = rest[0] || process.env.ETH_RPC || 'http://127.0.0.1:8545';
  if (o.senders < 1 || o.senders > 19) throw new Error('--senders must be 1..19 (dev accounts 1..19)');
  return o;
}

const log = (...a) => console.error('[loadgen]', ...a);

// Minimal JSON-RPC over node:http with one keep-alive socket per Lane.
class Lane {
  constructor(url) {
    this.url = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.id = 0;
  }
  post(body) {
    return new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          hostname: this.url.hostname, port: this.url.port, path: this.url.pathname + this.url.search, method: 'POST', agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': data.length },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            try {
              resolve(JSON.parse(text));
            } catch (e) {
              reject(new Error(`bad JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
      req.on('error', reject);
      req.end(data);
    });
  }
  async call(method, params = []) {
    const r = await this.post({ jsonrpc: '2.0', id: ++this.id, method, params });
    if (r.error) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
    return r.result;
  }
  async batch(reqs) {
    const body = reqs.map(([method, params]) => ({ jsonrpc: '2.0', id: ++this.id, method, params }));
    const first = body[0]?.id;
    const out = await this.post(body);
    if (!Array.isArray(out)) throw new Error(`batch answer not an array: ${JSON.stringify(out).slice(0, 200)}`);
    const byId = new Map(out.map((r) => [r.id, r]));
    return body.map((b) => byId.get(b.id) ?? { error: { code: 0, message: `no answer for id ${b.id} (first ${first})` } });
  }
  close() {
    this.agent.destroy();
  }
}

const opts = parseArgs(process.argv.slice(2));
const artifactFile = path.join(ethTests, 'build', 'ERC20.json');
if (!fs.existsSync(artifactFile)) throw new Error(`${artifactFile} missing: run node eth-tests/compile.mjs`);
const artifact = JSON.parse(fs.readFileSync(artifactFile, 'utf8'));

const ctl = new Lane(opts.rpc);
const chainId = opts.chainId ?? BigInt(await ctl.call('eth_chainId'));
const gasPrice = opts.gasPrice ?? BigInt(await ctl.call('eth_gasPrice'));
const tip = opts.tip ?? (gasPrice < 10n ** 9n ? gasPrice : 10n ** 9n);
const maxFee = gasPrice * 2n > tip ? gasPrice * 2n : tip;
log(`rpc ${opts.rpc} chain ${chainId} gasPrice ${gasPrice} maxFee ${maxFee} tip ${tip}`);

// --- setup (untimed): deploy + distribute ------------------------------------
const mn = ethers.Mnemonic.fromPhrase(MNEMONIC);
const keyOf = (i) => ethers.HDNodeWallet.fromMnemonic(mn, `m/44'/60'/0'/0/${i}`);
const provider = new ethers.JsonRpcProvider(opts.rpc, Number(chainId), { staticNetwork: true, pollingInterval: 200, cacheTimeout: -1 });
const deployer = keyOf(0).connect(provider);
const senders = Array.from({ length: opts.senders }, (_, i) => keyOf(i + 1));

const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, deployer);
const perSender = BigInt(Math.ceil(opts.txs / opts.senders)) * 10n;
const supply = perSender * BigInt(opts.senders) * 2n;
const token = await factory.deploy('Bench Token', 'BNCH', supply);
await token.waitForDeployment();
const tokenAddr = await token.getAddress();
log(`token ${tokenAddr}`);
for (const s of senders) {
  await (await token.transfer(s.address, perSender)).wait();
}
provider.destroy();

// --- presign (untimed, no RPC but one nonce read per sender) -------------------
const iface = new ethers.Interface(artifact.abi);
const recipients = Array.from({ length: opts.recipients }, (_, i) => ethers.getAddress(ethers.dataSlice(ethers.id(`machina-bench-recipient-${i}`), 12)));
const startNonce = [];
for (const s of senders) startNonce.push(Number(BigInt(await ctl.call('eth_getTransactionCount', [s.address, 'latest']))));
const perSenderTxs = senders.map(() => []);
const hashes = [];
const tSign = Date.now();
for (let i = 0; i < opts.txs; i++) {
  const si = i % senders.length;
  const s = senders[si];
  const tx = ethers.Transaction.from({
    type: 2, chainId, nonce: startNonce[si] + perSenderTxs[si].length, to: tokenAddr, value: 0n,
    data: iface.encodeFunctionData('transfer', [recipients[i % recipients.length], 1n]),
    gasLimit: BigInt(opts.gasLimit), maxFeePerGas: maxFee, maxPriorityFeePerGas: tip,
  });
  tx.signature = s.signingKey.sign(tx.unsignedHash);
  perSenderTxs[si].push(tx.serialized);
  hashes.push(tx.hash);
}
const signSeconds = (Date.now() - tSign) / 1000;
log(`presigned ${opts.txs} txs from ${senders.length} senders in ${signSeconds.toFixed(1)} s`);

// Lanes: sender si goes down lane si % conns; each lane interleaves its
// senders' transactions in nonce order and sends batches one after another.
const lanes = Array.from({ length: Math.min(opts.conns, senders.length) }, () => new Lane(opts.rpc));
const laneTxs = lanes.map(() => []);
{
  const maxLen = Math.max(...perSenderTxs.map((l) => l.length));
  for (let k = 0; k < maxLen; k++) {
    for (let si = 0; si < senders.length; si++) {
      if (k < perSenderTxs[si].length) laneTxs[si % lanes.length].push(perSenderTxs[si][k]);
    }
  }
}

// --- timed: send + wait -------------------------------------------------------
let sendErrors = 0;
const firstErrors = [];
// A node that pushes back (Machina: at most MEMPOOL_MAX_PER_SENDER transactions of one sender
// wait; a full pool) is answered the way a client should: wait a little, resend in nonce order.
const BACKPRESSURE = /^(nonce_too_far_ahead|sender_full|mempool_full)/;
const BACKPRESSURE_WAIT_MS = 20;
const sendDeadline = Date.now() + opts.timeout * 1000;
let resent = 0;
const t0 = process.hrtime.bigint();
await Promise.all(
  lanes.map(async (lane, li) => {
    const txs = laneTxs[li];
    for (let off = 0; off < txs.length; off += opts.batch) {
      let pending = txs.slice(off, off + opts.batch);
      while (pending.length) {
        const res = await lane.batch(pending.map((raw) => ['eth_sendRawTransaction', [raw]]));
        const again = [];
        res.forEach((r, i) => {
          if (!r.error) return;
          if (BACKPRESSURE.test(r.error.message ?? '') && Date.now() < sendDeadline) return again.push(pending[i]);
          sendErrors++;
          if (firstErrors.length < 5) firstErrors.push(r.error);
        });
        if (again.length) {
          resent += again.length;
          await new Promise((ok) => setTimeout(ok, BACKPRESSURE_WAIT_MS));
        }
        pending = again;
      }
    }
  }),
);
const tSent = process.hrtime.bigint();
log(`sent in ${(Number(tSent - t0) / 1e9).toFixed(2)} s (${resent} resent after back-pressure, ${sendErrors} errors${firstErrors.length ? ': ' + JSON.stringify(firstErrors[0]) : ''})`);

const target = senders.map((_, si) => startNonce[si] + perSenderTxs[si].length);
const deadline = Date.now() + opts.timeout * 1000;
let mined = false;
let lastReport = Date.now();
let kicks = 0;
let lastSum = -1;
let lastMove = Date.now();
while (Date.now() < deadline) {
  const res = await ctl.batch(senders.map((s) => ['eth_getTransactionCount', [s.address, 'latest']]));
  const nonces = res.map((r) => (r.error ? -1 : Number(BigInt(r.result))));
  if (nonces.every((n, si) => n >= target[si])) {
    mined = true;
    break;
  }
  const sum = nonces.reduce((a, b) => a + b, 0);
  if (sum !== lastSum) {
    lastSum = sum;
    lastMove = Date.now();
  } else if (opts.kick && Date.now() - lastMove > 500) {
    await ctl.call(opts.kick, []);
    kicks++;
    lastMove = Date.now();
  }
  if (Date.now() - lastReport > 5000) {
    lastReport = Date.now();
    const done = nonces.reduce((a, n, si) => a + Math.max(0, n - startNonce[si]), 0);
    log(`mined ${done}/${opts.txs}`);
  }
  await new Promise((r) => setTimeout(r, 50));
}
const t1 = process.hrtime.bigint();
const seconds = Number(t1 - t0) / 1e9;

// --- untimed: verify receipts and balances -----------------------------------
let receipts = 0;
let failedStatus = 0;
for (let off = 0; off < hashes.length; off += opts.batch) {
  const res = await ctl.batch(hashes.slice(off, off + opts.batch).map((h) => ['eth_getTransactionReceipt', [h]]));
  for (const r of res) {
    if (r.result) {
      receipts++;
      if (r.result.status !== '0x1') failedStatus++;
    }
  }
}
const balCalls = recipients.slice(0, Math.min(recipients.length, 100)).map((a) => ['eth_call', [{ to: tokenAddr, data: iface.encodeFunctionData('balanceOf', [a]) }, 'latest']]);
const bals = (await ctl.batch(balCalls)).map((r) => (r.result ? BigInt(r.result) : -1n));
const expectedBal = (i) => BigInt(Math.floor(opts.txs / opts.recipients) + (i < opts.txs % opts.recipients ? 1 : 0));
const balancesOk = bals.every((b, i) => b === expectedBal(i));
for (const l of [...lanes, ctl]) l.close();

const result = {
  erc20_per_s: Math.round((opts.txs / seconds) * 10) / 10,
  txs: opts.txs,
  seconds: Math.round(seconds * 1000) / 1000,
  send_seconds: Math.round((Number(tSent - t0) / 1e9) * 1000) / 1000,
  all_mined: mined,
  receipts,
  receipts_failed: failedStatus,
  send_errors: sendErrors,
  resent,
  kicks,
  balances_ok: balancesOk,
  senders: opts.senders,
  batch: opts.batch,
  conns: lanes.length,
  chain_id: Number(chainId),
  gas_price: gasPrice.toString(),
  sign_seconds: signSeconds,
  rpc: opts.rpc,
};
console.log(JSON.stringify(result));
process.exit(mined && receipts === opts.txs && failedStatus === 0 && balancesOk ? 0 : 1);
