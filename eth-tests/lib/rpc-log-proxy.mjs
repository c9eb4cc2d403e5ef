// A tiny JSON-RPC logging proxy: HTTP POST and WebSocket on one port, like an
// Ethereum node. Every request a client sends (and every subscription
// notification the node pushes) is appended as one JSON line to the log file:
//   {"t": ms, "via": "http"|"ws", "method": ..., "params": [...], "batch": n?}
// Usage: node rpc-log-proxy.mjs <listenPort> <targetHttpUrl> <logFile>
// Prints "listening <port>" on stdout once ready.
// DENY_METHODS=m1,m2 makes the proxy answer those methods itself with
// -32601 "method not found" (over HTTP and WebSocket), to exercise a client's
// fallback when a node lacks a method (e.g. viem's eth_fillTransaction).
import http from 'node:http';
import fs from 'node:fs';
import { WebSocketServer, WebSocket } from 'ws';

const [port, target, logFile] = process.argv.slice(2);
if (!port || !target || !logFile) {
  console.error('usage: rpc-log-proxy.mjs <listenPort> <targetHttpUrl> <logFile>');
  process.exit(2);
}
const targetUrl = new URL(target);
const wsTarget = target.replace(/^http/, 'ws');
const out = fs.createWriteStream(logFile, { flags: 'a' });
const t0 = Date.now();
const deny = new Set((process.env.DENY_METHODS || '').split(',').filter(Boolean));
const notFound = (m) => ({ jsonrpc: '2.0', id: m.id ?? null, error: { code: -32601, message: `the method ${m.method} does not exist/is not available` } });
// Splits a request body into the part to forward and the denied answers.
function screen(text) {
  if (deny.size === 0) return { forward: text, denied: [] };
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return { forward: text, denied: [] };
  }
  const list = Array.isArray(msg) ? msg : [msg];
  const denied = list.filter((m) => deny.has(m.method)).map(notFound);
  if (denied.length === 0) return { forward: text, denied: [] };
  const rest = list.filter((m) => !deny.has(m.method));
  if (rest.length === 0) return { forward: null, denied, batch: Array.isArray(msg) };
  return { forward: JSON.stringify(Array.isArray(msg) ? rest : rest[0]), denied, batch: Array.isArray(msg) };
}

function logMessage(via, text, dir = 'req') {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    out.write(JSON.stringify({ t: Date.now() - t0, via, dir, malformed: String(text).slice(0, 200) }) + '\n');
    return;
  }
  const list = Array.isArray(msg) ? msg : [msg];
  for (const m of list) {
    if (dir === 'req' || m.method) {
      const rec = { t: Date.now() - t0, via, dir, method: m.method, params: m.params };
      if (Array.isArray(msg)) rec.batch = list.length;
      out.write(JSON.stringify(rec) + '\n');
    } else if (m.error) {
      out.write(JSON.stringify({ t: Date.now() - t0, via, dir, id: m.id, error: m.error }) + '\n');
    }
  }
}

const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    let denied = [];
    let batch = false;
    if (req.method === 'POST') {
      logMessage('http', body.toString('utf8'));
      const sc = screen(body.toString('utf8'));
      denied = sc.denied;
      batch = sc.batch;
      if (sc.forward === null) {
        const answer = JSON.stringify(batch ? denied : denied[0]);
        logMessage('http', answer, 'res');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer);
        return;
      }
      body = Buffer.from(sc.forward);
    }
    const up = http.request(
      {
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        path: targetUrl.pathname + targetUrl.search,
        method: req.method,
        headers: { ...req.headers, host: targetUrl.host, 'content-length': body.length },
        agent,
      },
      (upRes) => {
        const rc = [];
        upRes.on('data', (c) => rc.push(c));
        upRes.on('end', () => {
          let rbody = Buffer.concat(rc);
          if (denied.length) {
            const got = JSON.parse(rbody.toString('utf8'));
            rbody = Buffer.from(JSON.stringify([...(Array.isArray(got) ? got : [got]), ...denied]));
          }
          if (req.method === 'POST') logMessage('http', rbody.toString('utf8'), 'res');
          const headers = { ...upRes.headers, 'content-length': rbody.length };
          delete headers['transfer-encoding'];
          res.writeHead(upRes.statusCode, headers);
          res.end(rbody);
        });
      },
    );
    up.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    up.end(body);
  });
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (client) => {
    const upstream = new WebSocket(wsTarget);
    const queue = [];
    upstream.on('open', () => {
      for (const m of queue) upstream.send(m);
      queue.length = 0;
    });
    client.on('message', (data) => {
      const text = data.toString('utf8');
      logMessage('ws', text);
      const sc = screen(text);
      if (sc.forward === null) {
        client.send(JSON.stringify(sc.batch ? sc.denied : sc.denied[0]));
        return;
      }
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else queue.push(text);
    });
    upstream.on('message', (data) => {
      const text = data.toString('utf8');
      logMessage('ws', text, 'res');
      if (client.readyState === WebSocket.OPEN) client.send(text);
    });
    client.on('close', () => upstream.close());
    upstream.on('close', () => client.close());
    upstream.on('error', () => client.close());
    client.on('error', () => upstream.close());
  });
});

server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => out.end(() => process.exit(0)));
