// Type-check Flux sources offline with the Flux language server (@influxdata/flux-lsp-node).
//
// stdin:  JSON [{"name": "...", "source": "..."}, ...]
// stdout: JSON {"name": ["line:col: message", ...], ...}  (an empty list means the source is clean)
// Exit 0 whenever every source was checked, whatever the diagnostics say; non-zero only when the
// checker itself failed (bad input, server error, a document that got no diagnostics in time).
//
// The server is the same one editors use: it parses, then runs Flux's semantic analysis and type
// inference against the standard library, so an undefined identifier, a type mismatch or a bad
// call is reported here exactly as the Flux compiler would name it.

import { createRequire } from "node:module";

// The server chats through console.log/info/debug ("language server initialized"): drop that, keep
// its warnings and errors on stderr, and stdout for the JSON answer alone.
for (const level of ["log", "info", "debug"]) console[level] = () => {};
console.warn = (...args) => process.stderr.write(args.join(" ") + "\n");

const require = createRequire(import.meta.url);
const { Lsp } = require("@influxdata/flux-lsp-node");

const TIMEOUT_MS = Number(process.env.FLUXCHECK_TIMEOUT_MS || 20000);
const SEVERITY = { 1: "error", 2: "warning", 3: "info", 4: "hint" };

function fail(message) {
  process.stderr.write(`fluxcheck: ${message}\n`);
  process.exit(2);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function parseInput(text) {
  let items;
  try {
    items = JSON.parse(text);
  } catch (e) {
    fail(`stdin is not JSON: ${e.message}`);
  }
  if (!Array.isArray(items)) fail('stdin must be a JSON array of {"name", "source"}');
  const names = new Set();
  for (const [i, item] of items.entries()) {
    if (typeof item?.name !== "string" || typeof item?.source !== "string") {
      fail(`item ${i}: expected {"name": string, "source": string}`);
    }
    if (names.has(item.name)) fail(`duplicate name ${JSON.stringify(item.name)}`);
    names.add(item.name);
  }
  return items;
}

function describe(d) {
  const { line, character } = d.range.start;
  const level = SEVERITY[d.severity] ?? "error";
  const prefix = level === "error" ? "" : `${level}: `;
  return `${line + 1}:${character + 1}: ${prefix}${d.message}`;
}

async function check(items) {
  const server = new Lsp();
  const waiting = new Map(); // uri -> resolve(diagnostics)
  server.onMessage((raw) => {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.method === "textDocument/publishDiagnostics") {
      const resolve = waiting.get(msg.params.uri);
      if (resolve) {
        waiting.delete(msg.params.uri);
        resolve(msg.params.diagnostics);
      }
    }
  });
  server.run().catch((e) => fail(`language server stopped: ${e}`));

  let id = 0;
  const request = async (method, params) => {
    const reply = JSON.parse(await server.send(JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params })));
    if (reply.error) fail(`${method} failed: ${reply.error.message}`);
    return reply.result;
  };
  const notify = (method, params) => server.send(JSON.stringify({ jsonrpc: "2.0", method, params }));

  await request("initialize", { processId: null, rootUri: null, capabilities: {} });
  await notify("initialized", {});

  const out = {};
  for (const [i, { name, source }] of items.entries()) {
    const uri = `file:///fluxcheck/${i}.flux`;
    const diagnostics = new Promise((resolve, reject) => {
      waiting.set(uri, resolve);
      setTimeout(() => reject(new Error(`no diagnostics for ${JSON.stringify(name)} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS).unref();
    });
    await notify("textDocument/didOpen", {
      textDocument: { uri, languageId: "flux", version: 1, text: source },
    });
    out[name] = (await diagnostics).map(describe);
    await notify("textDocument/didClose", { textDocument: { uri } });
  }
  return out;
}

const items = parseInput(await readStdin());
try {
  const result = await check(items);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
} catch (e) {
  fail(e.message);
}
