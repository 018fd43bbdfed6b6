/**
 * What a tar entry's name means, decided once for unpack and validate: the
 * clean path under the root, whether it is a whiteout (and of what), and what
 * is wrong with it. Each finding carries both the error code unpack raises and
 * the rule validate reports. A fatal finding leaves no safe meaning (unpack
 * refuses the layer); a non-fatal one has a well-defined meaning that unpack
 * applies (a `..` that would climb out is dropped, a leading `/` too) while
 * validate still reports it, as an error when the image is non-conforming.
 */
import { UnsafeLayerError, type UnsafeLayerCode } from "../errors.js";
import { cleanEntryPath, formatEntryPath, nameProblemOf, printable as show } from "./entry-name.js";
import type { TarEntryType } from "./tar-header.js";
import { parseWhiteout } from "./whiteout.js";

export interface EntryFinding {
  /** The error code unpack raises when the finding is fatal. */
  code: UnsafeLayerCode;
  /** validate's rule name. */
  rule: string;
  severity: "error" | "warning";
  fatal: boolean;
  message: string;
}

export type EntryMeaning =
  /** AUFS metadata (`.wh..wh.plnk/…`): not content, skipped. */
  | { kind: "meta" }
  | { kind: "whiteout"; target: string[] }
  | { kind: "opaque"; directory: string[] }
  /** An ordinary entry; `parts` is empty only for a directory naming the root. */
  | { kind: "entry"; type: TarEntryType; link?: string[] };

export interface InterpretedEntry {
  /** The clean path under the root. */
  parts: string[];
  /** The path as messages show it (`/a/b`). */
  where: string;
  /** Undefined when a finding is fatal. */
  meaning?: EntryMeaning;
  findings: EntryFinding[];
}

export interface EntryNames {
  name: string;
  type: TarEntryType | null;
  typeflag: string;
  linkname: string;
}

/** Interprets one entry's name, type and link target. */
export function interpretEntry(header: EntryNames): InterpretedEntry {
  const findings: EntryFinding[] = [];
  const note: Note = (code, rule, severity, fatal, message) => findings.push({ code, rule, severity, fatal, message });
  const fatal = () => findings.some((finding) => finding.fatal);
  const raw = header.name;
  const nameProblem = nameProblemOf(raw, "entry");
  if (nameProblem) {
    note(nameProblem.code, nameProblem.rule, "error", true, nameProblem.message);
    return { parts: [], where: show(raw), findings };
  }
  const parts = cleanEntryPath(raw);
  const where = formatEntryPath(parts);
  const result = { parts, where, findings };
  notePathShape(raw, where, note);
  const whiteout = whiteoutMeaning(parts, where, note);
  if (fatal()) return result;
  const meaning = whiteout ?? entryMeaning(header, parts, where, note);
  return meaning && !fatal() ? { ...result, meaning } : result;
}

/** An absolute name or one whose `..` climbs out: applied under the root, still reported. */
function notePathShape(raw: string, where: string, note: Note): void {
  if (raw.startsWith("/"))
    note(
      "LAYER_PATH_ABSOLUTE",
      "layer-path-absolute",
      "warning",
      false,
      `entry "${show(raw)}" is an absolute path; it is applied under the root`,
    );
  if (climbs(raw))
    note(
      "LAYER_PATH_CLIMBS",
      "layer-path-unsafe",
      "error",
      false,
      `entry "${show(raw)}" climbs out of the root with ".."; it is applied as ${show(where)}`,
    );
}

/** What a whiteout name means; undefined for an ordinary name (or a malformed whiteout, noted as fatal). */
function whiteoutMeaning(parts: string[], where: string, note: Note): EntryMeaning | undefined {
  let whiteout;
  try {
    whiteout = parseWhiteout(parts);
  } catch (error) {
    if (!(error instanceof UnsafeLayerError)) throw error;
    note(error.code, "layer-whiteout-invalid", "error", true, error.message);
    return undefined;
  }
  if (whiteout.kind === "meta") {
    note("LAYER_WHITEOUT_META", "layer-whiteout-meta", "warning", false, `${show(where)}: AUFS metadata, skipped`);
    return { kind: "meta" };
  }
  if (whiteout.kind === "file") return { kind: "whiteout", target: whiteout.target };
  if (whiteout.kind === "opaque") return { kind: "opaque", directory: whiteout.directory };
  return undefined;
}

/** An ordinary entry: a type this tool applies, the root only as a directory, and a sound link target. */
function entryMeaning(header: EntryNames, parts: string[], where: string, note: Note): EntryMeaning | undefined {
  if (header.type === null) {
    note(
      "LAYER_UNKNOWN_TYPE",
      "layer-entry-type",
      "error",
      true,
      `${show(where)} has a tar typeflag (${JSON.stringify(header.typeflag)}) this tool does not know how to apply safely`,
    );
    return undefined;
  }
  if (parts.length === 0 && header.type !== "directory") {
    note(
      "LAYER_ROOT_REPLACED",
      "layer-root-entry",
      "error",
      true,
      `entry "${show(header.name)}" names the root of the rootfs but is a ${header.type}; only a directory may stand there`,
    );
    return undefined;
  }
  const link = interpretLink(header, parts, note);
  return { kind: "entry", type: header.type, link };
}

type Note = (
  code: UnsafeLayerCode,
  rule: string,
  severity: "error" | "warning",
  fatal: boolean,
  message: string,
) => void;

/** A symlink's target is kept verbatim (resolved in the root when followed); a hard link's is a path in the layer. */
function interpretLink(header: EntryNames, parts: string[], note: Note): string[] | undefined {
  if (header.type !== "symlink" && header.type !== "link") return undefined;
  const what = header.type === "symlink" ? "symlink" : "hard link";
  const where = formatEntryPath(parts);
  const linkname = header.linkname;
  if (linkname === "") {
    note("LAYER_BAD_LINK", "layer-link-invalid", "error", true, `${what} ${show(where)} has an empty target`);
    return undefined;
  }
  const problem = nameProblemOf(linkname, `${what} target`);
  if (problem) {
    note(problem.code, problem.rule, "error", true, `${show(where)}: ${problem.message}`);
    return undefined;
  }
  if (header.type === "symlink") return undefined;
  const target = cleanEntryPath(linkname);
  if (climbs(linkname))
    note(
      "LAYER_LINK_CLIMBS",
      "layer-link-unsafe",
      "error",
      false,
      `hard link ${show(where)} points at "${show(linkname)}", outside the root; it is applied as ${show(formatEntryPath(target))}`,
    );
  if (target.length === 0)
    note(
      "LAYER_BAD_LINK",
      "layer-hardlink-invalid",
      "error",
      true,
      `hard link ${show(where)} points at the root directory`,
    );
  else if (target.join("/") === parts.join("/"))
    note("LAYER_LINK_SELF", "layer-hardlink-invalid", "error", false, `hard link ${show(where)} points at itself`);
  return target;
}

/** Whether a `..` component would climb above the root. */
function climbs(name: string): boolean {
  let depth = 0;
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    depth += part === ".." ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}
