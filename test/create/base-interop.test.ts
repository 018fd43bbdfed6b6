/**
 * An application on a base image, read by the reference tools: a base made
 * from a tree with Debian's static busybox and the C library of a dynamically
 * linked program (found with ldd), an application directory holding that
 * program on top. umoci and our unpack both give the base tree with the
 * directory overlaid (and `--remove`d paths gone), and runc runs the program
 * from the new layer with the library from the base.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFile, cp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test, type TestContext } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot, requireTool } from "../helpers/tools.js";
import { diffSnapshots, snapshotTree } from "../helpers/tree-snapshot.js";

const CREATED = "2024-03-04T05:06:07Z";
/** A dynamically linked program of the Debian system that prints its arguments. */
const PROGRAM = "/bin/echo";

/** The shared libraries `program` loads, as ldd resolves them on this machine. */
async function librariesOf(program: string): Promise<string[]> {
  const ldd = await runProgram("ldd", [program]);
  assert.equal(ldd.status, 0, `ldd ${program}: ${ldd.stderr}`);
  const paths = [...ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((match) => match[1]!);
  assert.ok(
    paths.some((path) => /libc\.so/.test(path)),
    `${program} is dynamically linked to libc: ${ldd.stdout}`,
  );
  return paths;
}

/** The base tree: busybox as /bin/sh and friends, the libraries, a few files of /etc. */
async function makeBaseTree(root: string): Promise<void> {
  await mkdir(join(root, "bin"), { recursive: true });
  await copyFile("/bin/busybox", join(root, "bin", "busybox"));
  for (const applet of ["sh", "cat", "ls"]) await symlink("busybox", join(root, "bin", applet));
  for (const library of await librariesOf(PROGRAM)) {
    await mkdir(join(root, dirname(library)), { recursive: true });
    await copyFile(library, join(root, library));
  }
  await mkdir(join(root, "etc"));
  await writeFile(join(root, "etc", "motd"), "the base's motd\n");
  await writeFile(join(root, "etc", "data.txt"), "data from the base\n");
  await writeFile(join(root, "etc", "issue"), "base\n");
}

/** The application: the dynamically linked program, and a file that replaces one of the base. */
async function makeAppTree(root: string): Promise<void> {
  await mkdir(join(root, "app"), { recursive: true });
  await copyFile(PROGRAM, join(root, "app", "echo"));
  await mkdir(join(root, "etc"));
  await writeFile(join(root, "etc", "issue"), "app\n");
}

interface Built {
  dir: string;
  layout: string;
  expected: string;
}

/** Builds base and application images with the CLI, and the tree an unpack should give. */
async function buildAppOnBase(t: TestContext): Promise<Built> {
  const dir = await tempDir(t, "oci-image-base-interop-");
  const baseTree = join(dir, "base-tree");
  const appTree = join(dir, "app-tree");
  await makeBaseTree(baseTree);
  await makeAppTree(appTree);
  const common = ["--owner", "0:0", "--created", CREATED];
  const base = await runOciImage([
    "create",
    "-q",
    baseTree,
    `${dir}/base:os`,
    ...common,
    "-e",
    "PATH=/bin",
    "-e",
    "GREETING=base",
  ]);
  assert.equal(base.status, 0, base.stderr);
  const layout = join(dir, "images");
  const app = await runOciImage([
    "create",
    "-q",
    "--base",
    `${dir}/base:os`,
    appTree,
    `${layout}:app`,
    ...common,
    "--remove",
    "/etc/motd",
    "-e",
    "GREETING=app",
    "--entrypoint",
    '["/bin/sh","-c"]',
    "--cmd",
    '["/app/echo from $GREETING; cat /etc/data.txt /etc/issue; [ -e /etc/motd ] || /app/echo no motd"]',
  ]);
  assert.equal(app.status, 0, app.stderr);
  const expected = join(dir, "expected");
  await cp(baseTree, expected, { recursive: true, verbatimSymlinks: true });
  await cp(appTree, expected, { recursive: true, verbatimSymlinks: true, force: true });
  await rm(join(expected, "etc", "motd"));
  return { dir, layout, expected };
}

test("umoci and our unpack give the base tree with the directory overlaid and the removed file gone", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci || !requireTool(t, "busybox")) return;
  if (!isRoot()) {
    t.skip("umoci needs root to restore owners");
    return;
  }
  const { dir, layout, expected } = await buildAppOnBase(t);
  const wanted = await snapshotTree(expected, { withoutRoot: true });
  const umociBundle = join(dir, "umoci-bundle");
  const unpacked = await runProgram(umoci, ["unpack", "--image", `${layout}:app`, umociBundle]);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  assert.deepEqual(diffSnapshots(wanted, await snapshotTree(join(umociBundle, "rootfs"), { withoutRoot: true })), []);
  const ours = join(dir, "our-bundle");
  const unpack = await runOciImage(["unpack", "-q", `${layout}:app`, ours]);
  assert.equal(unpack.status, 0, unpack.stderr);
  assert.deepEqual(diffSnapshots(wanted, await snapshotTree(join(ours, "rootfs"), { withoutRoot: true })), []);
  assert.ok(wanted.has("etc/data.txt") && wanted.has("app/echo") && !wanted.has("etc/motd"));
});

test("runc runs the program of the new layer with the base's C library, shell and files", async (t) => {
  const runc = requireTool(t, "runc");
  if (!runc || !requireTool(t, "busybox")) return;
  if (!isRoot()) {
    t.skip("runc run as root needs root; test/unpack/runc.test.ts covers rootless bundles");
    return;
  }
  const { dir, layout } = await buildAppOnBase(t);
  const bundle = join(dir, "bundle");
  const unpack = await runOciImage(["unpack", "-q", `${layout}:app`, bundle]);
  assert.equal(unpack.status, 0, unpack.stderr);
  const id = `oci-image-test-${randomBytes(4).toString("hex")}`;
  try {
    const run = await runProgram(runc, ["run", "--bundle", bundle, id], { timeoutMs: 60_000 });
    assert.equal(run.status, 0, `runc run failed: ${run.stderr}`);
    assert.deepEqual(run.stdout.trim().split("\n"), ["from app", "data from the base", "app", "no motd"]);
  } finally {
    await runProgram(runc, ["delete", "-f", id]);
  }
});
