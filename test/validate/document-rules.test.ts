/** Document validation: the schema, the rules it can't express, hostile JSON, kind detection. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import type { Problem } from "../../src/schema/problem.js";
import { checkDocument, detectKind, validateDocument, type DocumentKind } from "../../src/schema/validate-document.js";

const D1 = digestOf("one");
const D2 = digestOf("two");
const EMPTY = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

function manifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: D1, size: 3 },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: D2, size: 3 }],
    ...extra,
  };
}

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [D1] }, ...extra };
}

const errors = (problems: Problem[]) => problems.filter((p) => p.severity === "error");
const warnings = (problems: Problem[]) => problems.filter((p) => p.severity === "warning");
const rulesOf = (problems: Problem[]) =>
  errors(problems)
    .map((p) => `${p.pointer} ${p.rule}`)
    .sort();

async function check(kind: DocumentKind | undefined, value: unknown): Promise<Problem[]> {
  return validateDocument(kind, value, { where: "doc.json" });
}

test("a valid manifest, index, config, descriptor and oci-layout have no errors", async () => {
  assert.deepEqual(await check("manifest", manifest()), []);
  assert.deepEqual(
    await check("index", {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: D1,
          size: 10,
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
        },
      ],
    }),
    [],
  );
  assert.deepEqual(
    await check(
      "config",
      config({
        created: "2024-02-29T23:59:60.5+01:00",
        config: { Env: ["A=", "PATH=/bin"], ExposedPorts: { "80/tcp": {}, "53/udp": {}, "8080": {} } },
        history: [{ created_by: "x" }, { empty_layer: true }],
      }),
    ),
    [],
  );
  assert.deepEqual(
    await check("descriptor", { mediaType: MediaType.ociEmpty, digest: EMPTY, size: 2, data: "e30=" }),
    [],
  );
  assert.deepEqual(await check("oci-layout", { imageLayoutVersion: "1.0.0" }), []);
});

test("every problem is collected, each with its pointer, not just the first", async () => {
  const problems = await check(
    "manifest",
    manifest({
      config: { mediaType: "nonsense", digest: "sha256:ABC", size: -1 },
      layers: [
        { mediaType: MediaType.ociLayerGzip, digest: D2, size: 1.5 },
        { digest: D1, size: 3 },
      ],
    }),
  );
  assert.deepEqual(rulesOf(problems), [
    "/config/digest digest-invalid",
    "/config/mediaType media-type-invalid",
    "/config/size size-invalid",
    "/layers/0/size size-invalid",
    "/layers/1/mediaType schema-required",
  ]);
  for (const problem of problems) assert.equal(problem.where, "doc.json");
});

test("digests: path tricks, upper-case hex and wrong lengths are errors; unknown algorithms are warnings", async () => {
  for (const digest of [
    "sha256:../../etc/passwd",
    `sha256:${"A".repeat(64)}`,
    `sha256:${"a".repeat(63)}`,
    `sha512:${"a".repeat(64)}`,
    "sha256:",
    "/etc/passwd",
  ]) {
    assert.deepEqual(
      rulesOf(await check("descriptor", { mediaType: "a/b", digest, size: 1 })),
      ["/digest digest-invalid"],
      digest,
    );
  }
  const unknown = await check("descriptor", { mediaType: "a/b", digest: "blake3:abc", size: 1 });
  assert.deepEqual(errors(unknown), []);
  assert.deepEqual(
    warnings(unknown).map((p) => p.rule),
    ["digest-unverifiable"],
  );
});

test("sizes: negative, fractional, above 2^53-1, strings are errors; 0 and 2^53-1 are fine", async () => {
  for (const size of [-1, 1.5, 2 ** 53, 1e300, "12", null]) {
    assert.deepEqual(
      rulesOf(await check("descriptor", { mediaType: "a/b", digest: D1, size })),
      ["/size size-invalid"],
      String(size),
    );
  }
  for (const size of [0, Number.MAX_SAFE_INTEGER])
    assert.deepEqual(errors(await check("descriptor", { mediaType: "a/b", digest: D1, size })), []);
});

test("data: unpadded base64, and data that does not match size or digest", async () => {
  const bytes = Buffer.from("hello");
  const good = { mediaType: "text/plain", digest: digestOf(bytes), size: 5, data: bytes.toString("base64") };
  assert.deepEqual(errors(await check("descriptor", good)), []);
  assert.deepEqual(rulesOf(await check("descriptor", { ...good, data: "aGVsbG8" })), ["/data data-invalid"]);
  assert.deepEqual(rulesOf(await check("descriptor", { ...good, size: 6 })), ["/data data-mismatch"]);
  assert.deepEqual(rulesOf(await check("descriptor", { ...good, digest: D1 })), ["/data data-mismatch"]);
});

test("urls must be absolute RFC 3986 URIs", async () => {
  const base = { mediaType: "a/b", digest: D1, size: 1 };
  assert.deepEqual(
    errors(
      await check("descriptor", {
        ...base,
        urls: ["https://example.com/a?b=c#d", "http://[::1]:5000/x", "urn:isbn:123"],
      }),
    ),
    [],
  );
  for (const url of ["value", "https://exa mple.com/", "http://x/%zz", "//host/path", "https://h/a#b#c"]) {
    assert.deepEqual(rulesOf(await check("descriptor", { ...base, urls: [url] })), ["/urls/0 url-invalid"], url);
  }
});

test("ref names follow the annotations.md grammar", async () => {
  const entry = (name: string) => ({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: MediaType.ociManifest,
        digest: D1,
        size: 1,
        annotations: { "org.opencontainers.image.ref.name": name },
      },
    ],
  });
  for (const name of ["latest", "v1.0", "a/b:c", "x--y", "1.2.3-rc@sha"])
    assert.deepEqual(errors(await check("index", entry(name))), [], name);
  for (const name of ["", "-a", "a b", "../x", "a//b", "tag/"]) {
    assert.deepEqual(
      rulesOf(await check("index", entry(name))),
      ["/manifests/0/annotations/org.opencontainers.image.ref.name ref-name-invalid"],
      JSON.stringify(name),
    );
  }
});

test("manifest rules: artifactType with an empty config, no layers, mediaType, and manifest-vs-index ambiguity", async () => {
  const emptyConfig = { mediaType: MediaType.ociEmpty, digest: EMPTY, size: 2 };
  assert.deepEqual(rulesOf(await check("manifest", manifest({ config: emptyConfig }))), [
    "/artifactType artifact-type-required",
  ]);
  assert.deepEqual(
    errors(await check("manifest", manifest({ config: emptyConfig, artifactType: "application/vnd.example+json" }))),
    [],
  );
  assert.deepEqual(rulesOf(await check("manifest", manifest({ layers: [] }))), ["/layers layers-empty"]);
  assert.deepEqual(rulesOf(await check("manifest", manifest({ mediaType: MediaType.ociIndex }))), [
    "/mediaType media-type-mismatch",
  ]);
  assert.deepEqual(
    warnings(await check("manifest", manifest({ mediaType: undefined }))).map((p) => p.rule),
    ["media-type-missing"],
  );
  assert.deepEqual(rulesOf(await check("manifest", manifest({ manifests: [] }))), [
    "/manifests manifest-index-ambiguous",
  ]);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [],
    config: manifest().config,
    layers: [],
  };
  assert.deepEqual(rulesOf(await check("index", index)), [
    "/config manifest-index-ambiguous",
    "/layers manifest-index-ambiguous",
  ]);
  // Without --type, such a document is refused rather than guessed at.
  assert.deepEqual(rulesOf(await check(undefined, index)), [" manifest-index-ambiguous"]);
});

test("unknown layer and config media types are warnings, not errors", async () => {
  const problems = await check(
    "manifest",
    manifest({ layers: [{ mediaType: "application/vnd.example.thing", digest: D2, size: 3 }] }),
  );
  assert.deepEqual(errors(problems), []);
  assert.deepEqual(
    warnings(problems).map((p) => `${p.pointer} ${p.rule}`),
    ["/layers/0/mediaType media-type-unknown"],
  );
});

test("config rules: Env, ExposedPorts, created, rootfs.type, diff_ids, history count, null optional fields", async () => {
  const bad = await check(
    "config",
    config({
      created: "yesterday",
      config: { Env: ["NOEQUALS", "=x"], ExposedPorts: { "80/tcp": {}, http: {}, "70000": {}, "53/icmp": {} } },
      rootfs: { type: "tarball", diff_ids: ["sha256:short"] },
      history: [{ created: "2024-13-01T00:00:00Z" }],
    }),
  );
  assert.deepEqual(rulesOf(bad), [
    "/config/Env/0 env-invalid",
    "/config/Env/1 env-invalid",
    "/config/ExposedPorts/53~1icmp exposed-port-invalid",
    "/config/ExposedPorts/70000 exposed-port-invalid",
    "/config/ExposedPorts/http exposed-port-invalid",
    "/created created-invalid",
    "/history/0/created created-invalid",
    "/rootfs/diff_ids/0 digest-invalid",
    "/rootfs/type rootfs-type",
  ]);
  const counted = await check("config", config({ history: [{ created_by: "a" }, { created_by: "b" }] }));
  assert.deepEqual(errors(counted), []);
  assert.deepEqual(
    warnings(counted).map((p) => p.rule),
    ["history-layer-count"],
  );
  const nulls = await check(
    "config",
    config({
      config: { Env: null, Entrypoint: null, Cmd: null, Volumes: null, Labels: null, ExposedPorts: null },
      history: null,
      author: null,
    }),
  );
  assert.deepEqual(nulls, []);
  assert.deepEqual(rulesOf(await check("config", { os: "linux", rootfs: { type: "layers", diff_ids: [] } })), [
    "/architecture schema-required",
  ]);
});

test("oci-layout: the version must be 1.0.0", async () => {
  assert.deepEqual(rulesOf(await check("oci-layout", { imageLayoutVersion: "2.0.0" })), [
    "/imageLayoutVersion layout-version",
  ]);
  assert.deepEqual(rulesOf(await check("oci-layout", {})), ["/imageLayoutVersion schema-required"]);
});

test("hostile JSON bytes each become one problem with a rule, never an exception", async () => {
  const cases: [string, Buffer, string][] = [
    ["duplicate keys", Buffer.from('{"schemaVersion":2,"manifests":[],"manifests":[]}'), "json-duplicate-key"],
    ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), "json-utf8"],
    ["a byte-order mark", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("{}")]), "json-bom"],
    ["nesting 100,000 deep", Buffer.from("[".repeat(100_000) + "]".repeat(100_000)), "json-too-deep"],
    ["over 4 MiB", Buffer.from(`{"a":"${"x".repeat(4 * 1024 * 1024)}"}`), "document-too-large"],
    ["not JSON", Buffer.from("{nope"), "json-syntax"],
  ];
  for (const [name, bytes, rule] of cases) {
    const problems = await validateDocument("index", bytes, { where: "x.json" });
    assert.deepEqual(
      problems.map((p) => [p.rule, p.severity, p.where]),
      [[rule, "error", "x.json"]],
      name,
    );
  }
  const duplicate = await validateDocument("index", Buffer.from('{"a":{"b":1,"b":2}}'), { where: "x" });
  assert.equal(duplicate[0]!.pointer, "/a/b");
  const inArray = await validateDocument("index", Buffer.from('{"a":[{"x":1},{"x":1,"x":2}]}'), { where: "x" });
  assert.equal(inArray[0]!.pointer, "/a/1/x");
});

test("kinds are detected from mediaType and shape, and refused when they can't be", async () => {
  assert.equal(detectKind(manifest()), "manifest");
  assert.equal(detectKind({ schemaVersion: 2, manifests: [] }), "index");
  assert.equal(detectKind({ schemaVersion: 2, mediaType: MediaType.ociIndex }), "index");
  assert.equal(detectKind(config({ config: { Env: [] } })), "config");
  assert.equal(detectKind({ mediaType: MediaType.ociManifest, digest: D1, size: 1 }), "descriptor");
  assert.equal(detectKind({ imageLayoutVersion: "1.0.0" }), "oci-layout");
  assert.equal(detectKind({ manifests: [], layers: [] }), "ambiguous");
  assert.equal(detectKind({ hello: "world" }), undefined);
  assert.equal(detectKind([1, 2]), undefined);
  const unknown = await checkDocument(undefined, { hello: "world" }, { where: "w" });
  assert.equal(unknown.kind, undefined);
  assert.deepEqual(
    unknown.problems.map((p) => p.rule),
    ["document-kind-unknown"],
  );
  assert.match(unknown.problems[0]!.message, /--type/);
});
