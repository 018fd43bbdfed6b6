/**
 * Checks a bundle's config.json against the runtime-spec's own JSON Schema, as
 * Debian's golang-github-opencontainers-specs-dev ships it (draft-04, split
 * over files that $ref each other by file name). Like requireTool: outside CI
 * a missing schema skips the test loudly; in CI it fails.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { Ajv, type ValidateFunction } from "ajv";
import { inCI } from "./tools.js";

export const RUNTIME_SPEC_SCHEMA_DIR = "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema";
const PACKAGE = "golang-github-opencontainers-specs-dev";

let validator: ValidateFunction | undefined;

/** Every schema file, each under its file name, so "defs.json#/definitions/…" resolves. */
function configValidator(): ValidateFunction {
  if (validator) return validator;
  // The files declare draft-04, which Ajv 8 does not carry: skip the meta-schema check (the keywords
  // they use mean the same in draft-07), and let config-linux.json hold a subschema under a plain key.
  const ajv = new Ajv({ validateSchema: false, strictSchema: false, allErrors: true });
  for (const name of readdirSync(RUNTIME_SPEC_SCHEMA_DIR).filter((file) => file.endsWith(".json")))
    ajv.addSchema(JSON.parse(readFileSync(join(RUNTIME_SPEC_SCHEMA_DIR, name), "utf8")), name);
  validator = ajv.getSchema("config-schema.json");
  assert.ok(validator, `config-schema.json in ${RUNTIME_SPEC_SCHEMA_DIR}`);
  return validator;
}

/** Whether the schema can be used; otherwise skips `t` (outside CI) or throws (in CI). */
export function requireRuntimeSpecSchema(t: TestContext): boolean {
  if (existsSync(join(RUNTIME_SPEC_SCHEMA_DIR, "config-schema.json"))) return true;
  const message = `the runtime-spec JSON Schema is not installed (apt-get install ${PACKAGE})`;
  if (inCI()) throw new Error(`${message}: CI must have it`);
  process.stderr.write(`\n*** SKIPPING the config.json schema check: ${message} ***\n`);
  t.skip(message);
  return false;
}

/**
 * Asserts that a runtime config (an object, or the bundle directory holding
 * config.json) follows the runtime-spec: its JSON Schema, and the POSIX rule
 * the schema does not express (process.args has at least one entry).
 */
export async function assertValidRuntimeConfig(t: TestContext, bundleOrConfig: string | object): Promise<void> {
  const config: unknown =
    typeof bundleOrConfig === "string"
      ? JSON.parse(await readFile(join(bundleOrConfig, "config.json"), "utf8"))
      : bundleOrConfig;
  if (!requireRuntimeSpecSchema(t)) return;
  const validate = configValidator();
  const where = typeof bundleOrConfig === "string" ? join(bundleOrConfig, "config.json") : "the runtime config";
  assert.ok(validate(config), `${where} breaks the runtime-spec schema: ${JSON.stringify(validate.errors, null, 2)}`);
  const args = (config as { process?: { args?: unknown[] } }).process?.args;
  assert.ok(Array.isArray(args) && args.length > 0, `${where}: process.args needs at least one entry`);
}
