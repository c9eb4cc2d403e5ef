// Machina's own side of the EVM with ethers v6: a contract that calls the machine and energy
// precompiles places an energy order for a machine whose wallet policy allows the contract,
// and the same call is refused (not_machine_or_owner) for a machine whose policy does not;
// a native account calls a contract. Native set-up goes through the `machina` CLI.
// Needs MACHINA_BIN and MACHINA_NODE (the node's /v1 URL); skipped against other nodes.
import { ethers } from 'ethers';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ETH_RPC, DEV_KEYS, loadArtifact, Reporter, assert, assertEq, TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY } from './lib/common.mjs';

const r = new Reporter('machina');
const provider = new ethers.JsonRpcProvider(ETH_RPC, undefined, { cacheTimeout: -1 });
if (!(await provider.send('web3_clientVersion', [])).startsWith('machina/') || !process.env.MACHINA_BIN) {
  console.log('     not a Machina node (or no MACHINA_BIN): skipped');
  r.finish();
}
const keystore = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'machina-eth-')), 'keys.json');
const cli = (...args) => {
  const out = execFileSync(process.env.MACHINA_BIN, [...args, '--json'], {
    env: { ...process.env, MACHINA_KEYSTORE: keystore },
    encoding: 'utf8',
  });
  const last = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  return last ? JSON.parse(last) : {};
};

const w0 = new ethers.Wallet(DEV_KEYS[0], provider);
const ZONE = `zone-${Date.now() % 100000}`;
const INTERVAL = 900_000;

let agent, escrow;
const machines = [];
await r.must('a zone and two machines of one owner (machina CLI)', async () => {
  cli('tx', 'energy', 'create-zone', '--from', 'alice', '--name', ZONE, '--retail-price', '300000',
    '--feed-in-price', '80000', '--import-limit-w', '100000', '--export-limit-w', '100000', '--grid-float', '100000000');
  escrow = cli('query', 'energy', 'zone', ZONE).escrow_account;
  cli('keys', 'new', 'owner');
  cli('tx', 'transfer', '--from', 'alice', '--to', 'owner', '--amount', '100000000');
  for (const d of ['battery-1', 'battery-2']) {
    cli('keys', 'new', d);
    const m = cli('tx', 'machine', 'register', '--from', 'owner', '--device', d, '--kind', 'battery',
      '--rated-power-w', '5000', '--capacity-wh', '10000', '--zone', ZONE);
    cli('tx', 'transfer', '--from', 'owner', '--to', m.address, '--amount', '20000000');
    machines.push(m);
  }
  return assert(escrow && machines.length === 2, 'set-up');
});

await r.must('deploy the agent contract (ethers ContractFactory)', async () => {
  const a = loadArtifact('EnergyAgent');
  agent = await new ethers.ContractFactory(a.abi, a.bytecode, w0).deploy();
  await agent.waitForDeployment();
  return assert((await provider.getCode(await agent.getAddress())).length > 2, 'code');
});

await r.check("machine 1's policy names the agent (and the zone's escrow)", async () => {
  cli('tx', 'wallet', 'set-policy', '--from', 'owner', '--machine', String(machines[0].machine_id),
    '--allow', await agent.getAddress(), '--allow', escrow);
  return true;
});

const nextInterval = () => Math.ceil((Date.now() + 2 * 3_600_000) / INTERVAL) * INTERVAL;

await r.check('the agent places a bid for the machine whose policy allows it', async () => {
  const before = await provider.getBalance(machines[0].address);
  const tx = await agent.buy(machines[0].machine_id, nextInterval(), 200000, 1000);
  const rcpt = await tx.wait();
  assertEq(rcpt.status, 1, 'status');
  const bought = rcpt.logs.map((l) => agent.interface.parseLog(l)).find((e) => e && e.name === 'Bought');
  assert(bought && bought.args.orderId > 0n, 'Bought event with an order id');
  assertEq(bought.args.zone, ZONE, 'zone read through IMachines');
  return assert((await provider.getBalance(machines[0].address)) < before, 'the escrow left the machine');
});

await r.check('the same call for a machine whose policy does not name the agent is refused', async () => {
  try {
    await agent.buy.staticCall(machines[1].machine_id, nextInterval(), 200000, 1000);
  } catch (e) {
    return assert(String(e.reason ?? e.message).includes('not_machine_or_owner'), `reason: ${e.reason ?? e.message}`);
  }
  throw new Error('the call was not refused');
});

await r.check('a refused send is mined with status 0 and pays only its gas', async () => {
  const tx = await agent.buy(machines[1].machine_id, nextInterval(), 200000, 1000, { gasLimit: 300000 });
  const rcpt = await provider.waitForTransaction(tx.hash);
  return assertEq(rcpt.status, 0, 'status');
});

await r.check('a native account calls a contract (machina tx evm call)', async () => {
  const a = loadArtifact('ERC20');
  const token = await new ethers.ContractFactory(a.abi, a.bytecode, w0).deploy(TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY);
  await token.waitForDeployment();
  const alice = cli('query', 'account', 'alice').address;
  await (await token.transfer(alice, 1000n)).wait();
  const bob = ethers.Wallet.createRandom().address;
  const data = token.interface.encodeFunctionData('transfer', [bob, 400n]);
  cli('tx', 'evm', 'call', '--from', 'alice', '--to', await token.getAddress(), '--data', data, '--gas-limit', '100000');
  assertEq(await token.balanceOf(bob), 400n, 'recipient');
  return assertEq(await token.balanceOf(alice), 600n, 'native sender');
});

r.finish();
