/**
 * Start-up stays fast: bin/oci-image runs one bundle (dist/cli/cli.js), answers
 * --version without it, and loads the dependencies kept outside it (the HTTP
 * client, the JSON Schema compiler, zstd) only for the commands that use them.
 * Inside the bundle, commands still load their library code only when they
 * run: the same checks run on the unbundled modules (dist/src/), where every
 * module a command loads is seen, and the heavy ones (HTTP client, tar,
 * JSON Schema compiler, spinners, library folders) must stay out.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test, type TestContext } from "node:test";
import { BIN, REPO_ROOT, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const HOOKS = `
import { appendFileSync } from "node:fs";
let log;
export async function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, url + "\\n"); return next(url, context); }
`;
const REGISTER = `
import { register } from "node:module";
register("./hooks.mjs", import.meta.url, { data: { log: process.env.OCI_IMAGE_LOAD_LOG } });
`;
/** CommonJS modules (the bundle, and what it requires) are in require.cache when the process exits. */
const RECORD_REQUIRED = `
const { appendFileSync } = require("node:fs");
const { pathToFileURL } = require("node:url");
process.on("exit", () => {
  const urls = Object.keys(require.cache).map((path) => pathToFileURL(path).href);
  appendFileSync(process.env.OCI_IMAGE_LOAD_LOG, urls.join("\\n") + "\\n");
});
`;
/** The CLI from the unbundled modules that tsc builds (dist/src/cli.js). */
const RUN_MODULES = `
const { main } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, "dist/src/cli.js")).href)});
await main();
`;

type Entry = "bundle" | "modules";

/** Runs the CLI and returns its status, stdout and the repository-relative modules it loaded. */
async function loadedModules(
  t: TestContext,
  args: string[],
  entry: Entry = "bundle",
): Promise<{ status: number | null; stdout: string; stderr: string; modules: string[] }> {
  const dir = await tempDir(t);
  await writeFile(join(dir, "hooks.mjs"), HOOKS);
  await writeFile(join(dir, "register.mjs"), REGISTER);
  await writeFile(join(dir, "record-required.cjs"), RECORD_REQUIRED);
  await writeFile(join(dir, "run-modules.mjs"), RUN_MODULES);
  const log = join(dir, "loaded.txt");
  await writeFile(log, "");
  const program = entry === "bundle" ? BIN : join(dir, "run-modules.mjs");
  const recorders = ["--import", join(dir, "register.mjs"), "--require", join(dir, "record-required.cjs")];
  const result = await runProgram(process.execPath, [...recorders, program, ...args], {
    cwd: dir,
    env: { OCI_IMAGE_LOAD_LOG: log },
  });
  const root = new URL(`file://${REPO_ROOT}`).href;
  const modules = (await readFile(log, "utf8"))
    .split("\n")
    .filter((url) => url.startsWith(root))
    .map((url) => url.slice(root.length));
  return { ...result, modules: [...new Set(modules)] };
}

/** Modules that must load only when a command needs them. */
const HEAVY = [
  /node_modules\/(undici|tar-stream|ajv|ora|zstd-napi|chalk)\//,
  // validate-types.js is only the list of names validate --type takes.
  /^dist\/src\/(registry|layer|schema|validate|bundle|create)\/(?!validate-types\.js$)/,
];

function heavyIn(modules: string[], allowed: RegExp[] = []): string[] {
  return modules.filter(
    (module) => HEAVY.some((pattern) => pattern.test(module)) && !allowed.some((pattern) => pattern.test(module)),
  );
}

const ENTRIES: Entry[] = ["bundle", "modules"];

test("the load recorder sees the CLI's own modules", async (t) => {
  // Without this the checks below could pass by recording nothing.
  const bundled = await loadedModules(t, ["--help"], "bundle");
  assert.equal(bundled.status, 0);
  assert.ok(bundled.modules.includes("dist/cli/cli.js"), `recorded: ${bundled.modules.join(", ")}`);
  const { status, modules } = await loadedModules(t, ["--help"], "modules");
  assert.equal(status, 0);
  assert.ok(modules.includes("dist/src/cli.js"), `recorded: ${modules.join(", ")}`);
  assert.ok(
    modules.some((m) => m.startsWith("node_modules/commander/")),
    "commander is recorded",
  );
});

test("--version loads neither the bundle, nor commander, nor any command", async (t) => {
  const { status, modules, stdout } = await loadedModules(t, ["--version"]);
  assert.equal(status, 0);
  assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
  assert.ok(modules.includes("bin/oci-image"), `recorded: ${modules.join(", ")}`);
  assert.deepEqual(
    modules.filter((m) => m.startsWith("dist/") || m.startsWith("node_modules/")),
    [],
  );
});

test("--version and --help load nothing heavy", async (t) => {
  for (const entry of ENTRIES) {
    for (const args of [["--version"], ["--help"], ["fetch", "--help"], ["unpack", "--help"]]) {
      const { status, modules, stderr } = await loadedModules(t, args, entry);
      assert.equal(status, 0, `${args.join(" ")}: ${stderr}`);
      assert.deepEqual(heavyIn(modules), [], `oci-image ${args.join(" ")} (${entry}) loads`);
    }
  }
});

test("completion loads nothing heavy", async (t) => {
  for (const entry of ENTRIES) {
    const { status, modules, stdout } = await loadedModules(t, ["completion", "bash"], entry);
    assert.equal(status, 0);
    assert.match(stdout, /complete -F/);
    assert.deepEqual(heavyIn(modules), [], entry);
  }
});

test("validating one manifest file needs no HTTP client, tar reader or spinner", async (t) => {
  const dir = await tempDir(t);
  const manifest = join(dir, "manifest.json");
  const digest = `sha256:${"a".repeat(64)}`;
  await writeFile(
    manifest,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: 7023 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: 32654 }],
    }),
  );
  for (const entry of ENTRIES) {
    const { status, modules, stderr } = await loadedModules(t, ["validate", manifest], entry);
    assert.equal(status, 0, stderr);
    // The schema validators and the (small) layer-reading modules may load; tar parsing, HTTP and zstd may not.
    assert.deepEqual(heavyIn(modules, [/node_modules\/ajv\//, /^dist\/src\/(schema|validate|layer)\//]), [], entry);
    assert.deepEqual(
      modules.filter((m) => /node_modules\/(tar-stream|undici|zstd-napi)\//.test(m)),
      [],
      entry,
    );
  }
  // The bundle carries the generated schema validators: it never compiles a schema at run time.
  const bundled = await loadedModules(t, ["validate", manifest], "bundle");
  assert.deepEqual(
    bundled.modules.filter((m) => m.startsWith("node_modules/ajv/")),
    [],
  );
});

test("bin/oci-image's list of registry commands is the commands whose code reaches the registry", async () => {
  // Only they get V8's flag for undici's HTTP parser (loading node:v8 costs every other run).
  const bin = await readFile(BIN, "utf8");
  const listed = /const REGISTRY_COMMANDS = (\[[^\]]*\]);/.exec(bin);
  assert.ok(listed, "bin/oci-image defines REGISTRY_COMMANDS");
  const commands = join(REPO_ROOT, "src", "commands");
  const reaching: string[] = [];
  for (const name of (await readdir(commands)).filter((file) => file.endsWith(".ts"))) {
    const text = await readFile(join(commands, name), "utf8");
    const isCommand = /\bnew Command\(/.test(text);
    // Static or dynamic imports of registry code, transfers (registry <-> layout) or the registry flags.
    if (isCommand && /"\.\.\/(registry|transfer)\/|"\.\/registry-flags\.js"/.test(text))
      reaching.push(name.replace(/\.ts$/, ""));
  }
  assert.deepEqual([...(JSON.parse(listed[1]!) as string[])].sort(), reaching.sort());
});
