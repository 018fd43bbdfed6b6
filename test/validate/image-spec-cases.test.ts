/**
 * The image-spec's own schema test vectors (test/fixtures/image-spec): every
 * case gets the image-spec's verdict through the real CLI. Cases of one kind go
 * in one run; each case's verdict is read from its own `checked` entry.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, hasStackTrace, runOciImage } from "../helpers/cli.js";

interface Case {
  file: string;
  kind: string;
  expect: "valid" | "invalid";
  source: string;
}

interface Checked {
  path: string;
  type?: string;
  valid: boolean;
  errors: number;
}

const FIXTURES = join(REPO_ROOT, "test", "fixtures", "image-spec");
const cases = (JSON.parse(readFileSync(join(FIXTURES, "cases.json"), "utf8")) as { cases: Case[] }).cases;
const TYPES: Record<string, string> = {
  manifest: "manifest",
  imageindex: "index",
  config: "config",
  descriptor: "descriptor",
  imagelayout: "oci-layout",
};

test("the fixture list holds all 82 image-spec cases, valid and invalid", () => {
  assert.equal(cases.length, 82);
  assert.ok(cases.some((c) => c.expect === "valid") && cases.some((c) => c.expect === "invalid"));
  for (const c of cases) assert.ok(TYPES[c.kind], `unknown kind ${c.kind}`);
});

for (const kind of Object.keys(TYPES)) {
  const ofKind = cases.filter((c) => c.kind === kind);
  test(`image-spec ${kind} cases: ${ofKind.length} verdicts through oci-image validate --type ${TYPES[kind]}`, async () => {
    const result = await runOciImage(["validate", "--json", "--type", TYPES[kind]!, ...ofKind.map((c) => c.file)], {
      cwd: FIXTURES,
    });
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    const report = JSON.parse(result.stdout) as {
      valid: boolean;
      checked: Checked[];
      errors: { where: string; rule: string }[];
    };
    assert.equal(report.checked.length, ofKind.length);
    const wrong: string[] = [];
    ofKind.forEach((c, i) => {
      const checked = report.checked[i]!;
      assert.equal(checked.path, c.file);
      const verdict = checked.valid ? "valid" : "invalid";
      if (verdict !== c.expect) wrong.push(`${c.file} (${c.source}): expected ${c.expect}, got ${verdict}`);
      // An invalid verdict comes with at least one error naming the file and a rule.
      if (!checked.valid)
        assert.ok(
          report.errors.some((e) => e.where === c.file && e.rule.length > 0),
          `${c.file}: no error listed`,
        );
    });
    assert.deepEqual(wrong, []);
    const anyInvalid = ofKind.some((c) => c.expect === "invalid");
    assert.equal(result.status, anyInvalid ? 1 : 0);
  });
}

test("each valid case alone exits 0, each invalid case alone exits 1 (one per kind)", async () => {
  for (const kind of Object.keys(TYPES)) {
    for (const expect of ["valid", "invalid"] as const) {
      const c = cases.find((x) => x.kind === kind && x.expect === expect);
      if (!c) continue;
      const result = await runOciImage(["validate", "--type", TYPES[kind]!, c.file], { cwd: FIXTURES });
      assert.equal(result.status, expect === "valid" ? 0 : 1, `${c.file}: ${result.stdout}${result.stderr}`);
    }
  }
});
