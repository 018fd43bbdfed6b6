/** create's flags → the library's settings → config and manifest: table-driven, no I/O. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  imageSettingsFrom,
  inFlagTerms,
  parseCommandLine,
  parseCreated,
  parseOwner,
  type CreateEnvironment,
  type CreateFlags,
} from "../../src/commands/create-flags.js";
import { UsageError } from "../../src/errors.js";
import {
  CREATED_ANNOTATION,
  buildImageConfig,
  buildManifest,
  mergeEnv,
  normalizePort,
  normalizeSignal,
  resolveBuildSettings,
  resolveCreated,
  type BuildSettings,
} from "../../src/image/build-config.js";
import { MediaType } from "../../src/image/media-types.js";

const HOST = { os: "linux", architecture: "amd64" };
const NOW = new Date("2025-05-06T07:08:09.500Z");

/** What the command does: flags → settings, the library's refusal said in flag terms. */
function resolveBuildFlags(flags: CreateFlags, env: CreateEnvironment = {}, now = NOW, host = HOST): BuildSettings {
  try {
    return resolveBuildSettings(imageSettingsFrom(flags, env), now, host);
  } catch (error) {
    throw inFlagTerms(error, flags);
  }
}

function created(flag: string | undefined, epoch: string | undefined, now: Date) {
  return resolveCreated(parseCreated(flag, epoch), now);
}

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(
    fn,
    (error: unknown) => error instanceof UsageError && error.exitCode === 2 && pattern.test(error.message),
  );
}

test("commands: a JSON array is used as is, other text is one argument", () => {
  assert.deepEqual(parseCommandLine("--cmd", '["/bin/sh","-c","echo hi"]'), ["/bin/sh", "-c", "echo hi"]);
  assert.deepEqual(parseCommandLine("--cmd", "[]"), []);
  assert.deepEqual(parseCommandLine("--cmd", "/bin/app"), ["/bin/app"]);
  assert.deepEqual(parseCommandLine("--cmd", "echo hi"), ["echo hi"]);
  usage(() => parseCommandLine("--cmd", "[1,2]"), /JSON array of strings/);
  usage(() => parseCommandLine("--entrypoint", "[oops"), /--entrypoint looks like a JSON array/);
  usage(() => parseCommandLine("--cmd", ""), /must not be empty/);
});

test("env: KEY=VALUE, later keys replace earlier ones in place, KEY alone is a usage error", () => {
  assert.deepEqual(mergeEnv(["A=1", "B=x=y", "A=2", "C="]), ["A=2", "B=x=y", "C="]);
  usage(() => resolveBuildFlags({ env: ["FOO"] }), /--env must be KEY=VALUE, not "FOO"/);
  usage(() => resolveBuildFlags({ env: ["=x"] }), /--env must be KEY=VALUE/);
});

test("ports: port[/proto], tcp by default", () => {
  const cases: [string, string][] = [
    ["80", "80/tcp"],
    ["80/tcp", "80/tcp"],
    ["53/udp", "53/udp"],
    ["9/SCTP", "9/sctp"],
    ["65535", "65535/tcp"],
  ];
  for (const [input, expected] of cases) assert.equal(normalizePort(input), expected, input);
  for (const bad of ["abc", "0", "65536", "80/icmp", "80-90", "", "-1"])
    usage(() => resolveBuildFlags({ expose: [bad] }), /--expose must be a port/);
});

test("signals: names with or without SIG, real-time ones, numbers", () => {
  const cases: [string, string][] = [
    ["SIGTERM", "SIGTERM"],
    ["term", "SIGTERM"],
    ["SIGRTMIN+3", "SIGRTMIN+3"],
    ["9", "9"],
    ["SIGWINCH", "SIGWINCH"],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeSignal(input), expected, input);
  for (const bad of ["SIGNOPE", "0", "65", "", "TERM now"])
    usage(() => resolveBuildFlags({ stopSignal: bad }), /--stop-signal/);
});

test("owner: uid:gid numbers", () => {
  assert.deepEqual(parseOwner("0:0"), { uid: 0, gid: 0 });
  assert.deepEqual(parseOwner("1000:100"), { uid: 1000, gid: 100 });
  for (const bad of ["root:root", "0", "0:", "-1:0", "1:2:3"]) usage(() => parseOwner(bad), /--owner must be uid:gid/);
});

test("created: --created wins over SOURCE_DATE_EPOCH, which wins over now; only the first two are reproducible", () => {
  assert.deepEqual(created("2024-01-02T03:04:05Z", "1700000000", NOW), {
    created: "2024-01-02T03:04:05Z",
    createdSeconds: 1704164645,
    reproducible: true,
  });
  assert.deepEqual(created("2024-01-02T04:04:05.250+01:00", undefined, NOW), {
    created: "2024-01-02T03:04:05.250Z",
    createdSeconds: 1704164645,
    reproducible: true,
  });
  assert.deepEqual(created(undefined, "1700000000", NOW), {
    created: "2023-11-14T22:13:20Z",
    createdSeconds: 1700000000,
    reproducible: true,
  });
  assert.deepEqual(created(undefined, undefined, NOW), {
    created: "2025-05-06T07:08:09.500Z",
    createdSeconds: 1746515289,
    reproducible: false,
  });
  assert.deepEqual(created(undefined, "", NOW).reproducible, false);
  for (const bad of ["2024-01-02", "yesterday", "2024-13-02T03:04:05Z", "2024-01-02T03:04:05"])
    usage(() => created(bad, undefined, NOW), /--created must be an RFC 3339 time/);
  usage(() => created(undefined, "soon", NOW), /SOURCE_DATE_EPOCH must be a whole number/);
});

/** Every config, manifest and owner flag. */
const ALL_FLAGS: CreateFlags = {
  platform: "linux/arm64/v8",
  entrypoint: '["/bin/app"]',
  cmd: "--serve",
  env: ["PATH=/bin", "X=1"],
  workdir: "/srv",
  user: "1000:1000",
  label: ["a=b", "c=d=e"],
  expose: ["80", "53/udp"],
  volume: ["/data"],
  stopSignal: "SIGINT",
  author: "someone <a@b.c>",
  history: "built by hand",
  annotation: ["org.example.k=v"],
  owner: "0:0",
};

test("settings: every flag lands in its config field", () => {
  const settings = resolveBuildFlags(ALL_FLAGS, { SOURCE_DATE_EPOCH: "1700000000" }, NOW, HOST);
  assert.deepEqual(settings.platform, { os: "linux", architecture: "arm64" });
  assert.deepEqual(settings.config, {
    User: "1000:1000",
    ExposedPorts: { "80/tcp": {}, "53/udp": {} },
    Env: ["PATH=/bin", "X=1"],
    Entrypoint: ["/bin/app"],
    Cmd: ["--serve"],
    Volumes: { "/data": {} },
    WorkingDir: "/srv",
    Labels: { a: "b", c: "d=e" },
    StopSignal: "SIGINT",
  });
  assert.deepEqual(settings.owner, { uid: 0, gid: 0 });
  assert.deepEqual(settings.annotations, { [CREATED_ANNOTATION]: "2023-11-14T22:13:20Z", "org.example.k": "v" });
});

test("settings: the config and manifest documents from those flags", () => {
  const settings = resolveBuildFlags(ALL_FLAGS, { SOURCE_DATE_EPOCH: "1700000000" }, NOW, HOST);
  const config = buildImageConfig(settings, `sha256:${"a".repeat(64)}`);
  assert.equal(config.architecture, "arm64");
  assert.equal(config.os, "linux");
  assert.equal(config.variant, undefined);
  assert.equal(config.created, "2023-11-14T22:13:20Z");
  assert.equal(config.author, "someone <a@b.c>");
  assert.deepEqual(config.rootfs, { type: "layers", diff_ids: [`sha256:${"a".repeat(64)}`] });
  assert.deepEqual(config.history, [
    { created: "2023-11-14T22:13:20Z", created_by: "built by hand", author: "someone <a@b.c>" },
  ]);

  const manifest = buildManifest(
    settings,
    { mediaType: MediaType.ociConfig, digest: `sha256:${"b".repeat(64)}`, size: 10 },
    { mediaType: MediaType.ociLayerGzip, digest: `sha256:${"c".repeat(64)}`, size: 20 },
  );
  assert.equal(manifest.mediaType, MediaType.ociManifest);
  assert.equal(manifest.schemaVersion, 2);
  assert.deepEqual(manifest.layers, [
    { mediaType: MediaType.ociLayerGzip, digest: `sha256:${"c".repeat(64)}`, size: 20 },
  ]);
  assert.equal(manifest.annotations?.[CREATED_ANNOTATION], "2023-11-14T22:13:20Z");
});

test("settings: defaults without flags; bad flags are usage errors", () => {
  const plain = resolveBuildFlags({}, {}, NOW, HOST);
  assert.deepEqual(plain.platform, HOST);
  assert.equal(buildImageConfig(plain, `sha256:${"a".repeat(64)}`).config, undefined, "no empty config object");
  assert.equal(resolveBuildFlags({ platform: "linux/arm/v6" }, {}, NOW, HOST).platform.variant, "v6");

  usage(() => resolveBuildFlags({ platform: "linux" }, {}, NOW, HOST), /invalid platform "linux"/);
  usage(() => resolveBuildFlags({ workdir: "srv" }, {}, NOW, HOST), /--workdir must be an absolute path/);
  usage(() => resolveBuildFlags({ volume: ["data"] }, {}, NOW, HOST), /--volume must be an absolute path/);
  usage(() => resolveBuildFlags({ label: ["nolabel"] }, {}, NOW, HOST), /--label must be key=value/);
  usage(() => resolveBuildFlags({ annotation: ["=v"] }, {}, NOW, HOST), /--annotation must be key=value/);
  usage(() => resolveBuildFlags({ env: ["FOO"] }, {}, NOW, HOST), /--env/);
  usage(() => resolveBuildFlags({ expose: ["abc"] }, {}, NOW, HOST), /--expose/);
  usage(() => resolveBuildFlags({ owner: "4294967296:0" }), /^--owner must be whole numbers from 0 to 4294967295/);
  usage(() => resolveBuildFlags({ user: "" }), /^--user must not be empty$/);
  usage(() => resolveBuildFlags({}, { SOURCE_DATE_EPOCH: "999999999999" }), /^SOURCE_DATE_EPOCH must fall between/);
  usage(() => resolveBuildFlags({ created: "0001-01-01T00:00:00Z" }), /^--created must fall between years 1970/);
});
