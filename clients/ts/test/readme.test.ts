/** The README's example runs against a live dev node and prints what it says. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { DevNode, ROOT } from "./node.js";

test("the README's example runs", async () => {
  const readme = readFileSync(join(ROOT, "clients", "ts", "README.md"), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(readme)![1];
  const node = new DevNode();
  await node.start();
  try {
    const entry = join(ROOT, "clients", "ts", "dist", "src", "index.js");
    // The example is plain JavaScript apart from its import, so it runs as a module as it is.
    const script = code.replace('"@machina/client"', JSON.stringify(entry)).replace("http://127.0.0.1:8645", node.url);
    const file = join(node.dir, "example.mjs");
    writeFileSync(file, script);
    const { stdout } = await promisify(execFile)(process.execPath, ["--experimental-websocket", file]);
    const lines = stdout.trim().split("\n");
    assert.match(lines[0], /^height \d+ success true$/);
    assert.equal(lines[1], "carol has 2500000 micro");
    assert.match(lines[2], /^event \d+ transfer$/);
  } finally {
    await node.stop();
  }
});
