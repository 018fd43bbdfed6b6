/** The base's config merged with create's settings (pure): Docker's rules for an image built FROM a base. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BASE_DIGEST_ANNOTATION,
  BASE_NAME_ANNOTATION,
  buildConfigOnBase,
  buildManifestOnBase,
  mergeContainerConfig,
  overrideEnv,
  platformOfConfig,
} from "../../src/image/base-config.js";
import { resolveBuildSettings, type ImageSettings } from "../../src/image/build-config.js";
import type { ContainerConfig, ImageConfig } from "../../src/image/types.js";

const HOST = { os: "linux", architecture: "amd64" };
const NOW = new Date("2025-05-06T07:08:09Z");
const D = (c: string) => `sha256:${c.repeat(64)}`;

const BASE: ContainerConfig = {
  User: "root",
  Env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/root"],
  Entrypoint: ["/docker-entrypoint.sh"],
  Cmd: ["node"],
  WorkingDir: "/",
  Labels: { maintainer: "base", version: "1" },
  ExposedPorts: { "80/tcp": {} },
  Volumes: { "/data": {} },
  StopSignal: "SIGQUIT",
};

const given = (settings: ImageSettings) => resolveBuildSettings(settings, NOW, HOST).config;

const CASES: { name: string; settings: ImageSettings; expect: ContainerConfig }[] = [
  { name: "no settings: the base's config as it is", settings: {}, expect: BASE },
  {
    name: "-e replaces one variable in place and appends a new one",
    settings: { env: ["LANG=en_US.UTF-8", "NODE_ENV=production"] },
    expect: { ...BASE, Env: ["PATH=/usr/bin:/bin", "LANG=en_US.UTF-8", "HOME=/root", "NODE_ENV=production"] },
  },
  {
    name: "--label adds one label and replaces one",
    settings: { labels: { version: "2", app: "x" } },
    expect: { ...BASE, Labels: { maintainer: "base", version: "2", app: "x" } },
  },
  {
    name: "--entrypoint without --cmd clears the inherited Cmd",
    settings: { entrypoint: ["/app/run"] },
    expect: { ...BASE, Entrypoint: ["/app/run"], Cmd: undefined },
  },
  {
    name: "--entrypoint with --cmd sets both",
    settings: { entrypoint: ["/app/run"], cmd: ["--serve"] },
    expect: { ...BASE, Entrypoint: ["/app/run"], Cmd: ["--serve"] },
  },
  {
    name: "--cmd alone replaces the Cmd and keeps the inherited Entrypoint",
    settings: { cmd: ["/app/server.js"] },
    expect: { ...BASE, Cmd: ["/app/server.js"] },
  },
  {
    name: "user, workdir and stop signal replace; ports and volumes add",
    settings: { user: "app", workdir: "/app", stopSignal: "TERM", exposedPorts: ["8080"], volumes: ["/cache"] },
    expect: {
      ...BASE,
      User: "app",
      WorkingDir: "/app",
      StopSignal: "SIGTERM",
      ExposedPorts: { "80/tcp": {}, "8080/tcp": {} },
      Volumes: { "/data": {}, "/cache": {} },
    },
  },
];

for (const { name, settings, expect } of CASES) {
  test(`config on a base: ${name}`, () => {
    const merged = mergeContainerConfig(BASE, given(settings));
    const wanted = Object.fromEntries(Object.entries(expect).filter(([, value]) => value !== undefined));
    assert.deepEqual(merged, wanted);
    assert.deepEqual(BASE.Cmd, ["node"], "the base's config is not changed");
  });
}

test("config on a base: Docker's extra fields are dropped, nulls are no value, a base without config is empty", () => {
  const docker = { ...BASE, Hostname: "abc", AttachStdin: false, Cmd: null } as unknown as ContainerConfig;
  const merged = mergeContainerConfig(docker, {});
  assert.equal("Hostname" in merged, false);
  assert.equal("AttachStdin" in merged, false);
  assert.equal("Cmd" in merged, false);
  assert.deepEqual(mergeContainerConfig(undefined, given({ env: ["A=1"] })), { Env: ["A=1"] });
});

test("overrideEnv keeps a base entry without '=' and the order of the base", () => {
  assert.deepEqual(overrideEnv(["A=1", "ODD", "B=2"], ["B=3", "C=4", "A=0"]), ["A=0", "ODD", "B=3", "C=4"]);
});

const BASE_IMAGE: ImageConfig = {
  created: "2020-01-01T00:00:00Z",
  author: "base author",
  architecture: "arm64",
  os: "linux",
  variant: "v8",
  "os.features": ["x"],
  config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
  rootfs: { type: "layers", diff_ids: [D("1"), D("2")] },
  history: [
    { created: "2020-01-01T00:00:00Z", created_by: "ADD rootfs" },
    { created: "2020-01-01T00:00:00Z", created_by: "ENV PATH", empty_layer: true },
    { created: "2020-01-01T00:00:00Z", created_by: "RUN apt-get" },
  ],
};

test("the new config: the base's platform, diff_ids and history (empty_layer kept) with the new entries", () => {
  const settings = resolveBuildSettings(
    { created: new Date("2024-02-03T04:05:06Z"), history: "COPY app", env: ["A=1"] },
    NOW,
    HOST,
  );
  const config = buildConfigOnBase(BASE_IMAGE, settings, D("3"));
  assert.deepEqual(config, {
    created: "2024-02-03T04:05:06Z",
    author: "base author",
    architecture: "arm64",
    os: "linux",
    "os.features": ["x"],
    variant: "v8",
    config: { Env: ["PATH=/bin", "A=1"], Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: [D("1"), D("2"), D("3")] },
    history: [...BASE_IMAGE.history!, { created: "2024-02-03T04:05:06Z", created_by: "COPY app" }],
  });
  assert.deepEqual(platformOfConfig(config), {
    architecture: "arm64",
    os: "linux",
    "os.features": ["x"],
    variant: "v8",
  });
  const authored = buildConfigOnBase(BASE_IMAGE, resolveBuildSettings({ author: "me" }, NOW, HOST), D("3"));
  assert.equal(authored.author, "me");
  assert.equal(authored.history!.at(-1)!.author, "me");
  assert.equal(authored.created, "2025-05-06T07:08:09Z", "no time given: now, as create without a base");
});

test("the new manifest: the base's layers unchanged, then the new one; base name and digest annotations", () => {
  const settings = resolveBuildSettings(
    { created: new Date("2024-02-03T04:05:06Z"), annotations: { "org.example": "v" } },
    NOW,
    HOST,
  );
  const baseLayers = [
    { mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: D("a"), size: 10 },
    { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: D("b"), size: 20, urls: ["https://x/y"] },
  ];
  const manifest = buildManifestOnBase(
    settings,
    { mediaType: "application/vnd.oci.image.config.v1+json", digest: D("c"), size: 5 },
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: D("d"), size: 7 },
    { name: "docker.io/library/debian:bookworm", digest: D("e"), layers: baseLayers },
  );
  assert.deepEqual(manifest.layers, [
    ...baseLayers,
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: D("d"), size: 7 },
  ]);
  assert.deepEqual(manifest.annotations, {
    [BASE_NAME_ANNOTATION]: "docker.io/library/debian:bookworm",
    [BASE_DIGEST_ANNOTATION]: D("e"),
    "org.opencontainers.image.created": "2024-02-03T04:05:06Z",
    "org.example": "v",
  });
});
