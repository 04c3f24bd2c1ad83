// V8's compile cache for the rehearsal's own CDK CLI runs (rehearsal/cdk_cli.py preloads this with --require).
//
// The CLI is one 16 MB script: compiling it costs about 0.7 s of the 1.3 s each `cdk` start takes here, and the
// rehearsal starts it a dozen times per run. Node 22.1+ has this built in (module.enableCompileCache), and it is
// used there. Node 20 (this machine) has nothing built in, so scripts of 1 MB or more are compiled here through
// vm.Script with cached data. The first run stores, as it exits, what V8 compiled while it ran, lazily compiled
// functions included; later runs reuse that. Storing it again at every exit, to add what another command
// compiled, would cost 0.3 s of the 0.7 s. (v8-compile-cache 2.4.0 stores what V8 produces at compile time,
// the top level only: it saved 0.2 s of the 1.3 s.) The cache is keyed by the script's content and the V8
// version; V8 checks the data against the source and rejects a stale entry, which is then compiled and stored
// again. Cache I/O errors only cost the speed: the script runs as it would without the cache.
"use strict";
const Module = require("node:module");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const directory = process.env.REHEARSAL_NODE_COMPILE_CACHE;
const MIN_CACHED_BYTES = 1_000_000;

function compiledThroughCache(module, content, filename) {
  const key = crypto.createHash("sha256").update(process.versions.v8).update(content).digest("hex");
  const file = path.join(directory, `${key}.v8`);
  let cachedData;
  try {
    cachedData = fs.readFileSync(file);
  } catch {
    cachedData = undefined;
  }
  const source = content.startsWith("#!") ? `//${content}` : content; // a hashbang is valid only at the very start
  const script = new vm.Script(Module.wrap(source), { filename, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once("exit", () => store(file, script.createCachedData()));
  }
  if (process.env.REHEARSAL_NODE_COMPILE_CACHE_TRACE) {
    const state = cachedData === undefined ? "miss" : script.cachedDataRejected ? "rejected" : "hit";
    process.stderr.write(`node compile cache: ${state} ${filename}\n`);
  }
  return script.runInThisContext({ displayErrors: true });
}

function store(file, data) {
  const partial = `${file}.${process.pid}.partial`;
  try {
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(partial, data);
    fs.renameSync(partial, file); // whole or not at all: another CLI may be reading it
  } catch {
    try {
      fs.rmSync(partial, { force: true });
    } catch {
      // the directory itself is unusable: nothing was written
    }
  }
}

function requireFor(module) {
  const required = (id) => module.require(id);
  required.resolve = (request, options) => Module._resolveFilename(request, module, false, options);
  required.resolve.paths = (request) => Module._resolveLookupPaths(request, module);
  required.main = process.mainModule;
  required.extensions = Module._extensions;
  required.cache = Module._cache;
  return required;
}

if (directory && typeof Module.enableCompileCache === "function") {
  Module.enableCompileCache(directory);
} else if (directory) {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    if (content.length < MIN_CACHED_BYTES) {
      return compile.call(this, content, filename);
    }
    const wrapper = compiledThroughCache(this, content, filename);
    const dirname = path.dirname(filename);
    return wrapper.call(this.exports, this.exports, requireFor(this), this, filename, dirname);
  };
}
