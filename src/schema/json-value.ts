/** Reading JSON values of unknown shape, and naming them in messages. */

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a value is, for a message: `null`, `an array`, `the string "…"`, `a number`. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `the string "${clip(value)}"` : `a ${typeof value}`;
}

/** At most 100 characters of a text, for a message. */
export function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}
