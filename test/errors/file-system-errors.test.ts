/**
 * File system failures a user causes (a wrong path, permissions, a full or
 * read-only disk, a link loop, a FIFO) through the real CLI: one line naming
 * the path and what to do, exit 1, never "this is a bug"; validate reports
 * them as findings with a rule.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { runCliAs } from "../helpers/as-user.js";
import { hasStackTrace, runOciImage, type CliResult } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot } from "../helpers/tools.js";

const NOBODY = 65534;

/** A user's error: exit 1, one line on stderr naming `path` and matching `what`, no stack, no "bug". */
function assertUserError(result: CliResult, path: string, what: RegExp): void {
  assert.equal(result.status, 1, result.stderr);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  assert.doesNotMatch(result.stderr, /internal error|bug in oci-image/);
  const line = result.stderr.split("\n").find((text) => text.startsWith("oci-image: "));
  assert.ok(line, result.stderr);
  assert.ok(line.includes(path), `${line} should name ${path}`);
  assert.match(line, what);
}

/** A validate finding: exit 1, the rule on stdout, and `--json` says valid: false with that rule. */
async function assertFinding(args: string[], rule: string, where: string, run = runOciImage): Promise<void> {
  const text = await run(["validate", ...args]);
  assert.equal(text.status, 1, text.stdout + text.stderr);
  assert.match(text.stdout, new RegExp(`^error: .*\\[${rule}\\]$`, "m"));
  assert.equal(text.stderr, "");
  const json = await run(["validate", "--json", ...args]);
  assert.equal(json.status, 1);
  const report = JSON.parse(json.stdout) as { valid: boolean; errors: { rule: string; message: string }[] };
  assert.equal(report.valid, false);
  const finding = report.errors.find((error) => error.rule === rule);
  assert.ok(finding, json.stdout);
  assert.ok(finding.message.includes(where), `${finding.message} should name ${where}`);
}

async function layoutIn(t: TestContext): Promise<{ dir: string; layout: string }> {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  await writeTestImage(layout, { layers: [[{ name: "hello", content: "hi\n" }]], tag: "v1" });
  await mkdir(join(dir, "rootfs"));
  // Random bytes: they don't compress, so the layer is as large as the file.
  await writeFile(join(dir, "rootfs", "file"), randomBytes(200_000));
  return { dir, layout };
}

test("ENOTDIR: create into a path under a file", async (t) => {
  const { dir } = await layoutIn(t);
  await writeFile(join(dir, "afile"), "");
  const result = await runOciImage(["create", "./rootfs", "./afile/sub:x"], { cwd: dir });
  assertUserError(result, join(dir, "afile"), /not a directory/);
});

test("EEXIST: create where a file stands instead of a directory", async (t) => {
  const { dir } = await layoutIn(t);
  await writeFile(join(dir, "afile"), "");
  const result = await runOciImage(["create", "./rootfs", "./afile:x"], { cwd: dir });
  assertUserError(result, join(dir, "afile"), /not a directory|already exists/);
});

test("ENAMETOOLONG: create into a name longer than the file system takes", async (t) => {
  const { dir } = await layoutIn(t);
  const name = "n".repeat(300);
  const result = await runOciImage(["create", "./rootfs", `./${name}:x`], { cwd: dir });
  assertUserError(result, name, /name is too long/);
});

test("EISDIR: index.json or oci-layout a directory", async (t) => {
  const { layout } = await layoutIn(t);
  await rm(join(layout, "index.json"));
  await mkdir(join(layout, "index.json"));
  await assertFinding([layout], "fs-is-directory", join(layout, "index.json"));
  const unpack = await runOciImage(["unpack", `${layout}:v1`, join(layout, "..", "bundle")]);
  assertUserError(unpack, join(layout, "index.json"), /is a directory/);
  const { layout: other } = await layoutIn(t);
  await rm(join(other, "oci-layout"));
  await mkdir(join(other, "oci-layout"));
  await assertFinding([other], "fs-is-directory", join(other, "oci-layout"));
  assertUserError(await runOciImage(["unpack", `${other}:v1`, join(other, "..", "b")]), "oci-layout", /directory/);
});

test("ELOOP: index.json a symlink to itself", async (t) => {
  const { layout } = await layoutIn(t);
  await rm(join(layout, "index.json"));
  await symlink("index.json", join(layout, "index.json"));
  await assertFinding([layout], "fs-symlink-loop", join(layout, "index.json"));
  const unpack = await runOciImage(["unpack", `${layout}:v1`, join(layout, "..", "bundle")]);
  assertUserError(unpack, join(layout, "index.json"), /symbolic links/);
});

test("a FIFO as a document is refused without being opened for a blocking read", async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  const started = Date.now();
  await assertFinding(["-t", "manifest", fifo], "fs-not-file", fifo);
  assert.ok(Date.now() - started < 20_000);
});

test("a FIFO as a layout's index.json or oci-layout: validate and unpack refuse it, no hang", async (t) => {
  for (const name of ["index.json", "oci-layout"]) {
    const { layout } = await layoutIn(t);
    await rm(join(layout, name));
    execFileSync("mkfifo", [join(layout, name)]);
    await assertFinding([layout], "fs-not-file", join(layout, name));
    const unpack = await runOciImage(["unpack", `${layout}:v1`, join(layout, "..", "bundle")], { timeoutMs: 20_000 });
    assertUserError(unpack, join(layout, name), /not a regular file/);
  }
});

/** A layout and a rootfs everybody may read, for the tests that run as nobody. */
async function sharedLayout(t: TestContext): Promise<{ dir: string; layout: string } | undefined> {
  if (!isRoot()) {
    t.skip("switching to the nobody user needs root to start from");
    return undefined;
  }
  const made = await layoutIn(t);
  execFileSync("chmod", ["-R", "a+rX", made.dir]);
  return made;
}

const asNobody = (args: string[]) => runCliAs(NOBODY, NOBODY, args);

test("EACCES: unpack as an ordinary user into a directory they may not write", async (t) => {
  const shared = await sharedLayout(t);
  if (!shared) return;
  const target = join(shared.dir, "bundle");
  const result = await asNobody(["unpack", `${shared.layout}:v1`, target]);
  assertUserError(result, target, /permission denied/);
});

test("EACCES: unreadable index.json, oci-layout and blobs (mode 000)", async (t) => {
  const shared = await sharedLayout(t);
  if (!shared) return;
  const { layout } = shared;
  for (const name of ["index.json", "oci-layout"]) {
    await chmod(join(layout, name), 0o000);
    await assertFinding([layout], "fs-permission-denied", join(layout, name), asNobody);
    assertUserError(await asNobody(["unpack", `${layout}:v1`, "/tmp/never"]), name, /permission denied/);
    await chmod(join(layout, name), 0o644);
  }
  execFileSync("chmod", ["000", ...listBlobs(layout)]);
  await assertFinding([layout], "fs-permission-denied", join(layout, "blobs", "sha256"), asNobody);
  const unpack = await asNobody(["unpack", `${layout}:v1`, join("/tmp", "never-written")]);
  assertUserError(unpack, join(layout, "blobs", "sha256"), /permission denied/);
});

test("EPERM: replacing a file another user owns in a sticky directory", async (t) => {
  const shared = await sharedLayout(t);
  if (!shared) return;
  const { dir, layout } = shared;
  execFileSync("chmod", ["1777", layout, join(layout, "blobs"), join(layout, "blobs", "sha256")]);
  await writeFile(join(dir, "rootfs", "file"), "hi\n");
  const result = await asNobody(["create", "-q", "--json", join(dir, "rootfs"), `${layout}:other`]);
  assertUserError(result, layout, /permission denied/);
  assert.equal(JSON.parse(result.stdout).errors[0].code, "FS_PERMISSION_DENIED");
});

test("ENOENT: a missing layout or rootfs is named", async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, "nowhere");
  assertUserError(await runOciImage(["unpack", `${missing}:v1`, join(dir, "b")]), missing, /no oci-layout|not/);
  assertUserError(await runOciImage(["create", missing, join(dir, "out:x")]), missing, /not|no such/);
});

function listBlobs(layout: string): string[] {
  const names = execFileSync("ls", [join(layout, "blobs", "sha256")], { encoding: "utf8" })
    .trim()
    .split("\n");
  return names.map((name) => join(layout, "blobs", "sha256", name));
}

/** Mounts `target` for the test's life (unmounted before its directory is removed); false where not allowed. */
function mountFor(t: TestContext, args: string[], target: string): boolean {
  if (!isRoot()) {
    t.skip("mounting needs root");
    return false;
  }
  try {
    execFileSync("mount", [...args, target], { stdio: "pipe" });
  } catch (error) {
    const why = `mount ${args.join(" ")} is not allowed here: ${(error as Error).message.split("\n")[0]}`;
    process.stderr.write(`\n*** SKIPPING: ${why} ***\n`);
    t.skip(why);
    return false;
  }
  return true;
}

test("ENOSPC: create into a full file system", async (t) => {
  const { dir } = await layoutIn(t);
  const small = join(dir, "small");
  await mkdir(small);
  if (!mountFor(t, ["-t", "tmpfs", "-o", "size=64k", "tmpfs"], small)) return;
  try {
    const result = await runOciImage(["create", "-q", "./rootfs", "./small/layout:x"], { cwd: dir });
    assertUserError(result, join(small, "layout"), /no space left/);
  } finally {
    execFileSync("umount", [small]);
  }
});

test("EROFS: create into a read-only file system", async (t) => {
  const { dir } = await layoutIn(t);
  const readOnly = join(dir, "ro");
  await mkdir(readOnly);
  if (!mountFor(t, ["-o", "bind,ro", readOnly], readOnly)) return;
  try {
    const result = await runOciImage(["create", "-q", "./rootfs", "./ro/layout:x"], { cwd: dir });
    assertUserError(result, join(readOnly, "layout"), /read-only/);
    const inPlace = await runOciImage(["create", "-q", "./rootfs", "./ro:x"], { cwd: dir });
    assertUserError(inPlace, readOnly, /read-only/);
  } finally {
    execFileSync("umount", [readOnly]);
  }
});
