/** Starts a real `machina dev` node for the live tests: `MACHINA_BIN`, or the workspace's
 * debug binary. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "../src/index.js";

/** The repository's root (this file is compiled to clients/ts/dist/test). */
export const ROOT = process.env.MACHINA_REPO ?? resolve(fileURLToPath(import.meta.url), "../../../../..");
const START_TIMEOUT_MS = 60_000;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** One dev chain in a temporary data directory, stopped with SIGTERM. */
export class DevNode {
  private proc?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "machina-ts-"));
  url = "";

  private port = 0;

  /** Starts the node, on the same port and data directory when it is started again. */
  async start(): Promise<Client> {
    const port = (this.port ||= await freePort());
    this.url = `http://127.0.0.1:${port}`;
    const bin = process.env.MACHINA_BIN ?? join(ROOT, "target", "debug", "machina");
    const log = openSync(join(this.dir, "node.log"), "a");
    this.proc = spawn(bin, ["dev", "--data-dir", join(this.dir, "data"), "--http", `127.0.0.1:${port}`, "--keystore", join(this.dir, "ks.json")], { stdio: ["ignore", log, log] });
    const client = new Client(this.url);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try { await client.health(); return client; } catch {
        if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`machina dev did not start: see ${this.dir}/node.log`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc!.once("exit", r));
    this.proc.kill("SIGTERM");
    await exited;
  }
}
