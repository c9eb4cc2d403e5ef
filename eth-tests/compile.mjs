// Compiles ../contracts/*.sol with the solc npm package (standard JSON input)
// and writes one <Contract>.json per contract ({contractName, sourceName, abi,
// bytecode, deployedBytecode}) into ./build/.
//
// evmVersion is "cancun": the newest fork every client and revm in Machina
// agree on (no PUSH0 trouble, no Prague-only opcodes).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = path.dirname(fileURLToPath(import.meta.url));
const contractsDir = path.resolve(here, '..', 'contracts');
const buildDir = path.join(here, 'build');

const sources = {};
for (const f of fs.readdirSync(contractsDir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(contractsDir, f), 'utf8') };
}
if (Object.keys(sources).length === 0) {
  console.error(`no .sol files in ${contractsDir}`);
  process.exit(1);
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};

const out = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of out.errors ?? []) {
  console.error(e.formattedMessage ?? e.message);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

fs.mkdirSync(buildDir, { recursive: true });
for (const [sourceName, contracts] of Object.entries(out.contracts)) {
  for (const [contractName, c] of Object.entries(contracts)) {
    const artifact = {
      contractName,
      sourceName: `contracts/${sourceName}`,
      compiler: `solc ${solc.version()}`,
      evmVersion: input.settings.evmVersion,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    const file = path.join(buildDir, `${contractName}.json`);
    fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + '\n');
    console.log(`compiled ${sourceName}:${contractName} -> ${path.relative(process.cwd(), file)} (${(artifact.bytecode.length - 2) / 2} bytes initcode)`);
  }
}
