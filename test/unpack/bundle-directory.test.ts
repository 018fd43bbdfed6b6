/** The staging directory beside the target: checks, naming, the rename into place, removal after an interrupt. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, stat, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { test } from "node:test";
import {
  checkBundleTarget,
  commitBundle,
  createStagingDirectory,
  discardStaging,
  STAGING_PREFIX,
} from "../../src/bundle/bundle-directory.js";
import { runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

test("the target must be a new path or an empty directory; a killed run's staging inside it goes", async (t) => {
  const dir = await tempDir(t);
  await checkBundleTarget(join(dir, "new"));
  await mkdir(join(dir, "empty"));
  await checkBundleTarget(join(dir, "empty"));
  await writeFile(join(dir, "file"), "x");
  await assert.rejects(checkBundleTarget(join(dir, "file")), { code: "BUNDLE_NOT_EMPTY", message: /not a directory/ });
  await symlink(join(dir, "empty"), join(dir, "link"));
  await assert.rejects(checkBundleTarget(join(dir, "link")), { code: "BUNDLE_NOT_EMPTY" });
  await mkdir(join(dir, "full", `${STAGING_PREFIX}full-0123`), { recursive: true });
  await writeFile(join(dir, "full", "mine"), "x");
  await assert.rejects(checkBundleTarget(join(dir, "full")), { code: "BUNDLE_NOT_EMPTY", message: /is not empty/ });
  assert.equal((await readdir(join(dir, "full"))).length, 2, "a refused target is left as it was");
  await mkdir(join(dir, "stale", `${STAGING_PREFIX}stale-0123`, "rootfs"), { recursive: true });
  await checkBundleTarget(join(dir, "stale"));
  assert.deepEqual(await readdir(join(dir, "stale")), []);
});

test("staging beside the target (mode 0700, parents made), renamed onto a new path or an empty directory", async (t) => {
  const dir = await tempDir(t);
  const bundle = join(dir, "a", "b", "bundle");
  const staging = await createStagingDirectory(bundle);
  assert.equal(staging.inside, false);
  assert.match(basename(staging.path), new RegExp(`^${STAGING_PREFIX}bundle-[0-9a-f]{12}$`));
  assert.equal((await stat(staging.path)).mode & 0o777, 0o700);
  await writeFile(join(staging.path, "config.json"), "{}");
  await commitBundle(staging, bundle);
  assert.deepEqual(await readdir(join(dir, "a", "b")), ["bundle"]);
  assert.equal((await stat(bundle)).mode & 0o777, 0o700);

  const empty = join(dir, "empty");
  await mkdir(empty, { mode: 0o755 });
  const second = await createStagingDirectory(empty);
  await writeFile(join(second.path, "config.json"), "{}");
  await commitBundle(second, empty);
  assert.deepEqual(await readdir(empty), ["config.json"]);
  assert.equal((await stat(empty)).mode & 0o777, 0o700);
});

test("the rename is refused onto a directory filled meanwhile, and after an abort", async (t) => {
  const dir = await tempDir(t);
  const bundle = join(dir, "bundle");
  const staging = await createStagingDirectory(bundle);
  await mkdir(bundle);
  await writeFile(join(bundle, "theirs"), "x");
  await assert.rejects(commitBundle(staging, bundle), { code: "BUNDLE_NOT_EMPTY" });
  assert.deepEqual(await readdir(bundle), ["theirs"]);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(commitBundle(staging, join(dir, "other"), controller.signal), { exitCode: 130 });
  assert.equal(existsSync(join(dir, "other")), false);
  await discardStaging(staging.path, false);
  assert.deepEqual(await readdir(dir), ["bundle"]);
});

test("after an interrupt a large staging directory is left to a detached process, which removes it", async (t) => {
  const dir = await tempDir(t);
  const staging = await createStagingDirectory(join(dir, "bundle"));
  // Enough files that removing them takes longer than the exit may wait.
  const made = await runProgram("sh", [
    "-c",
    `cd '${staging.path}' && for d in $(seq 1 40); do mkdir d$d && (cd d$d && touch $(seq 1 500)); done`,
  ]);
  assert.equal(made.status, 0, made.stderr);
  const started = performance.now();
  await discardStaging(staging.path, true);
  const waited = performance.now() - started;
  assert.ok(waited < 400, `the interrupted removal held the exit ${Math.round(waited)} ms`);
  const deadline = Date.now() + 60_000;
  while (existsSync(staging.path) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(existsSync(staging.path), false, "the staging directory is removed in the end");
});

test("the detached remover refuses a path that is not a staging directory", async (t) => {
  const dir = await tempDir(t);
  const precious = join(dir, "precious");
  await mkdir(precious);
  const remover = new URL("../../src/bundle/remove-tree-main.js", import.meta.url).pathname;
  const result = await runProgram(process.execPath, [remover, precious]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(existsSync(precious), true);
});
