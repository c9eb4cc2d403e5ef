/** Ed25519 keys, addresses and the dev keys, as docs/wire.md defines them. */
import * as ed from "@noble/ed25519";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { concat, fromHex, toHex, uint } from "./codec.js";

ed.hashes.sha512 = sha512;

const enc = (s: string) => new TextEncoder().encode(s);
/** The dev accounts funded in every dev genesis. */
export const DEV_ACCOUNTS = ["alice", "bob", "charlie", "dave", "eve", "ferdie"] as const;

/** An account's address: the first 20 bytes of SHA-256("machina/address/v1" || public key). */
export function addressOf(publicKey: Uint8Array): string {
  return toHex(sha256(concat(enc("machina/address/v1"), publicKey)).slice(0, 20));
}

/** The account a machine pays from and is paid to (no key has it). */
export function machineAccount(machineId: number | bigint): string {
  const id = uint(BigInt(machineId), 8);
  return toHex(sha256(concat(enc("machina/machine-account/v1"), id)).slice(0, 20));
}

/** An ed25519 key: signs messages as they are (RFC 8032), and names its account. */
export class Keypair {
  readonly publicKey: Uint8Array;
  readonly address: string;

  constructor(readonly seed: Uint8Array) {
    if (seed.length !== 32) throw new Error(`an ed25519 secret key (seed) is 32 bytes, got ${seed.length}`);
    this.publicKey = ed.getPublicKey(seed);
    this.address = addressOf(this.publicKey);
  }

  /** A new random key. */
  static generate(): Keypair {
    return new Keypair(ed.utils.randomSecretKey());
  }

  /** The dev key `name` (alice, bob, ..., dev-0, ...): never use it on a real network. */
  static dev(name: string): Keypair {
    return new Keypair(sha256(enc("machina/dev-key/v1/" + name)));
  }

  /** A key from its 32-byte secret in hex, as `machina dev` prints it. */
  static fromHex(secret: string): Keypair {
    return new Keypair(fromHex(secret));
  }

  /** The 64-byte signature of `message`. */
  sign(message: Uint8Array): Uint8Array {
    return ed.sign(message, this.seed);
  }

  /** The public key as hex. */
  get publicKeyHex(): string {
    return toHex(this.publicKey);
  }
}

/** Whether `signature` is `publicKey`'s over `message`. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
