/** The library's typed image settings → config and manifest: no flags, no I/O; refusals name the setting. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidSettingError } from "../../src/errors.js";
import {
  CREATED_ANNOTATION,
  buildImageConfig,
  mergeEnv,
  resolveBuildSettings,
  resolveCreated,
  type ImageSettings,
} from "../../src/image/build-config.js";
import { checkCompressionLevel } from "../../src/layer/layer-writer.js";

const HOST = { os: "linux", architecture: "amd64" };
const NOW = new Date("2025-05-06T07:08:09.500Z");
const DIFF_ID = `sha256:${"a".repeat(64)}`;

function refused(fn: () => unknown, setting: string, problem: RegExp): void {
  assert.throws(
    fn,
    (error: unknown) =>
      error instanceof InvalidSettingError &&
      error.code === "INVALID_SETTING" &&
      error.exitCode === 1 &&
      error.setting === setting &&
      problem.test(error.problem) &&
      !error.message.includes("--"),
    `${setting}: ${String(problem)}`,
  );
}

test("typed settings land in their config fields as given", () => {
  const settings = resolveBuildSettings(
    {
      platform: { os: "linux", architecture: "arm", variant: "v6" },
      created: new Date("2024-01-02T03:04:05Z"),
      entrypoint: ["/bin/app"],
      cmd: ["--serve", "--port", "80"],
      env: { PATH: "/bin", X: "1" },
      workdir: "/srv",
      user: "app",
      labels: { a: "b" },
      exposedPorts: ["8080", "53/UDP"],
      volumes: ["/data"],
      stopSignal: "term",
      history: "made by a test",
      annotations: { "org.example.k": "v" },
      owner: { uid: 0, gid: 0 },
    },
    NOW,
    HOST,
  );
  assert.deepEqual(settings.platform, { os: "linux", architecture: "arm", variant: "v6" });
  assert.equal(settings.created, "2024-01-02T03:04:05Z");
  assert.equal(settings.reproducible, true);
  assert.deepEqual(settings.config, {
    User: "app",
    ExposedPorts: { "8080/tcp": {}, "53/udp": {} },
    Env: ["PATH=/bin", "X=1"],
    Entrypoint: ["/bin/app"],
    Cmd: ["--serve", "--port", "80"],
    Volumes: { "/data": {} },
    WorkingDir: "/srv",
    Labels: { a: "b" },
    StopSignal: "SIGTERM",
  });
  assert.deepEqual(settings.owner, { uid: 0, gid: 0 });
  assert.deepEqual(settings.annotations, { [CREATED_ANNOTATION]: "2024-01-02T03:04:05Z", "org.example.k": "v" });
  assert.equal(buildImageConfig(settings, DIFF_ID).history?.[0]?.created_by, "made by a test");

  const plain = resolveBuildSettings({}, NOW, HOST);
  assert.equal(plain.reproducible, false);
  assert.equal(plain.created, "2025-05-06T07:08:09.500Z");
  assert.equal(buildImageConfig(plain, DIFF_ID).config, undefined, "no empty config object");
  assert.deepEqual(resolveBuildSettings({ entrypoint: [] }, NOW, HOST).config, { Entrypoint: [] });
});

test("env: a list merges a repeated key in its place; a record is the same list", () => {
  assert.deepEqual(mergeEnv(["A=1", "B=x=y", "A=2", "C="]), ["A=2", "B=x=y", "C="]);
  assert.deepEqual(mergeEnv({ A: "2", B: "x=y", C: "" }), ["A=2", "B=x=y", "C="]);
});

test("a value out of range is an InvalidSettingError naming the setting, never a flag", () => {
  const bad: [ImageSettings, string, RegExp][] = [
    [{ env: ["FOO"] }, "env", /^must be KEY=VALUE, not "FOO" \(write FOO= for an empty value\)$/],
    [{ env: { "": "x" } }, "env", /must be KEY=VALUE/],
    [{ workdir: "srv" }, "workdir", /must be an absolute path/],
    [{ volumes: ["data"] }, "volumes", /must be an absolute path/],
    [{ user: "" }, "user", /must not be empty/],
    [{ exposedPorts: ["0"] }, "exposedPorts", /must be a port from 1 to 65535/],
    [{ stopSignal: "SIGNOPE" }, "stopSignal", /must be a signal name/],
    [{ owner: { uid: -1, gid: 0 } }, "owner", /whole numbers from 0 to 4294967295/],
    [{ owner: { uid: 0, gid: 2 ** 32 } }, "owner", /whole numbers/],
    [{ created: new Date(-1000) }, "created", /between years 1970 and 9999/],
    [{ created: new Date("not a date") }, "created", /between years 1970 and 9999/],
  ];
  for (const [settings, setting, problem] of bad)
    refused(() => resolveBuildSettings(settings, NOW, HOST), setting, problem);
  assert.deepEqual(resolveCreated(new Date(253402300799000), NOW).created, "9999-12-31T23:59:59Z");
});

test("the compression level is checked against the compression", () => {
  checkCompressionLevel("gzip", 0);
  checkCompressionLevel("zstd", 22);
  checkCompressionLevel("none", undefined);
  refused(() => checkCompressionLevel("none", 3), "level", /^does not apply to compression none$/);
  refused(() => checkCompressionLevel("gzip", 10), "level", /^for gzip must be a whole number from 0 to 9, not 10$/);
  refused(() => checkCompressionLevel("zstd", 0), "level", /from 1 to 22/);
  refused(() => checkCompressionLevel("lz4" as "gzip", undefined), "compression", /^must be gzip, zstd or none/);
});
