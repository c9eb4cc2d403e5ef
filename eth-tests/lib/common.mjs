// Shared bits of the JS client suites: endpoints, dev accounts, the compiled
// ERC-20 artifact, and a tiny check reporter (one line per check, a closing
// "N passed, N failed" line, non-zero exit on any failure).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const ETH_RPC = process.env.ETH_RPC || 'http://127.0.0.1:8545';
export const ETH_WS = process.env.ETH_WS || ETH_RPC.replace(/^http/, 'ws');

// The standard test mnemonic (anvil's and Hardhat's default dev accounts).
export const MNEMONIC = 'test test test test test test test test test test test junk';
// Private keys of m/44'/60'/0'/0/i for i = 0..9 of MNEMONIC (checked against an
// HD derivation; note account 1 is ...dc9e86dae..., not ...dc9c86dae...).
export const DEV_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
];

export function loadArtifact(name = 'ERC20') {
  const file = path.join(here, 'build', `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`${file} missing: run node compile.mjs first`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// Token constructor arguments used by every suite.
export const TOKEN_NAME = 'Machina Test Token';
export const TOKEN_SYMBOL = 'MTT';
export const TOKEN_SUPPLY = 1_000_000n * 10n ** 18n;

// Upper bound for things that must arrive (a subscription event). A bound on
// failure, not an assumption about block time.
export const EVENT_TIMEOUT_MS = Number(process.env.EVENT_TIMEOUT_MS || 60_000);

export class Reporter {
  constructor(suite) {
    this.suite = suite;
    this.passed = 0;
    this.failed = 0;
  }
  // Runs fn; a thrown error or a false return is a failure. Returns fn's value.
  async check(name, fn) {
    try {
      const v = await fn();
      if (v === false) throw new Error('check returned false');
      this.passed++;
      console.log(`ok   ${this.suite}: ${name}`);
      return v;
    } catch (e) {
      this.failed++;
      const msg = (e && (e.shortMessage || e.message)) || String(e);
      console.log(`FAIL ${this.suite}: ${name}: ${msg.split('\n')[0]}`);
      if (process.env.VERBOSE) console.log(e);
      return undefined;
    }
  }
  // A check whose failure makes the rest pointless.
  async must(name, fn) {
    const before = this.failed;
    const v = await this.check(name, fn);
    if (this.failed > before) this.finish();
    return v;
  }
  finish() {
    console.log(`${this.suite}: ${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
  return true;
}

export function assertEq(actual, expected, what = 'value') {
  if (actual !== expected && String(actual) !== String(expected)) {
    throw new Error(`${what}: expected ${expected}, got ${actual}`);
  }
  return true;
}

export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
