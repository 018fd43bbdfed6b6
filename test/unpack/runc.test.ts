/**
 * Bundles that really run: an image holding Debian's static busybox, unpacked
 * by the CLI and started with `runc run` (terminal false, stdout captured).
 * The process must see the image config's args, env, cwd and user. Rootless:
 * unpacked and run as `nobody` with a user namespace, when the kernel allows
 * unprivileged user namespaces (checked first; skipped loudly otherwise).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { runCliAs } from "../helpers/as-user.js";
import { writeTestImage, type TarEntry } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { isRoot, requireTool } from "../helpers/tools.js";

const NOBODY = 65534;

async function busyboxLayers(t: TestContext): Promise<TarEntry[][] | undefined> {
  if (!requireTool(t, "busybox")) return undefined;
  const busybox = await readFile("/bin/busybox");
  const applets = ["sh", "echo", "id", "env", "pwd", "cat"];
  return [
    [
      { name: "bin", type: "directory" },
      { name: "bin/busybox", type: "file", mode: 0o755, content: busybox },
      ...applets.map((name): TarEntry => ({ name: `bin/${name}`, type: "symlink", linkname: "busybox" })),
      { name: "etc", type: "directory" },
      {
        name: "etc/passwd",
        type: "file",
        content: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
      },
      { name: "etc/group", type: "file", content: "root:x:0:\napp:x:1000:\nextra:x:2000:app\n" },
    ],
    [
      { name: "srv", type: "directory" },
      { name: "srv/work", type: "directory", mode: 0o777 },
      { name: "bin/.wh.cat", type: "file" },
    ],
  ];
}

/** Runs the bundle with a unique id and removes the container (and its state) before returning. */
async function runBundle(runc: string, bundle: string, options: { asUser?: number; stateDir?: string } = {}) {
  const id = `oci-image-test-${randomBytes(4).toString("hex")}`;
  const rootArgs = options.stateDir ? ["--root", options.stateDir] : [];
  const env = options.stateDir ? { XDG_RUNTIME_DIR: options.stateDir } : {};
  const wrap = (args: string[]): [string, string[]] =>
    options.asUser === undefined
      ? [runc, args]
      : ["setpriv", [`--reuid=${options.asUser}`, `--regid=${options.asUser}`, "--clear-groups", runc, ...args]];
  try {
    const [program, args] = wrap([...rootArgs, "run", "--bundle", bundle, id]);
    return await runProgram(program, args, { timeoutMs: 60_000, env });
  } finally {
    // Here rather than in an after hook: that could run after the temp dir is gone, and runc would
    // recreate its state dir.
    const [program, args] = wrap([...rootArgs, "delete", "-f", id]);
    await runProgram(program, args, { env });
  }
}

test("a bundle of a busybox image runs under runc as root with the image's args, env, cwd and user", async (t) => {
  const runc = requireTool(t, "runc");
  const layers = await busyboxLayers(t);
  if (!runc || !layers) return;
  if (!isRoot()) {
    t.skip("runc run as root needs root; the rootless test covers normal users");
    return;
  }
  const dir = await tempDir(t, "oci-image-runc-");
  await writeTestImage(join(dir, "layout"), {
    layers,
    tag: "bb",
    config: {
      config: {
        Entrypoint: ["/bin/sh", "-c"],
        Cmd: ["id -u; id -g; id -G; pwd; echo $FOO; echo $PATH; [ -e /bin/cat ] || echo no-cat"],
        Env: ["FOO=from the image"],
        WorkingDir: "/srv/work",
        User: "app",
      },
    },
  });
  const bundle = join(dir, "bundle");
  const unpack = await runOciImage(["unpack", "--json", `${join(dir, "layout")}:bb`, bundle]);
  assert.equal(unpack.status, 0, unpack.stderr);
  const result = JSON.parse(unpack.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.layers, 2);
  await assertValidRuntimeConfig(t, bundle);
  const run = await runBundle(runc, bundle);
  assert.equal(run.status, 0, `runc run failed: ${run.stderr}`);
  assert.deepEqual(run.stdout.trim().split("\n"), [
    "1000",
    "1000",
    "1000 2000",
    "/srv/work",
    "from the image",
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "no-cat",
  ]);
});

test("a --rootless bundle runs under runc as an unprivileged user", async (t) => {
  const runc = requireTool(t, "runc");
  const layers = await busyboxLayers(t);
  if (!runc || !layers) return;
  if (!isRoot()) {
    t.skip("this test switches to the nobody user, which needs root to start from");
    return;
  }
  const probe = await runProgram("setpriv", [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    "--clear-groups",
    "unshare",
    "-U",
    "true",
  ]);
  if (probe.status !== 0) {
    const why =
      `unprivileged user namespaces are not allowed on this machine (unshare -U as nobody: ${probe.stderr.trim()}); ` +
      "a rootless bundle cannot run here";
    process.stderr.write(`\n*** SKIPPING rootless runc test: ${why} ***\n`);
    t.skip(why);
    return;
  }
  const dir = await tempDir(t, "oci-image-runc-rootless-");
  await chmod(dir, 0o755);
  const work = join(dir, "nobody");
  await mkdir(work);
  await chown(work, NOBODY, NOBODY);
  const layout = join(dir, "layout");
  await writeTestImage(layout, {
    layers,
    tag: "bb",
    config: {
      config: { Cmd: ["/bin/sh", "-c", "id -u; pwd; echo $FOO"], Env: ["FOO=rootless"], WorkingDir: "/srv/work" },
    },
  });
  await chmodTree(layout);
  const bundle = join(work, "bundle");
  const unpack = await runCliAs(NOBODY, NOBODY, ["unpack", `${layout}:bb`, bundle], { HOME: work });
  assert.equal(unpack.status, 0, unpack.stderr);
  const config = JSON.parse(await readFile(join(bundle, "config.json"), "utf8"));
  assert.deepEqual(
    config.linux.uidMappings,
    [{ containerID: 0, hostID: NOBODY, size: 1 }],
    "rootless is the default when not root",
  );
  await assertValidRuntimeConfig(t, bundle);
  const stateDir = join(work, "runc-state");
  const run = await runBundle(runc, bundle, { asUser: NOBODY, stateDir });
  assert.equal(run.status, 0, `rootless runc run failed: ${run.stderr}`);
  assert.deepEqual(run.stdout.trim().split("\n"), ["0", "/srv/work", "rootless"]);
});

/** Lets another user read a tree made by root in a test. */
async function chmodTree(path: string): Promise<void> {
  const { readdir, lstat } = await import("node:fs/promises");
  const stats = await lstat(path);
  if (stats.isDirectory()) {
    await chmod(path, 0o755);
    for (const name of await readdir(path)) await chmodTree(join(path, name));
  } else if (stats.isFile()) await chmod(path, 0o644);
}
