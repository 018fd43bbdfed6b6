/**
 * Our unpack against umoci's, the reference: the same image (several layers,
 * whiteouts, an opaque whiteout, hardlinks, symlinks, odd modes and owners,
 * built in code) must give the same rootfs — paths, types, modes, owners,
 * sizes, link targets, content, which paths share an inode, and mtimes
 * (directories too: a directory keeps the time of its own entry even when a
 * later layer changes its children, as umoci does).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { unpackImage } from "../../src/bundle/unpack-image.js";
import { runProgram } from "../helpers/cli.js";
import { writeTestImage, type TarEntry } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { isRoot, requireTool } from "../helpers/tools.js";
import { diffSnapshots, snapshotTree } from "../helpers/tree-snapshot.js";

const t0 = new Date("2024-03-01T10:00:00Z");
const file = (name: string, content: string, extra: Partial<TarEntry> = {}): TarEntry => ({
  name,
  type: "file",
  content,
  mtime: t0,
  ...extra,
});
const dir = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({
  name,
  type: "directory",
  mtime: t0,
  ...extra,
});

export const COMPARE_LAYERS: TarEntry[][] = [
  [
    dir("bin"),
    file("bin/tool", "#!/bin/sh\necho tool\n", { mode: 0o755 }),
    { name: "bin/alias", type: "symlink", linkname: "tool", mtime: t0 },
    { name: "bin/abs", type: "symlink", linkname: "/bin/tool", mtime: t0 },
    dir("etc"),
    file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
    file("etc/group", "root:x:0:\napp:x:1000:\n"),
    file("etc/shadow", "root:*::0:::::\n", { mode: 0o640, gid: 42 }),
    dir("home"),
    dir("home/app", { uid: 1000, gid: 1000, mode: 0o750 }),
    file("home/app/notes", "hello\n", { uid: 1000, gid: 1000, mode: 0o600 }),
    dir("opt"),
    dir("opt/old"),
    file("opt/old/a", "a\n"),
    file("opt/old/b", "b\n"),
    dir("opt/old/sub"),
    file("opt/old/sub/c", "c\n"),
    dir("var"),
    file("var/gone", "to be whited out\n"),
    dir("var/cache"),
    file("var/cache/big", "x".repeat(70_000)),
    dir("usr"),
    dir("usr/local"),
    dir("usr/local/bin"),
    { name: "usr/local/bin/suid", type: "file", content: "suid", mode: 0o4755, mtime: t0 },
    dir("tmp", { mode: 0o1777 }),
  ],
  [
    file("bin/tool2", "#!/bin/sh\necho tool2\n", { mode: 0o755 }),
    { name: "bin/tool-hard", type: "link", linkname: "bin/tool", mtime: t0 },
    { name: "bin/alias", type: "symlink", linkname: "tool2", mtime: t0 },
    file("var/.wh.gone", ""),
    file("var/cache/.wh.big", ""),
    file("opt/old/new-before", "n\n"),
    file("opt/old/.wh..wh..opq", ""),
    file("opt/old/a", "a again\n"),
    dir("home/app", { uid: 1000, gid: 1000, mode: 0o700 }),
  ],
  [
    dir("etc", { mode: 0o755 }),
    file("etc/motd", "welcome\n", { mode: 0o644 }),
    { name: "etc/motd-link", type: "link", linkname: "etc/motd", mtime: t0 },
    file("bin/.wh.tool2", ""),
    { name: "bin/tool2", type: "symlink", linkname: "tool", mtime: t0 },
    dir("srv", { mtime: new Date("2023-01-01T00:00:00Z") }),
    dir("srv/data", { mode: 0o2775, gid: 50 }),
  ],
];

test("unpack gives the same rootfs as umoci unpack", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  if (!isRoot()) {
    t.skip("owners can only be compared as root (umoci --rootless maps them differently)");
    return;
  }
  const dirPath = await tempDir(t, "oci-image-umoci-");
  const layout = join(dirPath, "layout");
  await writeTestImage(layout, { layers: COMPARE_LAYERS, tag: "cmp" });

  const theirs = join(dirPath, "umoci-bundle");
  const umociRun = await runProgram(umoci, ["unpack", "--image", `${layout}:cmp`, theirs]);
  assert.equal(umociRun.status, 0, `umoci unpack failed: ${umociRun.stderr}`);

  const ours = join(dirPath, "our-bundle");
  await unpackImage({ layout, tag: "cmp", bundle: ours, rootless: false });
  await assertValidRuntimeConfig(t, ours);

  const expected = await snapshotTree(join(theirs, "rootfs"), { mtimes: "all" });
  const actual = await snapshotTree(join(ours, "rootfs"), { mtimes: "all" });
  // The rootfs directory itself has no entry in these layers: both unpacks leave it at "now".
  expected.delete(".");
  actual.delete(".");
  assert.ok(expected.size > 20, "umoci's tree is not empty");
  assert.deepEqual(diffSnapshots(expected, actual), []);
});

test("config.json agrees with umoci's on what both take from the image config", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  const dirPath = await tempDir(t, "oci-image-umoci-config-");
  const layout = join(dirPath, "layout");
  await writeTestImage(layout, {
    tag: "cfg",
    layers: [
      [
        dir("etc"),
        file("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        file("etc/group", "app:x:1000:\nstaff:x:50:app\n"),
      ],
    ],
    config: {
      config: {
        User: "app",
        Entrypoint: ["/entry"],
        Cmd: ["arg"],
        Env: ["A=1"],
        WorkingDir: "/work",
        ExposedPorts: { "80/tcp": {}, "53/udp": {} },
        StopSignal: "SIGINT",
        Labels: { custom: "label" },
      },
    },
  });
  const theirs = join(dirPath, "umoci-bundle");
  const umociRun = await runProgram(umoci, [
    "unpack",
    ...(isRoot() ? [] : ["--rootless"]),
    "--image",
    `${layout}:cfg`,
    theirs,
  ]);
  assert.equal(umociRun.status, 0, `umoci unpack failed: ${umociRun.stderr}`);
  const ours = join(dirPath, "our-bundle");
  await unpackImage({ layout, tag: "cfg", bundle: ours });
  await assertValidRuntimeConfig(t, ours);
  const expected = JSON.parse(await readFile(join(theirs, "config.json"), "utf8"));
  const actual = JSON.parse(await readFile(join(ours, "config.json"), "utf8"));
  const pick = (config: BundleConfig) => ({
    args: config.process.args,
    cwd: config.process.cwd,
    user: config.process.user,
    // umoci adds TERM=xterm because its default is a terminal; ours is not.
    env: config.process.env.filter((entry: string) => !entry.startsWith("TERM=")),
    // umoci writes empty annotations for absent fields (author); ours leaves them out.
    annotations: Object.fromEntries(Object.entries(config.annotations ?? {}).filter(([, value]) => value !== "")),
    rootPath: config.root.path,
  });
  assert.deepEqual(pick(actual), pick(expected));
});

/** The parts of a bundle's config.json this comparison reads. */
interface BundleConfig {
  process: { args: string[]; cwd: string; user: unknown; env: string[] };
  annotations?: Record<string, string>;
  root: { path: string };
}
