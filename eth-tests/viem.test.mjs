// viem against an Ethereum JSON-RPC node ($ETH_RPC over HTTP, $ETH_WS over
// WebSocket): defineChain from eth_chainId, deployContract, receipts,
// writeContract/readContract, getLogs/getContractEvents, log watching over a
// webSocket transport (eth_subscribe) and over HTTP (eth_newFilter polling).
import {
  createPublicClient, createWalletClient, defineChain, http, webSocket, parseAbiItem,
  parseEther, ContractFunctionRevertedError, BaseError,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  ETH_RPC, ETH_WS, DEV_KEYS, TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY, EVENT_TIMEOUT_MS,
  Reporter, assert, assertEq, loadArtifact, withTimeout,
} from './lib/common.mjs';

const r = new Reporter('viem');
const { abi, bytecode, deployedBytecode } = loadArtifact('ERC20');
const [a0, a1, a2] = DEV_KEYS.slice(0, 3).map((k) => privateKeyToAccount(k));
const transferEvent = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)');
// viem polls at chain.blockTime/3 or 4 s by default; 500 ms keeps waits short.
const pollingInterval = 500;

const chainId = await r.must('eth_chainId at start', async () => {
  const bare = createPublicClient({ transport: http(ETH_RPC) });
  const id = await bare.getChainId();
  assert(id > 0, `chain id ${id}`);
  console.log(`     chain id ${id} at ${ETH_RPC}`);
  return id;
});

const chain = defineChain({
  id: chainId,
  name: 'machina-under-test',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [ETH_RPC], webSocket: [ETH_WS] } },
});
const publicClient = createPublicClient({ chain, transport: http(ETH_RPC), pollingInterval });
const wallet0 = createWalletClient({ account: a0, chain, transport: http(ETH_RPC), pollingInterval });
const wallet1 = createWalletClient({ account: a1, chain, transport: http(ETH_RPC), pollingInterval });

// --- deploy ---------------------------------------------------------------
const tokenAddr = await r.must('deployContract + waitForTransactionReceipt', async () => {
  const hash = await wallet0.deployContract({ abi, bytecode, args: [TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY] });
  const rcpt = await publicClient.waitForTransactionReceipt({ hash });
  assertEq(rcpt.status, 'success', 'status');
  assert(rcpt.contractAddress, 'contractAddress');
  console.log(`     token at ${rcpt.contractAddress} (block ${rcpt.blockNumber})`);
  return rcpt.contractAddress;
});
const token = { address: tokenAddr, abi };

await r.check('getCode (getBytecode) equals the runtime bytecode', async () => {
  const code = await publicClient.getCode({ address: tokenAddr });
  return assertEq(code, deployedBytecode, 'code');
});

await r.check('readContract name/symbol/decimals/totalSupply', async () => {
  assertEq(await publicClient.readContract({ ...token, functionName: 'name' }), TOKEN_NAME, 'name');
  assertEq(await publicClient.readContract({ ...token, functionName: 'symbol' }), TOKEN_SYMBOL, 'symbol');
  assertEq(await publicClient.readContract({ ...token, functionName: 'decimals' }), 18, 'decimals');
  return assertEq(await publicClient.readContract({ ...token, functionName: 'totalSupply' }), TOKEN_SUPPLY, 'totalSupply');
});

// --- transfer -------------------------------------------------------------
const amount = parseEther('250');
const balOf = (address) => publicClient.readContract({ ...token, functionName: 'balanceOf', args: [address] });
const before0 = await balOf(a0.address);
const before1 = await balOf(a1.address);
const rcpt1 = await r.check('writeContract transfer + waitForTransactionReceipt', async () => {
  const hash = await wallet0.writeContract({ ...token, functionName: 'transfer', args: [a1.address, amount] });
  const rcpt = await publicClient.waitForTransactionReceipt({ hash });
  assertEq(rcpt.status, 'success', 'status');
  assertEq(rcpt.type, 'eip1559', 'tx type');
  assertEq(rcpt.logs.length, 1, 'log count');
  return rcpt;
});

await r.check('readContract balanceOf both sides', async () => {
  assertEq(await balOf(a0.address), before0 - amount, 'sender');
  return assertEq(await balOf(a1.address), before1 + amount, 'recipient');
});

await r.check('simulateContract + writeContract(request)', async () => {
  const { request, result } = await publicClient.simulateContract({
    ...token, account: a1, functionName: 'transfer', args: [a2.address, 5n],
  });
  assertEq(result, true, 'simulated return');
  const hash = await wallet1.writeContract(request);
  const rcpt = await publicClient.waitForTransactionReceipt({ hash });
  return assertEq(rcpt.status, 'success', 'status');
});

await r.check('getLogs with event + indexed args (eth_getLogs)', async () => {
  const logs = await publicClient.getLogs({
    address: tokenAddr, event: transferEvent, args: { from: a0.address, to: a1.address },
    fromBlock: rcpt1.blockNumber, toBlock: rcpt1.blockNumber,
  });
  assertEq(logs.length, 1, 'log count');
  assertEq(logs[0].args.value, amount, 'value');
  return assertEq(logs[0].transactionHash, rcpt1.transactionHash, 'tx hash');
});

await r.check('getContractEvents Transfer from block 0', async () => {
  const evs = await publicClient.getContractEvents({ ...token, eventName: 'Transfer', fromBlock: 0n, toBlock: 'latest' });
  assertEq(evs.length, 3, 'mint + 2 transfers');
  return assertEq(evs[0].args.from, '0x0000000000000000000000000000000000000000', 'mint from zero');
});

await r.check('createContractEventFilter + getFilterLogs (eth_newFilter)', async () => {
  const filter = await publicClient.createContractEventFilter({ ...token, eventName: 'Transfer', fromBlock: 0n });
  const logs = await publicClient.getFilterLogs({ filter });
  await publicClient.uninstallFilter({ filter });
  return assertEq(logs.length, 3, 'filter logs');
});

// --- watching logs --------------------------------------------------------
async function watchOnce(client, label) {
  let done;
  const got = new Promise((res) => (done = res));
  const unwatch = client.watchContractEvent({
    ...token, eventName: 'Transfer', args: { to: a2.address },
    onLogs: (logs) => done(logs),
    onError: (e) => done(Promise.reject(e)),
  });
  try {
    // Give the watcher its first round-trip (eth_subscribe / eth_newFilter).
    await client.getBlockNumber({ cacheTime: 0 });
    const value = BigInt(Math.floor(Math.random() * 1e6)) + 1n;
    const hash = await wallet0.writeContract({ ...token, functionName: 'transfer', args: [a2.address, value] });
    await publicClient.waitForTransactionReceipt({ hash });
    const logs = await withTimeout(got, EVENT_TIMEOUT_MS, `${label} Transfer log`);
    const mine = logs.find((l) => l.transactionHash === hash);
    assert(mine, `${label}: got ${logs.length} log(s), none of tx ${hash}`);
    return assertEq(mine.args.value, value, 'value');
  } finally {
    unwatch();
  }
}

await r.check('watchContractEvent over a webSocket transport (eth_subscribe logs)', async () => {
  const wsClient = createPublicClient({ chain, transport: webSocket(ETH_WS) });
  try {
    assertEq(await wsClient.getChainId(), chainId, 'ws chain id');
    return await watchOnce(wsClient, 'websocket');
  } finally {
    const t = await wsClient.transport.getRpcClient?.();
    t?.close?.();
  }
});

await r.check('watchContractEvent over HTTP (filter polling)', async () => watchOnce(publicClient, 'http'));

await r.check('watchBlockNumber over webSocket (eth_subscribe newHeads)', async () => {
  const wsClient = createPublicClient({ chain, transport: webSocket(ETH_WS) });
  let done;
  const got = new Promise((res) => (done = res));
  const unwatch = wsClient.watchBlockNumber({ onBlockNumber: (n) => done(n), onError: (e) => done(Promise.reject(e)), emitOnBegin: false });
  try {
    await wsClient.getBlockNumber({ cacheTime: 0 });
    const hash = await wallet0.sendTransaction({ to: a2.address, value: 10n ** 12n });
    const rcpt = await publicClient.waitForTransactionReceipt({ hash });
    const n = await withTimeout(got, EVENT_TIMEOUT_MS, 'a new head');
    return assert(n <= rcpt.blockNumber + 1n && n > 0n, `head ${n}`);
  } finally {
    unwatch();
    const t = await wsClient.transport.getRpcClient?.();
    t?.close?.();
  }
});

// --- value transfer, blocks, fees ------------------------------------------
await r.check('sendTransaction 1 ether-unit + getBalance', async () => {
  const before = await publicClient.getBalance({ address: a2.address });
  const hash = await wallet0.sendTransaction({ to: a2.address, value: parseEther('1') });
  const rcpt = await publicClient.waitForTransactionReceipt({ hash });
  assertEq(rcpt.gasUsed, 21000n, 'gasUsed');
  return assertEq(await publicClient.getBalance({ address: a2.address }), before + parseEther('1'), 'balance');
});

await r.check('getBlock latest: baseFeePerGas, gasLimit, hash; by hash and with txs', async () => {
  const b = await publicClient.getBlock();
  assert(typeof b.baseFeePerGas === 'bigint', 'baseFeePerGas');
  assert(b.gasLimit > 0n, 'gasLimit');
  const byHash = await publicClient.getBlock({ blockHash: b.hash });
  assertEq(byHash.number, b.number, 'by hash');
  const withTxs = await publicClient.getBlock({ blockNumber: rcpt1.blockNumber, includeTransactions: true });
  return assert(withTxs.transactions.some((t) => t.hash === rcpt1.transactionHash), 'tx in block');
});

await r.check('getTransaction / getTransactionReceipt / getTransactionConfirmations', async () => {
  const tx = await publicClient.getTransaction({ hash: rcpt1.transactionHash });
  assertEq(tx.from.toLowerCase(), a0.address.toLowerCase(), 'from');
  assertEq(tx.type, 'eip1559', 'type');
  const c = await publicClient.getTransactionConfirmations({ hash: rcpt1.transactionHash });
  return assert(c >= 1n, `confirmations ${c}`);
});

await r.check('estimateFeesPerGas / getGasPrice / estimateMaxPriorityFeePerGas', async () => {
  const f = await publicClient.estimateFeesPerGas();
  assert(f.maxFeePerGas > 0n, 'maxFeePerGas');
  assert(f.maxPriorityFeePerGas >= 0n, 'maxPriorityFeePerGas');
  assert((await publicClient.getGasPrice()) > 0n, 'gasPrice');
  return assert((await publicClient.estimateMaxPriorityFeePerGas()) >= 0n, 'priority');
});

await r.check('getFeeHistory', async () => {
  const h = await publicClient.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
  assert(h.baseFeePerGas.length >= 2, 'baseFeePerGas');
  return assert(Array.isArray(h.reward), 'reward');
});

await r.check('estimateGas / estimateContractGas', async () => {
  assertEq(await publicClient.estimateGas({ account: a0, to: a1.address, value: 10n ** 12n }), 21000n, 'value transfer');
  const g = await publicClient.estimateContractGas({ ...token, account: a0, functionName: 'transfer', args: [a1.address, 1n] });
  return assert(g > 21000n && g < 100000n, `transfer ${g}`);
});

await r.check("getTransactionCount blockTag 'pending' >= 'latest'", async () => {
  const latest = await publicClient.getTransactionCount({ address: a0.address });
  const pending = await publicClient.getTransactionCount({ address: a0.address, blockTag: 'pending' });
  return assert(pending >= latest && latest > 0, `pending ${pending} latest ${latest}`);
});

await r.check('revert reason decoded (simulateContract over-balance)', async () => {
  try {
    await publicClient.simulateContract({ ...token, account: a2, functionName: 'transfer', args: [a1.address, TOKEN_SUPPLY * 2n] });
  } catch (e) {
    const rev = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null;
    assert(rev, `not a ContractFunctionRevertedError: ${e.shortMessage}`);
    return assertEq(rev.reason, 'ERC20: insufficient balance', 'reason');
  }
  throw new Error('did not revert');
});

await r.check('getStorageAt balanceOf slot of account 0', async () => {
  // Slot layout: 0 name, 1 symbol, 2 totalSupply, 3 balanceOf, 4 allowance.
  const { keccak256, encodeAbiParameters, hexToBigInt } = await import('viem');
  const slot = keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [a0.address, 3n]));
  const v = await publicClient.getStorageAt({ address: tokenAddr, slot });
  return assertEq(hexToBigInt(v), await balOf(a0.address), 'storage value');
});

r.finish();
