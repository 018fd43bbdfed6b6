/** `oci-image create` as a user runs it: outputs, the layout it writes, reproducibility, bad input. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, open, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, hasStackTrace, runOciImage, runProgram } from "../helpers/cli.js";
import { runCliAs } from "../helpers/as-user.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot, requireTool } from "../helpers/tools.js";
import { checkImage, snapshotLayout } from "./verify-image.js";
import { FUTURE_MTIME, makeFixtureTree } from "./fixture-tree.js";

const NO_EPOCH = { SOURCE_DATE_EPOCH: undefined };

test("prints the manifest digest on stdout and writes a complete image under the tag", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  await makeFixtureTree(root);
  const layout = join(dir, "layout");
  const result = await runOciImage(
    ["create", root, `${layout}:v1`, "--cmd", '["/bin/sh"]', "-e", "A=1", "--label", "k=v"],
    { env: NO_EPOCH },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.match(
    result.stderr,
    /layer sha256:[0-9a-f]{64} \(\d+ bytes, \d+ uncompressed\)/,
    "one plain progress line off a terminal",
  );
  const image = await checkImage(layout, "v1");
  assert.equal(image.manifestDigest, result.stdout.trim());
  assert.deepEqual(image.config.config, { Env: ["A=1"], Cmd: ["/bin/sh"], Labels: { k: "v" } });
  assert.match(image.config.created!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.equal(image.manifest.annotations?.["org.opencontainers.image.created"], image.config.created);
});

test("--json gives the result document; the same tag again replaces the entry and says so", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  await writeFile(join(root, "hello"), "hello\n");
  const layout = join(dir, "layout");
  const first = await runOciImage(["create", "--json", root, layout, "--created", "2024-01-01T00:00:00Z"]);
  assert.equal(first.status, 0, first.stderr);
  const doc = JSON.parse(first.stdout) as {
    ok: boolean;
    ref: string;
    digest: string;
    config: string;
    layer: { digest: string; diffId: string; size: number };
  };
  const image = await checkImage(layout, "latest");
  assert.deepEqual(doc, {
    ok: true,
    ref: "latest",
    digest: image.manifestDigest,
    config: image.manifest.config.digest,
    layer: {
      digest: image.manifest.layers[0]!.digest,
      diffId: image.config.rootfs.diff_ids[0],
      size: image.manifest.layers[0]!.size,
    },
  });
  assert.equal(first.stderr, "", "--json prints no progress");

  const second = await runOciImage(["create", root, `${layout}:latest`, "--created", "2024-02-01T00:00:00Z"]);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, new RegExp(`replaced latest in .* \\(was ${doc.digest}\\)`));
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  assert.deepEqual(
    index.manifests.map((entry) => entry.digest),
    [second.stdout.trim()],
  );
  assert.notEqual(second.stdout.trim(), doc.digest);
});

test("reproducible: the same tree twice gives the same digest; another SOURCE_DATE_EPOCH another", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  await makeFixtureTree(root);
  const build = async (name: string, env: NodeJS.ProcessEnv, args: string[] = []) => {
    const result = await runOciImage(["create", "-q", root, join(dir, name), ...args], { env });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };
  const a = await build("a", { SOURCE_DATE_EPOCH: "1700000100" });
  const b = await build("b", { SOURCE_DATE_EPOCH: "1700000100" });
  assert.equal(a, b);
  assert.equal(
    await build("c", NO_EPOCH, ["--created", "2023-11-14T22:15:00Z"]),
    a,
    "--created is the same time as that epoch",
  );
  // A file already later than the clamp time, touched to later still: no change.
  await utimes(join(root, "future"), FUTURE_MTIME + 5, FUTURE_MTIME + 5);
  assert.equal(await build("d", { SOURCE_DATE_EPOCH: "1700000100" }), a);
  assert.notEqual(await build("e", { SOURCE_DATE_EPOCH: "1700000200" }), a);
  assert.equal((await checkImage(join(dir, "e"), "latest")).config.created, "2023-11-14T22:16:40Z");
});

test("zstd and uncompressed layers", async (t) => {
  requireTool(t, "zstd");
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  await writeFile(join(root, "data"), "some data ".repeat(10000));
  for (const [compression, mediaType] of [
    ["zstd", "application/vnd.oci.image.layer.v1.tar+zstd"],
    ["none", "application/vnd.oci.image.layer.v1.tar"],
  ] as const) {
    const layout = join(dir, compression);
    const result = await runOciImage([
      "create",
      "-q",
      root,
      layout,
      "--compression",
      compression,
      ...(compression === "zstd" ? ["--level", "19"] : []),
    ]);
    assert.equal(result.status, 0, result.stderr);
    const image = await checkImage(layout, "latest");
    assert.equal(image.manifest.layers[0]!.mediaType, mediaType);
  }
});

test("zstd layers are compressed on every core, yet the same on one core as on all", async (t) => {
  const taskset = requireTool(t, "taskset");
  if (!taskset) return;
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  // Larger than several of zstd's multi-threading jobs, so more than one worker has work.
  await writeFile(join(root, "data"), randomBytes(18 * 1024 * 1024).toString("base64"));
  const build = async (name: string, prefix: string[]) => {
    const result = await runProgram(prefix[0] ?? process.execPath, [
      ...prefix.slice(1),
      ...(prefix.length ? [process.execPath] : []),
      BIN,
      "create",
      "-q",
      "--compression",
      "zstd",
      "--created",
      "2024-01-01T00:00:00Z",
      root,
      join(dir, name),
    ]);
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };
  const allCores = await build("all", []);
  const oneCore = await build("one", [taskset, "-c", "0"]);
  assert.match(allCores, /^sha256:[0-9a-f]{64}$/);
  assert.equal(oneCore, allCores);
});

test("bad input: a clear message, exit 1 or 2, no stack trace, and the layout untouched", async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const root = join(dir, "root");
  await mkdir(root);
  await writeFile(join(root, "ok"), "ok\n");
  const existing = join(dir, "existing");
  assert.equal((await runOciImage(["create", "-q", root, `${existing}:keep`])).status, 0);
  const socketRoot = join(dir, "with-socket");
  await mkdir(socketRoot);
  await writeFile(join(socketRoot, "a"), "a");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(socketRoot, "s.sock"), resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await writeFile(join(dir, "a-file"), "not a directory");

  const cases: { name: string; args: string[]; status: number; message: RegExp }[] = [
    { name: "missing directory", args: [join(dir, "nope")], status: 1, message: /nope does not exist/ },
    { name: "not a directory", args: [join(dir, "a-file")], status: 1, message: /a-file is not a directory/ },
    { name: "a socket", args: [socketRoot], status: 1, message: /s\.sock is a socket/ },
    { name: "--env without =", args: [root, "--env", "FOO"], status: 2, message: /--env must be KEY=VALUE, not "FOO"/ },
    { name: "--expose abc", args: [root, "--expose", "abc"], status: 2, message: /--expose must be a port/ },
    { name: "--platform linux", args: [root, "--platform", "linux"], status: 2, message: /invalid platform "linux"/ },
    { name: "--compression lz4", args: [root, "--compression", "lz4"], status: 2, message: /lz4/ },
    {
      name: "--level 42",
      args: [root, "--level", "42"],
      status: 2,
      message: /--level for gzip must be a whole number from 0 to 9/,
    },
    { name: "--level x", args: [root, "--level", "x"], status: 2, message: /--level must be a whole number/ },
    {
      name: "--created bad",
      args: [root, "--created", "tuesday"],
      status: 2,
      message: /--created must be an RFC 3339 time/,
    },
    { name: "--owner bad", args: [root, "--owner", "root"], status: 2, message: /--owner must be uid:gid/ },
    { name: "--cmd bad json", args: [root, "--cmd", "[nope"], status: 2, message: /--cmd looks like a JSON array/ },
  ];
  for (const { name, args, status, message } of cases) {
    for (const target of [join(dir, "fresh"), `${existing}:keep`]) {
      const layoutPath = target.replace(/:keep$/, "");
      const before = await snapshotLayout(layoutPath);
      const [rootfs, ...flags] = args;
      const result = await runOciImage(["create", rootfs!, target, ...flags]);
      assert.equal(result.status, status, `${name}: ${result.stderr}`);
      assert.match(result.stderr, message, name);
      assert.equal(result.stdout, "", `${name}: nothing on stdout`);
      assert.ok(!hasStackTrace(result.stderr), `${name}: no stack trace`);
      assert.deepEqual(await snapshotLayout(layoutPath), before, `${name}: layout ${layoutPath} untouched`);
    }
  }
  const json = await runOciImage(["create", "--json", join(dir, "nope"), join(dir, "fresh")]);
  assert.equal(json.status, 1);
  const failure = JSON.parse(json.stdout) as { ok: boolean; errors: { code: string }[] };
  assert.equal(failure.ok, false);
  assert.equal(failure.errors[0]?.code, "ROOTFS_MISSING");
});

test("an unreadable file fails the build and leaves the layout untouched", async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const root = join(dir, "root");
  await mkdir(join(root, "sub"), { recursive: true });
  await writeFile(join(root, "sub", "readable"), "r");
  await writeFile(join(root, "sub", "secret"), "s");
  await chmod(join(root, "sub", "secret"), 0o000);
  const layouts = join(dir, "layouts");
  await mkdir(layouts, { mode: 0o777 });
  await chmod(layouts, 0o777);
  // As root, run as nobody: root reads every file.
  const run = isRoot() ? (args: string[]) => runCliAs(65534, 65534, args) : (args: string[]) => runOciImage(args);
  if (isRoot()) await chown(layouts, 65534, 65534);
  const result = await run(["create", root, join(layouts, "image")]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /cannot read .*sub\/secret: permission denied/);
  assert.ok(!hasStackTrace(result.stderr));
  assert.deepEqual(await snapshotLayout(join(layouts, "image")), { "<absent>": "" }, "no layout left behind");
});

test("a layout inside the directory being imaged is refused", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "f"), "f");
  const result = await runOciImage(["create", dir, join(dir, "out", "layout")]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /is inside the directory being imaged/);
  assert.deepEqual(await snapshotLayout(join(dir, "out")), { "<absent>": "" });
});

test("--help shows the flags and examples", async () => {
  const result = await runOciImage(["create", "--help"]);
  assert.equal(result.status, 0);
  for (const flag of [
    "--entrypoint",
    "--cmd",
    "--env",
    "--expose",
    "--compression",
    "--owner",
    "--created",
    "--annotation",
    "Examples:",
    "SOURCE_DATE_EPOCH",
  ]) {
    assert.ok(result.stdout.includes(flag), flag);
  }
});

test("SIGINT while the layer is written: exit 130 and no layout left behind", { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  const file = await open(join(root, "big"), "w");
  await file.truncate(4 * 1024 * 1024 * 1024);
  await file.close();
  const layout = join(dir, "layout");
  const child = spawn(process.execPath, [BIN, "create", root, layout], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  // Interrupt once the layer's temp blob exists: the write is under way.
  for (let i = 0; i < 600; i++) {
    const names = await readdir(layout).catch(() => [] as string[]);
    if (names.some((name) => name.startsWith(".oci-image-tmp-"))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.ok(!hasStackTrace(stderr));
  assert.deepEqual(await snapshotLayout(layout), { "<absent>": "" });
});
