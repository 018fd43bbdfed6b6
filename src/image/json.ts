/**
 * Strict JSON for documents from strangers: a size cap, UTF-8 only, no BOM,
 * no duplicate keys, bounded nesting. JSON.parse alone accepts the last of
 * duplicate keys silently (CVE-2021-41190's cousin) and builds objects too
 * deep to walk recursively later.
 */
import { InvalidContentError } from "../errors.js";

/** distribution-spec: registries and clients cap manifests at 4 MiB. */
export const MAX_DOCUMENT_SIZE = 4 * 1024 * 1024;
/** Deeper than any real image document; keeps every later walk safe. */
export const MAX_NESTING = 128;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Parses `bytes` as one strict JSON document; `where` names it in errors. */
export function parseJsonDocument(bytes: Uint8Array | string, where?: string, maxSize = MAX_DOCUMENT_SIZE): unknown {
  const size = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
  if (size > maxSize) {
    throw new InvalidContentError("DOCUMENT_TOO_LARGE", `document is ${size} bytes, over the ${maxSize}-byte limit`, {
      where,
    });
  }
  let text: string;
  if (typeof bytes === "string") {
    text = bytes;
  } else {
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new InvalidContentError("JSON_INVALID", "document is not valid UTF-8", { where });
    }
  }
  if (text.charCodeAt(0) === 0xfeff) {
    throw new InvalidContentError("JSON_INVALID", "document starts with a byte-order mark (JSON must not)", { where });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidContentError("JSON_INVALID", `document is not valid JSON: ${(error as Error).message}`, { where });
  }
  checkStructure(text, where);
  return value;
}

/**
 * One pass over already-valid JSON text: nesting depth and duplicate keys,
 * iteratively (no recursion, so no stack overflow at any depth).
 */
function checkStructure(text: string, where?: string): void {
  // For each open container: the keys seen so far (objects) or null (arrays).
  const stack: (Set<string> | null)[] = [];
  const path: string[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = endOfString(text, i);
      const top = stack[stack.length - 1];
      if (top && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.has(key)) {
          const pointer = "/" + [...path.slice(0, stack.length - 1), key].map(escapePointer).join("/");
          throw new InvalidContentError("JSON_DUPLICATE_KEY", `duplicate key "${key}"`, { where, pointer });
        }
        top.add(key);
        path[stack.length - 1] = key;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_NESTING) {
        throw new InvalidContentError("JSON_TOO_DEEP", `document nests deeper than ${MAX_NESTING} levels`, { where });
      }
      const isObject = c === 0x7b;
      stack.push(isObject ? new Set() : null);
      path[stack.length - 1] = isObject ? "" : "0";
      expectKey = isObject;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      path.length = stack.length;
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) expectKey = true;
      else if (top === null) path[stack.length - 1] = String(Number(path[stack.length - 1]) + 1);
    }
  }
}

function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i;
  }
  return text.length - 1;
}

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
