/**
 * Start-up stays fast because commands load their library code only when they
 * run: record every ES module a command loads and check that the heavy ones
 * (HTTP client, tar, JSON Schema compiler, spinners, library folders) stay out.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
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

/** Runs bin/oci-image and returns its status, stdout and the repository-relative modules it loaded. */
async function loadedModules(
  t: TestContext,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string; modules: string[] }> {
  const dir = await tempDir(t);
  await writeFile(join(dir, "hooks.mjs"), HOOKS);
  await writeFile(join(dir, "register.mjs"), REGISTER);
  const log = join(dir, "loaded.txt");
  await writeFile(log, "");
  const result = await runProgram(process.execPath, ["--import", join(dir, "register.mjs"), BIN, ...args], {
    cwd: dir,
    env: { OCI_IMAGE_LOAD_LOG: log },
  });
  const root = new URL(`file://${REPO_ROOT}`).href;
  const modules = (await readFile(log, "utf8"))
    .split("\n")
    .filter((url) => url.startsWith(root))
    .map((url) => url.slice(root.length));
  return { ...result, modules };
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

test("the load recorder sees the CLI's own modules", async (t) => {
  const { status, modules } = await loadedModules(t, ["--help"]);
  assert.equal(status, 0);
  // Without this the checks below could pass by recording nothing.
  assert.ok(modules.includes("dist/src/cli.js"), `recorded: ${modules.join(", ")}`);
  assert.ok(
    modules.some((m) => m.startsWith("node_modules/commander/")),
    "commander is recorded",
  );
});

test("--version loads neither commander nor any command", async (t) => {
  const { status, modules, stdout } = await loadedModules(t, ["--version"]);
  assert.equal(status, 0);
  assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
  assert.ok(modules.includes("dist/src/cli.js"), `recorded: ${modules.join(", ")}`);
  assert.deepEqual(
    modules.filter((m) => m.startsWith("node_modules/commander/") || m.startsWith("dist/src/commands/")),
    [],
  );
});

test("--version and --help load nothing heavy", async (t) => {
  for (const args of [["--version"], ["--help"], ["fetch", "--help"], ["unpack", "--help"]]) {
    const { status, modules, stderr } = await loadedModules(t, args);
    assert.equal(status, 0, `${args.join(" ")}: ${stderr}`);
    assert.deepEqual(heavyIn(modules), [], `oci-image ${args.join(" ")} loads`);
  }
});

test("completion loads nothing heavy", async (t) => {
  const { status, modules, stdout } = await loadedModules(t, ["completion", "bash"]);
  assert.equal(status, 0);
  assert.match(stdout, /complete -F/);
  assert.deepEqual(heavyIn(modules), []);
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
  const { status, modules, stderr } = await loadedModules(t, ["validate", manifest]);
  assert.equal(status, 0, stderr);
  // The schema validators and the (small) layer-reading modules may load; tar parsing, HTTP and zstd may not.
  assert.deepEqual(heavyIn(modules, [/node_modules\/ajv\//, /^dist\/src\/(schema|validate|layer)\//]), []);
  assert.deepEqual(
    modules.filter((m) => /node_modules\/(tar-stream|undici|zstd-napi)\//.test(m)),
    [],
  );
});
