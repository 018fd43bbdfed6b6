/** The validators generated at build time (Ajv standalone code) are current and agree with compiling the schemas now. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { SCHEMA_NAMES, VALIDATOR_EXPORTS } from "../../src/schema/definitions.js";
import { compileValidators, schemasFingerprint } from "../../src/schema/validators.js";
import { REPO_ROOT, runProgram } from "../helpers/cli.js";

const FIXTURES = join(REPO_ROOT, "test", "fixtures", "image-spec");

test("scripts/build-schemas.mjs generates validators that match compiling the schemas at run time", async () => {
  const built = await runProgram(process.execPath, [join(REPO_ROOT, "scripts", "build-schemas.mjs")]);
  assert.equal(built.status, 0, built.stderr);
  const generatedPath = join(REPO_ROOT, "dist", "src", "schema", "generated", "validators.js");
  const source = readFileSync(generatedPath, "utf8");
  assert.doesNotMatch(source, /\brequire\(/, "the generated module must be plain ESM");
  const generated = (await import(`${pathToFileURL(generatedPath).href}?t=${Date.now()}`)) as Record<string, unknown>;
  assert.equal(generated.SCHEMAS_FINGERPRINT, schemasFingerprint());
  const compiled = compileValidators();
  const cases = (JSON.parse(readFileSync(join(FIXTURES, "cases.json"), "utf8")) as { cases: { file: string }[] }).cases;
  let compared = 0;
  for (const { file } of cases) {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(join(FIXTURES, file), "utf8"));
    } catch {
      continue; // the not-JSON cases never reach a schema
    }
    for (const name of SCHEMA_NAMES) {
      const fromBuild = generated[VALIDATOR_EXPORTS[name]] as (data: unknown) => boolean;
      assert.equal(fromBuild(value), compiled[name](value), `${file} against ${name}`);
      compared++;
    }
  }
  assert.ok(compared > 300);
});
