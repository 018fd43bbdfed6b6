/**
 * Validating one document: strict JSON parsing, its kind (given or detected),
 * the schema, then the rules the schema cannot express. Every problem is
 * reported, not just the first.
 */
import { isOciImageError } from "../errors.js";
import { parseJsonDocument } from "../image/json.js";
import { isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import type { SchemaName } from "./definitions.js";
import { ProblemList, type Problem } from "./problem.js";
import { checkDescriptor } from "./descriptor-rules.js";
import { clip, isObject } from "./json-value.js";
import { checkConfig, checkIndex, checkManifest, checkOciLayout } from "./rules.js";
import { loadValidators, type SchemaError } from "./validators.js";

export type DocumentKind = SchemaName;

export const DOCUMENT_KINDS: readonly DocumentKind[] = ["manifest", "index", "config", "descriptor", "oci-layout"];

export interface ValidateDocumentOptions {
  /** Names the document in problems: a file path, `-`, or a blob digest. */
  where?: string;
}

export interface DocumentResult {
  /** The kind validated against (undefined when it could not be told). */
  kind?: DocumentKind;
  /** The parsed document, when it parsed. */
  value?: unknown;
  problems: Problem[];
}

/**
 * Validates a document given as bytes (a Uint8Array: parsed strictly here) or
 * as an already parsed value. Without `kind`, the kind is detected from the
 * document's `mediaType` and shape.
 */
export async function validateDocument(
  kind: DocumentKind | undefined,
  input: unknown,
  options: ValidateDocumentOptions = {},
): Promise<Problem[]> {
  return (await checkDocument(kind, input, options)).problems;
}

/** As validateDocument, also returning the parsed value and the kind used. */
export async function checkDocument(
  kind: DocumentKind | undefined,
  input: unknown,
  options: ValidateDocumentOptions = {},
): Promise<DocumentResult> {
  const where = options.where ?? "-";
  let value = input;
  if (input instanceof Uint8Array) {
    const parsed = parseDocument(input, where);
    if ("problem" in parsed) return { problems: [parsed.problem] };
    value = parsed.value;
  }
  const list = new ProblemList(where);
  const detected = kind ?? detectKind(value);
  if (detected === "ambiguous") {
    list.error(
      "",
      "manifest-index-ambiguous",
      'the document has both "manifests" and "config"/"layers": it is neither a manifest nor an index (CVE-2021-41190)',
    );
    return { value, problems: list.problems };
  }
  if (detected === undefined) {
    list.error(
      "",
      "document-kind-unknown",
      "cannot tell what kind of document this is from its mediaType or shape; name it with --type manifest|index|config|descriptor|oci-layout",
    );
    return { value, problems: list.problems };
  }
  return { kind: detected, value, problems: await validateValue(detected, value, list) };
}

/** Strict parse; a failure becomes one problem with a rule. */
export function parseDocument(bytes: Uint8Array, where: string): { value: unknown } | { problem: Problem } {
  try {
    return { value: parseJsonDocument(bytes, where) };
  } catch (error) {
    if (!isOciImageError(error)) throw error;
    return {
      problem: {
        where,
        pointer: error.pointer ?? "",
        rule: jsonRule(error.code, error.message),
        message: error.message,
        severity: "error",
      },
    };
  }
}

function jsonRule(code: string, message: string): string {
  switch (code) {
    case "JSON_DUPLICATE_KEY":
      return "json-duplicate-key";
    case "JSON_TOO_DEEP":
      return "json-too-deep";
    case "DOCUMENT_TOO_LARGE":
      return "document-too-large";
    default:
      if (/UTF-8/.test(message)) return "json-utf8";
      if (/byte-order mark/.test(message)) return "json-bom";
      return "json-syntax";
  }
}

const RULES: Record<DocumentKind, (value: unknown, list: ProblemList) => void> = {
  descriptor: (value, list) => checkDescriptor(value, list, ""),
  manifest: checkManifest,
  index: checkIndex,
  config: checkConfig,
  "oci-layout": checkOciLayout,
};

async function validateValue(kind: DocumentKind, value: unknown, list: ProblemList): Promise<Problem[]> {
  const validators = await loadValidators();
  const validate = validators[kind];
  const schemaProblems: Problem[] = [];
  if (!validate(value)) {
    for (const error of validate.errors ?? []) schemaProblems.push(schemaProblem(error, value, list.where));
  }
  RULES[kind](value, list);
  // A rule's finding is more precise than the schema's at the same place: keep one per place.
  const ruled = new Set(
    list.problems.filter((problem) => problem.severity === "error").map((problem) => problem.pointer),
  );
  const seen = new Set<string>();
  const kept = schemaProblems.filter((problem) => {
    if (ruled.has(problem.pointer) || seen.has(problem.pointer)) return false;
    seen.add(problem.pointer);
    return true;
  });
  return [...kept, ...list.problems].sort((a, b) => comparePointers(a.pointer, b.pointer));
}

function comparePointers(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function schemaProblem(error: SchemaError, document: unknown, where: string): Problem {
  let pointer = error.instancePath;
  const params = error.params;
  let message: string;
  switch (error.keyword) {
    case "required":
      pointer = `${pointer}/${escape(String(params.missingProperty))}`;
      message = `"${params.missingProperty}" is required`;
      break;
    case "type": {
      const types = Array.isArray(params.type) ? params.type : String(params.type).split(",");
      message = `must be ${types.map(article).join(" or ")}, not ${describeValue(valueAt(document, pointer))}`;
      break;
    }
    case "const":
      message = `must be ${JSON.stringify(params.allowedValue)}, not ${describeValue(valueAt(document, pointer))}`;
      break;
    case "enum":
      message = `must be ${(params.allowedValues as unknown[]).map((allowed) => JSON.stringify(allowed)).join(" or ")}, not ${describeValue(valueAt(document, pointer))}`;
      break;
    case "pattern":
      message = `${describeValue(valueAt(document, pointer))} does not match ${params.pattern}`;
      break;
    case "minItems":
      message = `must have at least ${params.limit} item${params.limit === 1 ? "" : "s"}`;
      break;
    default:
      message = error.message ?? `fails the schema's ${error.keyword} rule`;
  }
  return { where, pointer, rule: `schema-${kebab(error.keyword)}`, message, severity: "error" };
}

function article(type: unknown): string {
  const name = String(type);
  if (name === "null") return "null";
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `"${clip(value)}"`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(document: unknown, pointer: string): unknown {
  let current = document;
  for (const token of pointer.split("/").slice(1)) {
    const key = token.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(current)) current = current[Number(key)];
    else if (isObject(current)) current = current[key];
    else return undefined;
  }
  return current;
}

function escape(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function kebab(keyword: string): string {
  return keyword.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/**
 * The kind of a document from its mediaType and shape: "ambiguous" for a
 * document that claims to be both a manifest and an index.
 */
export function detectKind(value: unknown): DocumentKind | "ambiguous" | undefined {
  if (!isObject(value)) return undefined;
  if (value.imageLayoutVersion !== undefined) return "oci-layout";
  const hasManifests = value.manifests !== undefined;
  const hasImageParts =
    value.layers !== undefined ||
    (value.config !== undefined && value.rootfs === undefined && value.architecture === undefined);
  if (hasManifests && hasImageParts) return "ambiguous";
  const mediaType = typeof value.mediaType === "string" ? value.mediaType : undefined;
  const isDescriptorShaped = value.digest !== undefined && value.schemaVersion === undefined;
  if (isDescriptorShaped) return "descriptor";
  if (hasManifests || (value.schemaVersion !== undefined && isIndexMediaType(mediaType))) return "index";
  if (hasImageParts || (value.schemaVersion !== undefined && isManifestMediaType(mediaType))) return "manifest";
  if (value.rootfs !== undefined || (value.architecture !== undefined && value.os !== undefined)) return "config";
  return undefined;
}
