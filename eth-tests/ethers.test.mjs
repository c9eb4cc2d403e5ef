// ethers v6 against an Ethereum JSON-RPC node ($ETH_RPC over HTTP, $ETH_WS
// over WebSocket). Deploys the ERC-20, transfers, reads logs by eth_getLogs
// and by an eth_subscribe("logs") subscription, sends a plain value transfer,
// and checks the block / fee / nonce reads a wallet relies on.
import { ethers } from 'ethers';
import {
  ETH_RPC, ETH_WS, DEV_KEYS, TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY, EVENT_TIMEOUT_MS,
  Reporter, assert, assertEq, loadArtifact, withTimeout,
} from './lib/common.mjs';

const r = new Reporter('ethers');
const artifact = loadArtifact('ERC20');

// Polling is how ethers waits on HTTP (tx.wait() watches new blocks); 500 ms
// instead of the 4 s default keeps the suite short on a fast-mining node.
// cacheTimeout -1: ethers otherwise reuses an identical request's answer for
// 250 ms, so two back-to-back sends from one Wallet get the same
// eth_getTransactionCount(pending) nonce on an instant-mining node ("nonce has
// already been used"); that is a client-side cache, not a node fault.
const provider = new ethers.JsonRpcProvider(ETH_RPC, undefined, { pollingInterval: 500, cacheTimeout: -1 });
const [w0, w1, w2] = DEV_KEYS.slice(0, 3).map((k) => new ethers.Wallet(k, provider));
const TRANSFER_TOPIC = ethers.id('Transfer(address,address,uint256)');

const network = await r.must('provider connects (eth_chainId)', async () => {
  const n = await provider.getNetwork();
  assert(n.chainId > 0n, `chain id ${n.chainId}`);
  console.log(`     chain id ${n.chainId} at ${ETH_RPC}`);
  return n;
});

await r.check('dev account 0 is funded', async () => {
  const b = await provider.getBalance(w0.address);
  return assert(b > 10n ** 18n, `balance ${b}`);
});

// --- deploy ---------------------------------------------------------------
const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, w0);
const token = await r.must('ContractFactory.deploy + waitForDeployment', async () => {
  const c = await factory.deploy(TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY);
  await c.waitForDeployment();
  const rcpt = await c.deploymentTransaction().wait();
  assertEq(rcpt.status, 1, 'deploy receipt status');
  assert(rcpt.contractAddress && ethers.getAddress(rcpt.contractAddress) === (await c.getAddress()), 'receipt contractAddress');
  console.log(`     token at ${await c.getAddress()} (block ${rcpt.blockNumber}, gas ${rcpt.gasUsed})`);
  return c;
});
const tokenAddr = await token.getAddress();

await r.check('getCode returns the deployed runtime bytecode', async () => {
  const code = await provider.getCode(tokenAddr);
  return assertEq(code, artifact.deployedBytecode, 'code');
});

await r.check('name/symbol/decimals/totalSupply (eth_call)', async () => {
  assertEq(await token.name(), TOKEN_NAME, 'name');
  assertEq(await token.symbol(), TOKEN_SYMBOL, 'symbol');
  assertEq(await token.decimals(), 18n, 'decimals');
  return assertEq(await token.totalSupply(), TOKEN_SUPPLY, 'totalSupply');
});

// --- transfer -------------------------------------------------------------
const amount = 1234n * 10n ** 18n;
const bal0Before = await token.balanceOf(w0.address);
const bal1Before = await token.balanceOf(w1.address);
const rcpt1 = await r.check('transfer to account 1 + tx.wait()', async () => {
  const tx = await token.transfer(w1.address, amount);
  assertEq(tx.type, 2, 'tx type (EIP-1559 by default)');
  const rcpt = await tx.wait();
  assertEq(rcpt.status, 1, 'status');
  assertEq(rcpt.hash, tx.hash, 'receipt hash');
  assert(rcpt.logs.length === 1, `expected 1 log, got ${rcpt.logs.length}`);
  return rcpt;
});

await r.check('balanceOf both sides after transfer', async () => {
  assertEq(await token.balanceOf(w0.address), bal0Before - amount, 'sender balance');
  return assertEq(await token.balanceOf(w1.address), bal1Before + amount, 'recipient balance');
});

await r.check('getTransaction / getTransactionReceipt by hash', async () => {
  const tx = await provider.getTransaction(rcpt1.hash);
  assertEq(tx.from, w0.address, 'from');
  assertEq(tx.to, tokenAddr, 'to');
  assertEq(tx.blockNumber, rcpt1.blockNumber, 'blockNumber');
  const rc = await provider.getTransactionReceipt(rcpt1.hash);
  assertEq(rc.blockHash, rcpt1.blockHash, 'blockHash');
  return assert(rc.gasPrice > 0n, 'effectiveGasPrice');
});

await r.check('getLogs with address + topic filter (eth_getLogs)', async () => {
  const logs = await provider.getLogs({
    address: tokenAddr,
    topics: [TRANSFER_TOPIC, ethers.zeroPadValue(w0.address, 32), ethers.zeroPadValue(w1.address, 32)],
    fromBlock: rcpt1.blockNumber,
    toBlock: rcpt1.blockNumber,
  });
  assertEq(logs.length, 1, 'log count');
  const parsed = token.interface.parseLog(logs[0]);
  assertEq(parsed.name, 'Transfer', 'event');
  assertEq(parsed.args.value, amount, 'value');
  assertEq(logs[0].transactionHash, rcpt1.hash, 'transactionHash');
  // Whole history: mint (from = 0) + the transfer.
  const all = await provider.getLogs({ address: tokenAddr, topics: [TRANSFER_TOPIC], fromBlock: 0, toBlock: 'latest' });
  return assertEq(all.length, 2, 'Transfer logs from block 0');
});

await r.check('queryFilter on the contract (eth_getLogs via Contract)', async () => {
  const evs = await token.queryFilter(token.filters.Transfer(w0.address, w1.address), rcpt1.blockNumber);
  return assertEq(evs.length, 1, 'events');
});

// --- logs over WebSocket --------------------------------------------------
await r.check('WebSocketProvider eth_subscribe("logs") sees a second transfer', async () => {
  const ws = new ethers.WebSocketProvider(ETH_WS);
  try {
    assertEq((await ws.getNetwork()).chainId, network.chainId, 'ws chain id');
    const amount2 = 7n * 10n ** 18n;
    const filter = { address: tokenAddr, topics: [TRANSFER_TOPIC, null, ethers.zeroPadValue(w2.address, 32)] };
    let resolveLog;
    const got = new Promise((res) => (resolveLog = res));
    await ws.on(filter, (log) => resolveLog(log));
    // ethers installs the subscription asynchronously; wait until the
    // eth_subscribe round-trip is done before sending.
    await waitSubscribed(ws);
    const tx = await token.transfer(w2.address, amount2);
    const rcpt = await tx.wait();
    const log = await withTimeout(got, EVENT_TIMEOUT_MS, 'the Transfer log on the subscription');
    assertEq(log.transactionHash, rcpt.hash, 'subscribed log tx hash');
    assertEq(BigInt(log.data), amount2, 'subscribed log value');
    return true;
  } finally {
    await ws.removeAllListeners();
    // eth_unsubscribe is sent asynchronously; let it complete before closing.
    await ws.send('eth_chainId', []).catch(() => {});
    await ws.send('eth_chainId', []).catch(() => {});
    ws.destroy();
  }
});

// --- plain value transfer -------------------------------------------------
await r.check('value transfer of 1 ether-unit to account 2 (getBalance)', async () => {
  const one = 10n ** 18n;
  const before = await provider.getBalance(w2.address);
  const tx = await w0.sendTransaction({ to: w2.address, value: one });
  const rcpt = await tx.wait();
  assertEq(rcpt.status, 1, 'status');
  assertEq(rcpt.gasUsed, 21000n, 'gasUsed');
  return assertEq(await provider.getBalance(w2.address), before + one, 'recipient balance');
});

// --- blocks, fees, gas, nonces -------------------------------------------
await r.check("getBlock('latest') has baseFeePerGas and gasLimit", async () => {
  const b = await provider.getBlock('latest');
  assert(b.baseFeePerGas !== null && b.baseFeePerGas !== undefined, 'baseFeePerGas missing');
  assert(b.gasLimit > 0n, 'gasLimit');
  assert(b.hash && b.number >= 0, 'hash/number');
  const byHash = await provider.getBlock(b.hash);
  return assertEq(byHash.number, b.number, 'block by hash');
});

await r.check('getBlock with transactions prefetched', async () => {
  const b = await provider.getBlock(rcpt1.blockNumber, true);
  const txs = b.prefetchedTransactions;
  return assert(txs.some((t) => t.hash === rcpt1.hash), 'transfer tx not in its block');
});

await r.check('getFeeData', async () => {
  const f = await provider.getFeeData();
  assert(f.gasPrice !== null && f.gasPrice > 0n, `gasPrice ${f.gasPrice}`);
  assert(f.maxFeePerGas !== null && f.maxFeePerGas > 0n, `maxFeePerGas ${f.maxFeePerGas}`);
  return assert(f.maxPriorityFeePerGas !== null, 'maxPriorityFeePerGas');
});

await r.check('estimateGas (value transfer = 21000, token transfer in range)', async () => {
  // Value is whole micro-units (10^12 wei) on Machina; anvil takes any wei, so 10^12 works on both.
  const g1 = await provider.estimateGas({ from: w0.address, to: w1.address, value: 10n ** 12n });
  assertEq(g1, 21000n, 'value transfer estimate');
  const g2 = await token.transfer.estimateGas(w1.address, 1n);
  return assert(g2 > 21000n && g2 < 100000n, `token transfer estimate ${g2}`);
});

if ((await provider.send('web3_clientVersion', [])).startsWith('machina/')) {
  await r.check('value below a micro-unit (10^12 wei) is refused with sub_micro_value', async () => {
    try {
      await w0.sendTransaction({ to: w1.address, value: 1n });
    } catch (e) {
      // ethers reports a refused estimate as CALL_EXCEPTION; the node's own error is in info.
      const said = JSON.stringify(e.info ?? {}) + String(e.message ?? e);
      return assert(said.includes('sub_micro_value'), said);
    }
    throw new Error('1 wei was accepted');
  });
}

await r.check("getTransactionCount(addr, 'pending') >= 'latest'", async () => {
  const latest = await provider.getTransactionCount(w0.address, 'latest');
  const pending = await provider.getTransactionCount(w0.address, 'pending');
  assert(latest >= 3, `nonce ${latest} after 4 txs`);
  return assert(pending >= latest, `pending ${pending} < latest ${latest}`);
});

await r.check('revert reason surfaces (eth_call of an over-balance transfer)', async () => {
  try {
    await token.connect(w2).transfer.staticCall(w1.address, TOKEN_SUPPLY * 2n);
  } catch (e) {
    assertEq(e.code, 'CALL_EXCEPTION', 'error code');
    return assertEq(e.reason, 'ERC20: insufficient balance', 'revert reason');
  }
  throw new Error('call did not revert');
});

await r.check('estimateGas of a reverting call rejects with the reason', async () => {
  try {
    await token.connect(w2).transfer.estimateGas(w1.address, TOKEN_SUPPLY * 2n);
  } catch (e) {
    assertEq(e.code, 'CALL_EXCEPTION', 'error code');
    return assertEq(e.reason, 'ERC20: insufficient balance', 'revert reason');
  }
  throw new Error('estimate did not revert');
});

await r.check('approve + transferFrom + allowance', async () => {
  const t1 = token.connect(w1);
  await (await token.approve(w1.address, 100n)).wait();
  assertEq(await token.allowance(w0.address, w1.address), 100n, 'allowance');
  const rc = await (await t1.transferFrom(w0.address, w2.address, 60n)).wait();
  assertEq(rc.status, 1, 'transferFrom status');
  const approvals = await token.queryFilter(token.filters.Approval(w0.address), rc.blockNumber - 1);
  assert(approvals.length >= 1, 'Approval event');
  return assertEq(await token.allowance(w0.address, w1.address), 40n, 'allowance after');
});

provider.destroy();
r.finish();

// ethers' SocketProvider writes eth_subscribe when the listener is attached
// but does not expose its completion. One more request on the same socket
// after it: a node answering a socket's requests in order has installed the
// subscription by the time this answer arrives.
async function waitSubscribed(ws) {
  await ws.send('eth_chainId', []);
}
