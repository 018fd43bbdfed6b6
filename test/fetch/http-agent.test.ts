/**
 * src/registry/http-agent.ts loads undici's Agent and request API from their
 * own files (about 40 ms less start-up for fetch than the package's index).
 * This fails loudly when an undici upgrade moves those files or they stop
 * being what the public API exports.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { undiciModules } from "../../src/registry/http-agent.js";
import { REPO_ROOT } from "../helpers/cli.js";

const require = createRequire(import.meta.url);

test("undici is pinned to the exact version installed", async () => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  const installed = (require("undici/package.json") as { version: string }).version;
  assert.match(pkg.dependencies.undici!, /^\d+\.\d+\.\d+$/, "an exact version, not a range");
  assert.equal(pkg.dependencies.undici, installed);
});

test("the modules http-agent.ts imports are the public API's", () => {
  const undici = require("undici") as typeof import("undici");
  assert.equal(undiciModules().Agent, undici.Agent, "http-agent.ts uses the public API's Agent");
  assert.equal(undiciModules().request, undici.Dispatcher.prototype.request, "and its request");
  assert.equal(require("undici/lib/dispatcher/agent.js"), undici.Agent);
  assert.equal(require("undici/lib/api/api-request.js"), undici.Dispatcher.prototype.request);
});
