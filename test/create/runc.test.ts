/** End to end: a busybox rootfs → create → umoci unpack → runc run prints what the image says. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot, requireTool } from "../helpers/tools.js";

/** A root filesystem of the static busybox and a few files the command prints. */
async function makeBusyboxTree(root: string, busybox: string): Promise<void> {
  for (const sub of ["bin", "etc", "tmp", "proc", "sys", "dev", "srv"])
    await mkdir(join(root, sub), { recursive: true });
  await copyFile(busybox, join(root, "bin", "busybox"));
  await chmod(join(root, "bin", "busybox"), 0o755);
  for (const applet of ["sh", "echo", "cat", "ls", "id", "pwd"]) await symlink("busybox", join(root, "bin", applet));
  await symlink("/bin/busybox", join(root, "bin", "wc"));
  await writeFile(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await writeFile(join(root, "etc", "group"), "root:x:0:\n");
  await writeFile(join(root, "etc", "message"), "a message from the image\n");
}

test("an image made from a busybox tree runs under runc", { timeout: 120_000 }, async (t) => {
  const umoci = requireTool(t, "umoci");
  const runc = requireTool(t, "runc");
  const busybox = requireTool(t, "busybox");
  if (!umoci || !runc || !busybox) return;
  if (!isRoot()) {
    t.skip("runc run needs root here");
    return;
  }
  const dir = await tempDir(t);
  const root = join(dir, "rootfs");
  await makeBusyboxTree(root, busybox);

  const layout = join(dir, "layout");
  const created = await runOciImage([
    "create",
    "-q",
    root,
    `${layout}:busybox`,
    "--owner",
    "0:0",
    "--entrypoint",
    '["/bin/sh","-c"]',
    "--cmd",
    '["echo \\"$GREETING\\"; cat /etc/message; pwd; id -u; ls /bin | wc -l"]',
    "-e",
    "PATH=/bin",
    "-e",
    "GREETING=hello from runc",
    "-w",
    "/srv",
  ]);
  assert.equal(created.status, 0, created.stderr);

  const bundle = join(dir, "bundle");
  const unpacked = await runProgram(umoci, ["unpack", "--image", `${layout}:busybox`, bundle]);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  const configPath = join(bundle, "config.json");
  const config = JSON.parse(await readFile(configPath, "utf8")) as {
    process: { terminal?: boolean; args: string[]; cwd: string };
  };
  assert.deepEqual(config.process.args, [
    "/bin/sh",
    "-c",
    'echo "$GREETING"; cat /etc/message; pwd; id -u; ls /bin | wc -l',
  ]);
  config.process.terminal = false;
  await writeFile(configPath, JSON.stringify(config));

  const id = `oci-image-create-test-${randomBytes(6).toString("hex")}`;
  t.after(() => runProgram(runc, ["delete", "-f", id]).then(() => undefined));
  const run = await runProgram(runc, ["run", "--bundle", bundle, id], { timeoutMs: 60_000 });
  assert.equal(run.status, 0, `runc run: ${run.stderr}`);
  assert.equal(run.stdout, "hello from runc\na message from the image\n/srv\n0\n8\n");
});
