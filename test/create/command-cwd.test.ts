/**
 * Every command resolves its paths against the context's cwd, not the process's:
 * the CLI run in-process with a cwd that differs from process.cwd(). And a layout
 * path that is a file is a clear one-line error.
 */
import assert from "node:assert/strict";
import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { test } from "node:test";
import { runCli } from "../../src/cli.js";
import type { CommandContext } from "../../src/commands/context.js";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { pushImage, startRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";

interface InProcessRun {
  status: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function runIn(cwd: string, args: string[]): Promise<InProcessRun> {
  const stdout = collector();
  const stderr = collector();
  const context: CommandContext = {
    stdin: Readable.from([]),
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { ...process.env, SOURCE_DATE_EPOCH: "1700000000", NO_COLOR: "1" },
    cwd,
    signal: new AbortController().signal,
    isTTY: false,
  };
  const status = await runCli(args, context);
  return { status, stdout: stdout.text(), stderr: stderr.text() };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test("create, validate, unpack and fetch resolve relative paths against the context's cwd", async (t) => {
  const dir = await tempDir(t);
  assert.notEqual(dir, process.cwd());
  const names = ["rootfs", "images", "bundle", "fetched"];
  for (const name of names) assert.ok(!(await exists(join(process.cwd(), name))), `${name} absent from process.cwd()`);
  await mkdir(join(dir, "rootfs"));
  await writeFile(join(dir, "rootfs", "hello"), "hello\n");

  const created = await runIn(dir, ["create", "-q", "rootfs", "images:v1"]);
  assert.equal(created.status, 0, created.stderr);
  assert.ok(await exists(join(dir, "images", "oci-layout")), "the layout is under the context's cwd");

  const validated = await runIn(dir, ["validate", "-q", "images:v1"]);
  assert.equal(validated.status, 0, validated.stdout + validated.stderr);

  const unpacked = await runIn(dir, ["unpack", "-q", "images:v1", "bundle"]);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  assert.ok(await exists(join(dir, "bundle", "rootfs", "hello")), "the bundle is under the context's cwd");

  if (requireTool(t, "docker-registry") && requireTool(t, "skopeo")) {
    const registry = await startRegistry();
    t.after(() => registry.stop());
    await pushImage(`oci:${join(dir, "images")}:v1`, registry, "cwd/test:v1");
    const fetched = await runIn(dir, ["fetch", "-q", `${registry.host}/cwd/test:v1`, "fetched:v1"]);
    assert.equal(fetched.status, 0, fetched.stderr);
    assert.ok(await exists(join(dir, "fetched", "oci-layout")), "the fetched layout is under the context's cwd");
  }
  for (const name of names) assert.ok(!(await exists(join(process.cwd(), name))), `nothing written to ./${name}`);
});

test("create into FILE:tag where FILE is a regular file: one line naming the path, exit 1", async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, "root"));
  await writeFile(join(dir, "root", "f"), "f\n");
  await writeFile(join(dir, "afile"), "not a layout\n");
  for (const json of [false, true]) {
    const result = await runOciImage(["create", ...(json ? ["--json"] : []), "root", "./afile:x"], { cwd: dir });
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, `one line: ${result.stderr}`);
    assert.match(result.stderr, /^oci-image: .*afile is not a directory/);
    assert.doesNotMatch(result.stderr, /internal error|bug in oci-image/);
    assert.ok(!hasStackTrace(result.stderr));
    if (json) {
      const failure = JSON.parse(result.stdout) as { ok: boolean; errors: { code: string }[] };
      assert.deepEqual([failure.ok, failure.errors[0]?.code], [false, "LAYOUT_NOT_DIRECTORY"]);
    } else assert.equal(result.stdout, "");
  }
});
