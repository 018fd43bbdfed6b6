/** toRuntimeConfig (pure, table-driven) and user resolution; the defaults checked against `runc spec`. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { resolveUser } from "../../src/bundle/resolve-user.js";
import { annotationsOf, toRuntimeConfig } from "../../src/bundle/runtime-config.js";
import type { ImageConfig } from "../../src/image/types.js";
import { runProgram } from "../helpers/cli.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";

const base: ImageConfig = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } };
const passwd =
  "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n" +
  "web:x:33:33::/var/www:/bin/false\nbroken line\n";
const group = "root:x:0:\napp:x:1001:\nstaff:x:50:app,web\naudio:x:29: app \nweb:x:33:\n";

test("args, env, cwd from the image config", () => {
  const cases: { config: ImageConfig["config"]; args: string[]; env: string[]; cwd: string }[] = [
    {
      config: { Entrypoint: ["/bin/app"], Cmd: ["--flag"] },
      args: ["/bin/app", "--flag"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      cwd: "/",
    },
    {
      config: { Cmd: ["sh"], Env: ["PATH=/custom", "A=1"], WorkingDir: "/srv" },
      args: ["sh"],
      env: ["PATH=/custom", "A=1"],
      cwd: "/srv",
    },
    {
      config: { Entrypoint: ["/e"], Cmd: null, Env: ["A=1"] },
      args: ["/e"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"],
      cwd: "/",
    },
  ];
  for (const { config, args, env, cwd } of cases) {
    const runtime = toRuntimeConfig({ ...base, config });
    assert.deepEqual(runtime.process.args, args);
    assert.deepEqual(runtime.process.env, env);
    assert.equal(runtime.process.cwd, cwd);
    assert.equal(runtime.process.terminal, false);
    assert.deepEqual(runtime.root, { path: "rootfs", readonly: false });
  }
  const tty = toRuntimeConfig({ ...base, config: { Cmd: ["sh"] } }, { tty: true });
  assert.equal(tty.process.terminal, true);
  assert.ok(tty.process.env.includes("TERM=xterm"));
});

test("users: numeric as is, names from /etc/passwd and /etc/group, unknown names refused", () => {
  const database = { passwd, group };
  const cases: [string | undefined, object][] = [
    [undefined, { uid: 0, gid: 0 }],
    ["", { uid: 0, gid: 0 }],
    ["1234", { uid: 1234, gid: 0 }],
    ["1234:5678", { uid: 1234, gid: 5678 }],
    ["1000", { uid: 1000, gid: 1001, additionalGids: [50, 29], username: "app", home: "/home/app" }],
    ["app", { uid: 1000, gid: 1001, additionalGids: [50, 29], username: "app", home: "/home/app" }],
    ["app:staff", { uid: 1000, gid: 50, username: "app", home: "/home/app" }],
    ["app:7", { uid: 1000, gid: 7, username: "app", home: "/home/app" }],
    ["99:staff", { uid: 99, gid: 50 }],
    ["web", { uid: 33, gid: 33, additionalGids: [50], username: "web", home: "/var/www" }],
  ];
  for (const [spec, expected] of cases)
    assert.deepEqual(resolveUser(spec, database), expected, `User ${JSON.stringify(spec)}`);
  assert.throws(() => resolveUser("nobody-here", database), { code: "USER_UNKNOWN" });
  assert.throws(() => resolveUser("app:nogroup", database), { code: "GROUP_UNKNOWN" });
  assert.throws(() => resolveUser("app", {}), /has none/);
  const runtime = toRuntimeConfig({ ...base, config: { Cmd: ["id"], User: "app" } }, { userDatabase: database });
  assert.deepEqual(runtime.process.user, { uid: 1000, gid: 1001, additionalGids: [50, 29] });
  assert.ok(runtime.process.env.includes("HOME=/home/app"), "HOME comes from the passwd entry");
  const ownHome = toRuntimeConfig(
    { ...base, config: { Cmd: ["id"], User: "app", Env: ["HOME=/mine"] } },
    { userDatabase: database },
  );
  assert.deepEqual(
    ownHome.process.env.filter((entry) => entry.startsWith("HOME=")),
    ["HOME=/mine"],
    "the image's HOME wins",
  );
});

test("annotations from the config; Labels win; Volumes become tmpfs mounts", () => {
  const image: ImageConfig = {
    ...base,
    variant: "v2",
    "os.version": "10.0",
    "os.features": ["a", "b"],
    author: "someone",
    created: "2024-01-01T00:00:00Z",
    config: {
      Cmd: ["x"],
      StopSignal: "SIGTERM",
      ExposedPorts: { "80/tcp": {}, "53/udp": {} },
      Labels: { "org.opencontainers.image.author": "label wins", custom: "yes" },
      Volumes: { "/data": {}, "/cache": {} },
    },
  };
  assert.deepEqual(annotationsOf(image), {
    "org.opencontainers.image.os": "linux",
    "org.opencontainers.image.architecture": "amd64",
    "org.opencontainers.image.variant": "v2",
    "org.opencontainers.image.os.version": "10.0",
    "org.opencontainers.image.os.features": "a,b",
    "org.opencontainers.image.author": "label wins",
    "org.opencontainers.image.created": "2024-01-01T00:00:00Z",
    "org.opencontainers.image.stopSignal": "SIGTERM",
    "org.opencontainers.image.exposedPorts": "53/udp,80/tcp",
    custom: "yes",
  });
  const mounts = toRuntimeConfig(image).mounts.filter(
    (mount) => mount.destination === "/data" || mount.destination === "/cache",
  );
  assert.deepEqual(
    mounts.map((mount) => [mount.destination, mount.type]),
    [
      ["/cache", "tmpfs"],
      ["/data", "tmpfs"],
    ],
  );
});

/** The parts of a runtime config that come from runc's defaults, not from the image. */
function defaultsOf(config: {
  mounts?: unknown;
  linux: Record<string, unknown>;
  process: Record<string, unknown>;
}): object {
  return {
    mounts: config.mounts,
    namespaces: config.linux.namespaces,
    maskedPaths: config.linux.maskedPaths,
    readonlyPaths: config.linux.readonlyPaths,
    resources: config.linux.resources,
    uidMappings: config.linux.uidMappings,
    gidMappings: config.linux.gidMappings,
    capabilities: config.process.capabilities,
    rlimits: config.process.rlimits,
    noNewPrivileges: config.process.noNewPrivileges,
  };
}

test("the defaults are what `runc spec` and `runc spec --rootless` write", async (t) => {
  const runc = requireTool(t, "runc");
  if (!runc) return;
  for (const rootless of [false, true]) {
    const dir = await tempDir(t);
    const result = await runProgram(runc, ["spec", ...(rootless ? ["--rootless"] : [])], { cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    const theirs = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    const uid = process.getuid!();
    const gid = process.getgid!();
    const ours = toRuntimeConfig({ ...base, config: { Cmd: ["sh"] } }, { rootless, hostUid: uid, hostGid: gid });
    assert.deepEqual(
      defaultsOf(JSON.parse(JSON.stringify(ours))),
      defaultsOf(theirs),
      rootless ? "runc spec --rootless" : "runc spec",
    );
    assert.deepEqual(
      toRuntimeConfig({ ...base, config: {} }, { rootless }).process.args,
      theirs.process.args,
      "no Entrypoint nor Cmd: runc spec's args",
    );
  }
});

test('no Entrypoint nor Cmd: args ["sh"]; no User: root\'s HOME; the runtime-spec holds', async (t) => {
  for (const config of [{}, { Entrypoint: [], Cmd: [] }, { Env: ["A=1"] }]) {
    const runtime = toRuntimeConfig({ ...base, config }, { userDatabase: { passwd, group } });
    assert.deepEqual(runtime.process.args, ["sh"], JSON.stringify(config));
    assert.ok(runtime.process.env.includes("HOME=/root"), `HOME for ${JSON.stringify(config)}`);
    await assertValidRuntimeConfig(t, JSON.parse(JSON.stringify(runtime)));
  }
  const noPasswd = toRuntimeConfig({ ...base, config: { Cmd: ["x"] } });
  assert.equal(noPasswd.process.env.filter((entry) => entry.startsWith("HOME=")).length, 0, "no passwd: no HOME");
  const ownHome = toRuntimeConfig(
    { ...base, config: { Cmd: ["x"], Env: ["HOME=/mine"] } },
    { userDatabase: { passwd } },
  );
  assert.deepEqual(
    ownHome.process.env.filter((entry) => entry.startsWith("HOME=")),
    ["HOME=/mine"],
  );
  const numeric = toRuntimeConfig({ ...base, config: { Cmd: ["x"], User: "1234" } }, { userDatabase: { passwd } });
  assert.equal(numeric.process.env.filter((entry) => entry.startsWith("HOME=")).length, 0, "uid without an entry");
  for (const rootless of [false, true])
    await assertValidRuntimeConfig(
      t,
      JSON.parse(
        JSON.stringify(
          toRuntimeConfig({ ...base, config: { Cmd: ["sh"] } }, { rootless, hostUid: 1000, hostGid: 1000 }),
        ),
      ),
    );
});
