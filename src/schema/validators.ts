/**
 * The compiled schema validators, loaded on first use. The build generates
 * them ahead of time (scripts/build-schemas.mjs, Ajv's standalone code) so a
 * run does not compile schemas; when that file is missing or was made from
 * other schemas, they are compiled here instead.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { AJV_OPTIONS, SCHEMAS, SCHEMA_NAMES, VALIDATOR_EXPORTS, schemaId, type SchemaName } from "./definitions.js";

export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export type SchemaValidator = ((data: unknown) => boolean) & { errors?: SchemaError[] | null };

export type Validators = Record<SchemaName, SchemaValidator>;

let loading: Promise<Validators> | undefined;

export function loadValidators(): Promise<Validators> {
  loading ??= loadGenerated().then((generated) => generated ?? compileValidators());
  return loading;
}

/** A fingerprint of the schema text, written into the generated module to detect a stale one. */
export function schemasFingerprint(): string {
  return createHash("sha256").update(JSON.stringify(SCHEMAS)).digest("hex");
}

async function loadGenerated(): Promise<Validators | undefined> {
  try {
    // A literal path, so the CLI's bundle (scripts/bundle-cli.mjs) can include the module.
    const module = (await import("./generated/validators.js")) as Record<string, unknown>;
    if (module.SCHEMAS_FINGERPRINT !== schemasFingerprint()) return undefined;
    return pick(module);
  } catch {
    return undefined;
  }
}

/** Compiles every schema now with Ajv (the build uses the same function to generate code). */
export function compileValidators(): Validators {
  const ajv = createAjv();
  const compiled: Record<string, unknown> = {};
  for (const name of SCHEMA_NAMES) compiled[VALIDATOR_EXPORTS[name]] = ajv.getSchema(schemaId(name));
  return pick(compiled);
}

/** An Ajv instance holding every schema; exported for the build script's standalone generation. */
export function createAjv(): AjvLike {
  const require = createRequire(import.meta.url);
  const ajvModule = require("ajv") as { default: new (options: object) => AjvLike };
  const ajv = new ajvModule.default({ ...AJV_OPTIONS, schemas: SCHEMAS });
  return ajv;
}

export interface AjvLike {
  getSchema(id: string): SchemaValidator | undefined;
}

function pick(module: Record<string, unknown>): Validators {
  const validators = {} as Validators;
  for (const name of SCHEMA_NAMES) {
    const validator = module[VALIDATOR_EXPORTS[name]];
    if (typeof validator !== "function") throw new Error(`schema validator ${VALIDATOR_EXPORTS[name]} is missing`);
    validators[name] = validator as SchemaValidator;
  }
  return validators;
}
