/** `oci-image ls` of layouts written by us, by skopeo and by umoci: every row as the files say. */
import assert from "node:assert/strict";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { pushImage, startRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";
import { expectedRows, writeMixedLayout, writeMixedLayoutApart, type ExpectedRow } from "./layouts.js";

async function checkLs(layout: string, minimumRows: number): Promise<ExpectedRow[]> {
  const expected = await expectedRows(layout);
  assert.ok(expected.length >= minimumRows, `the layout has ${expected.length} entries`);
  const json = await runOciImage(["ls", "--json", layout]);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), expected);
  const quiet = await runOciImage(["ls", "-q", layout]);
  assert.deepEqual(
    quiet.stdout.trim().split("\n"),
    expected.map((row) => row.digest),
  );
  const table = await runOciImage(["ls", layout]);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n");
  assert.equal(lines.length, expected.length + 1, table.stdout);
  assert.match(lines[0]!, /^REF +DIGEST +KIND +PLATFORM +SIZE +CREATED +SOURCE$/);
  const digestColumn = lines[0]!.indexOf("DIGEST");
  expected.forEach((row, i) => {
    const line = lines[i + 1]!;
    assert.ok(line.startsWith(`${row.ref ?? "<none>"} `), line);
    assert.equal(line.slice(digestColumn, digestColumn + 19), row.digest.slice(0, 19), line);
    assert.ok(line.includes(` ${row.kind} `), `${line} shows ${row.kind}`);
    assert.ok(line.includes(row.platforms.join(",") || " - "), line);
  });
  return expected;
}

test("ls of a layout we wrote: image, two-platform index, artifact, untagged entry", async (t) => {
  const layout = join(await tempDir(t), "mixed");
  await writeMixedLayout(layout);
  const rows = await checkLs(layout, 5);
  const byRef = new Map(rows.map((row) => [row.ref, row]));
  assert.deepEqual(byRef.get("multi")?.platforms, ["linux/amd64", "linux/arm64/v8"]);
  assert.equal(byRef.get("multi")?.kind, "index");
  assert.equal(byRef.get("sbom")?.kind, "application/spdx+json");
  assert.equal(byRef.get("plain")?.created, "2024-03-01T10:00:00Z");
  assert.ok(byRef.has(null), "an entry without a ref name is listed");
  const table = await runOciImage(["ls", layout]);
  assert.match(table.stdout, /^<none> /m);
});

async function skopeoLayout(t: TestContext): Promise<string | undefined> {
  const skopeo = requireTool(t, "skopeo");
  if (!skopeo) return undefined;
  const dir = await tempDir(t);
  await writeMixedLayout(join(dir, "mixed"));
  const registry = await startRegistry();
  t.after(() => registry.stop());
  await pushImage(`oci:${join(dir, "mixed")}:multi`, registry, "multi:1", { all: true, format: "oci" });
  await pushImage(`oci:${join(dir, "mixed")}:plain`, registry, "plain:docker", { format: "v2s2" });
  const layout = join(dir, "skopeo");
  for (const [source, ref, all] of [
    ["multi:1", "multi", true],
    ["plain:docker", "docker", false],
  ] as const) {
    const args = ["copy", "--quiet", "--src-tls-verify=false", ...(all ? ["--all"] : [])];
    const copied = await runProgram(skopeo, [...args, `docker://${registry.host}/${source}`, `oci:${layout}:${ref}`]);
    assert.equal(copied.status, 0, copied.stderr);
  }
  const fetched = await runOciImage(["fetch", "-q", `${registry.host}/plain:docker`, `${layout}:converted`]);
  assert.equal(fetched.status, 0, fetched.stderr);
  return layout;
}

test("ls of a layout skopeo wrote: an index of two platforms and a Docker-converted image", async (t) => {
  const layout = await skopeoLayout(t);
  if (!layout) return;
  const rows = await checkLs(layout, 3);
  const converted = rows.find((row) => row.ref === "converted");
  assert.match(converted?.source ?? "", /\/plain:docker$/);
  assert.deepEqual(rows.find((row) => row.ref === "multi")?.platforms, ["linux/amd64", "linux/arm64/v8"]);
});

test("ls of a layout umoci wrote", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  const layout = join(await tempDir(t), "umoci");
  for (const args of [
    ["init", "--layout", layout],
    ["new", "--image", `${layout}:empty`],
    ["config", "--image", `${layout}:empty`, "--tag", "configured", "--config.env", "A=b"],
  ]) {
    const result = await runProgram(umoci, args);
    assert.equal(result.status, 0, result.stderr);
  }
  const rows = await checkLs(layout, 2);
  assert.ok(rows.every((row) => row.kind === "image"));
});

test("ls of a layout with a blob missing: every row still shows, a warning names the blob, exit 1", async (t) => {
  const layout = join(await tempDir(t), "damaged");
  await writeMixedLayoutApart(layout);
  const rows = await expectedRows(layout);
  const other = rows.find((row) => row.ref === "other")!;
  await unlink(join(layout, "blobs", "sha256", other.digest.slice("sha256:".length)));
  const listed = await runOciImage(["ls", "--json", layout]);
  assert.equal(listed.status, 1, listed.stderr);
  const shown = JSON.parse(listed.stdout) as ExpectedRow[] & { problem?: string }[];
  assert.deepEqual(
    shown.map((row) => row.digest),
    rows.map((row) => row.digest),
  );
  const damaged = shown.find((row) => row.ref === "other") as ExpectedRow & { problem?: string };
  assert.equal(damaged.kind, "?");
  assert.match(damaged.problem ?? "", new RegExp(`blob ${other.digest} is not in the layout`));
  assert.match(listed.stderr, new RegExp(`warning: other: blob ${other.digest} is not in the layout`));
});
