/** The validate command line: arguments, stdin, usage errors, output forms, hostile documents (SECURITY.md rows 22-29). */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";

const D = digestOf("x");

function descriptor(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: MediaType.ociManifest, digest: D, size: 1, ...extra };
}

async function run(args: string[], options: { cwd?: string; input?: string | Buffer } = {}) {
  const result = await runOciImage(["validate", ...args], options);
  assert.ok(!hasStackTrace(result.stderr) && !hasStackTrace(result.stdout), `${result.stdout}${result.stderr}`);
  return result;
}

test("a document on stdin, its kind detected", async () => {
  const ok = await run(["--json", "-"], {
    input: JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }),
  });
  assert.equal(ok.status, 0, ok.stdout);
  const report = JSON.parse(ok.stdout);
  assert.deepEqual(report.checked, [{ path: "-", type: "index", valid: true, errors: 0, warnings: 0 }]);
  assert.equal(report.ok, true);
  const bad = await run(["--type", "descriptor", "-"], { input: JSON.stringify(descriptor({ size: -1 })) });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /^error: - \/size: .*\[size-invalid\]$/m);
  assert.match(bad.stdout, /^-: INVALID \(descriptor; 1 error, 0 warnings\)$/m);
});

test("a document whose kind can't be told says to use --type, exit 1", async () => {
  const result = await run(["-"], { input: '{"hello":"world"}' });
  assert.equal(result.status, 1);
  assert.match(result.stdout, /--type/);
  assert.match(result.stdout, /\[document-kind-unknown\]/);
});

test("usage errors exit 2: no path, unknown type, bad --jobs, --type on the wrong kind of path", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "doc.json"), "{}");
  for (const args of [
    [],
    ["--type", "picture", "x"],
    ["-j", "0", "x"],
    ["--type", "manifest", dir],
    ["--type", "layout", join(dir, "doc.json")],
    ["--type", "layout", "-"],
    ["-", "-"],
    ["--bogus", "x"],
  ]) {
    const result = await run(args, { input: "{}" });
    assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stdout, "");
  }
});

test("a missing path is a problem (exit 1), and the other paths are still checked", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "good.json"), JSON.stringify(descriptor()));
  const result = await run(["--json", join(dir, "nope.json"), join(dir, "good.json")]);
  assert.equal(result.status, 1);
  const report = JSON.parse(result.stdout);
  assert.deepEqual(
    report.checked.map((c: { valid: boolean }) => c.valid),
    [false, true],
  );
  assert.equal(report.errors[0].rule, "path-missing");
});

test("<layout>:<tag>, and a layout directory whose own name has a colon", async (t) => {
  const root = await tempDir(t);
  await writeTestImage(join(root, "images"), { tag: "one", layers: [[{ name: "a", content: "1" }]] });
  await writeTestImage(join(root, "images"), { tag: "two", layers: [[{ name: "b", content: "2" }]] });
  const one = await run(["--json", "images:one"], { cwd: root });
  assert.equal(one.status, 0, one.stdout);
  assert.equal(JSON.parse(one.stdout).checked[0].layers, 1);
  const all = await run(["--json", "images"], { cwd: root });
  assert.equal(JSON.parse(all.stdout).checked[0].layers, 2);
  await mkdir(join(root, "odd:name"));
  await writeTestImage(join(root, "odd:name"), { tag: "t", layers: [[{ name: "c", content: "3" }]] });
  const odd = await run(["--json", "odd:name"], { cwd: root });
  assert.equal(odd.status, 0, odd.stdout);
  assert.equal(JSON.parse(odd.stdout).checked[0].type, "layout");
  const oddTagged = await run(["--json", "odd:name:t"], { cwd: root });
  assert.equal(oddTagged.status, 0, oddTagged.stdout);
});

test("a directory that is not a layout: layout-missing, exit 1", async (t) => {
  const dir = await tempDir(t);
  const result = await run(["--json", dir]);
  assert.equal(result.status, 1);
  const rules = JSON.parse(result.stdout).errors.map((e: { rule: string }) => e.rule);
  assert.deepEqual(rules, ["layout-missing", "index-missing"]);
});

test("hostile documents (SECURITY.md rows 22-29) are each reported with a rule, exit 1", async (t) => {
  const dir = await tempDir(t);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: D, size: 1 },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: D, size: 1 }],
  };
  const cases: [string, string | Buffer, string, string][] = [
    [
      "path-digest.json",
      JSON.stringify(descriptor({ digest: "sha256:../../etc/passwd" })),
      "descriptor",
      "digest-invalid",
    ],
    [
      "upper-hex.json",
      JSON.stringify(descriptor({ digest: D.toUpperCase().replace("SHA256", "sha256") })),
      "descriptor",
      "digest-invalid",
    ],
    ["short-digest.json", JSON.stringify(descriptor({ digest: "sha256:abc" })), "descriptor", "digest-invalid"],
    ["negative.json", JSON.stringify(descriptor({ size: -5 })), "descriptor", "size-invalid"],
    ["fraction.json", JSON.stringify(descriptor({ size: 2.5 })), "descriptor", "size-invalid"],
    ["huge.json", '{"mediaType":"a/b","digest":"' + D + '","size":9007199254740993}', "descriptor", "size-invalid"],
    [
      "data.json",
      JSON.stringify(descriptor({ data: Buffer.from("y").toString("base64") })),
      "descriptor",
      "data-mismatch",
    ],
    ["both.json", JSON.stringify({ ...manifest, manifests: [] }), "manifest", "manifest-index-ambiguous"],
    ["duplicate.json", '{"schemaVersion":2,"manifests":[],"manifests":[{}]}', "index", "json-duplicate-key"],
    ["utf8.json", Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), "index", "json-utf8"],
    [
      "bom.json",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"schemaVersion":2,"manifests":[]}')]),
      "index",
      "json-bom",
    ],
    ["deep.json", "[".repeat(100_000) + "]".repeat(100_000), "index", "json-too-deep"],
    [
      "large.json",
      `{"schemaVersion":2,"manifests":[],"pad":"${"x".repeat(4 * 1024 * 1024)}"}`,
      "index",
      "document-too-large",
    ],
  ];
  for (const [name, content] of cases) await writeFile(join(dir, name), content);
  const types = [...new Set(cases.map((c) => c[2]))];
  for (const type of types) {
    const ofType = cases.filter((c) => c[2] === type);
    const result = await run(["--json", "--type", type, ...ofType.map((c) => c[0])], { cwd: dir });
    assert.equal(result.status, 1);
    const report = JSON.parse(result.stdout);
    for (const [name, , , rule] of ofType) {
      const rules = report.errors
        .filter((e: { where: string }) => e.where === name)
        .map((e: { rule: string }) => e.rule);
      assert.ok(rules.includes(rule), `${name}: expected ${rule}, got ${rules.join(", ") || "nothing"}`);
      assert.equal(report.checked.find((c: { path: string }) => c.path === name).valid, false, name);
    }
  }
  // The same through stdin: the 4 MiB cap holds there too.
  const large = await run(["--json", "--type", "index", "-"], { input: `{"pad":"${"x".repeat(5 * 1024 * 1024)}"}` });
  assert.equal(large.status, 1);
  assert.equal(JSON.parse(large.stdout).errors[0].rule, "document-too-large");
});

test("--json prints only JSON on stdout, -q prints only errors", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "warn.json"), JSON.stringify(descriptor({ digest: "blake3:abcd" })));
  const json = await run(["--json", join(dir, "warn.json")]);
  assert.equal(json.status, 0);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(report), ["ok", "valid", "checked", "errors", "warnings"]);
  assert.deepEqual(Object.keys(report.warnings[0]), ["where", "pointer", "rule", "message"]);
  assert.equal(report.warnings[0].rule, "digest-unverifiable");
  const quiet = await run(["-q", join(dir, "warn.json")]);
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stdout, "");
  assert.equal(quiet.stderr, "");
});

test("help lists the flags of the contract", async () => {
  const result = await runOciImage(["validate", "--help"]);
  assert.equal(result.status, 0);
  for (const flag of ["--type", "--fast", "--json", "--quiet", "--jobs"]) assert.ok(result.stdout.includes(flag), flag);
});
