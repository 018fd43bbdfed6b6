/**
 * What `oci-image validate <path>...` checks: each argument is a layout
 * directory (optionally `<layout>:<tag>`), a JSON document file, or `-` for a
 * document on stdin. Each is checked on its own; the problems of all are kept.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { UsageError } from "../errors.js";
import { MAX_DOCUMENT_SIZE } from "../image/json.js";
import { parseLayoutArgument } from "../layout/refs.js";
import { hasErrors, type Problem } from "../schema/problem.js";
import { checkDocument } from "../schema/validate-document.js";
import { readLayoutFile } from "./blob-files.js";
import { reportInto } from "./findings.js";
import { validateLayout } from "./validate-layout.js";

export { VALIDATE_TYPES } from "./validate-types.js";
import type { ValidateType } from "./validate-types.js";
export type { ValidateType };

export interface ValidatePathsOptions {
  /** What every argument is; detected per argument when omitted. */
  type?: ValidateType;
  fast?: boolean;
  concurrency?: number;
  cwd?: string;
  stdin?: Readable;
  signal?: AbortSignal;
  onLayer?: (digest: string, uncompressedBytes: number) => void;
  onLayersPlanned?: (layers: readonly { digest: string; size: number }[]) => void;
  onLayerBytes?: (digest: string, bytesRead: number) => void;
}

export interface CheckedPath {
  /** The argument as given. */
  path: string;
  /** What it was checked as (undefined: its kind could not be told, or it is missing). */
  type?: ValidateType;
  valid: boolean;
  errors: number;
  warnings: number;
  /** Layouts: refs in index.json, blobs reached, layers read. */
  refs?: string[];
  blobs?: number;
  layers?: number;
}

export interface ValidationResult {
  valid: boolean;
  checked: CheckedPath[];
  /** Every problem of every argument, in argument order. */
  problems: Problem[];
}

export async function validatePaths(
  paths: readonly string[],
  options: ValidatePathsOptions = {},
): Promise<ValidationResult> {
  if (paths.length === 0)
    throw new UsageError("validate needs at least one path: a layout directory, a JSON document, or - for stdin");
  if (paths.filter((path) => path === "-").length > 1) throw new UsageError("- (stdin) can be given only once");
  const checked: CheckedPath[] = [];
  const problems: Problem[] = [];
  for (const path of paths) {
    options.signal?.throwIfAborted();
    const { entry, found } = await validateOne(path, options);
    checked.push(entry);
    problems.push(...found);
  }
  return { valid: checked.every((entry) => entry.valid), checked, problems };
}

async function validateOne(
  argument: string,
  options: ValidatePathsOptions,
): Promise<{ entry: CheckedPath; found: Problem[] }> {
  const summarize = (type: ValidateType | undefined, found: Problem[], extra: Partial<CheckedPath> = {}) => ({
    entry: {
      path: argument,
      type,
      valid: !hasErrors(found),
      errors: found.filter((problem) => problem.severity === "error").length,
      warnings: found.filter((problem) => problem.severity === "warning").length,
      ...extra,
    },
    found,
  });

  if (argument === "-") {
    if (options.type === "layout")
      throw new UsageError(
        "- (stdin) is a document, not a layout: give a --type of manifest, index, config, descriptor or oci-layout",
      );
    const bytes = await readStdin(options.stdin);
    const result = await checkDocument(options.type, bytes, { where: "-" });
    return summarize(result.kind, result.problems);
  }

  const target = await locate(argument, options.cwd ?? process.cwd());
  if (!target) {
    const problem: Problem = {
      where: argument,
      pointer: "",
      rule: "path-missing",
      message: "no such file or directory",
      severity: "error",
    };
    return summarize(undefined, [problem]);
  }
  if (target.directory) {
    if (options.type !== undefined && options.type !== "layout") {
      throw new UsageError(
        `${argument} is a directory: --type ${options.type} is for a JSON document (use --type layout, or no --type)`,
      );
    }
    const report = await validateLayout(target.path, {
      name: target.name,
      tag: target.tag,
      fast: options.fast,
      concurrency: options.concurrency,
      signal: options.signal,
      onLayer: options.onLayer,
      onLayersPlanned: options.onLayersPlanned,
      onLayerBytes: options.onLayerBytes,
    });
    return summarize("layout", report.problems, { refs: report.refs, blobs: report.blobs, layers: report.layers });
  }
  if (options.type === "layout") throw new UsageError(`${argument} is a file: --type layout needs a layout directory`);
  const result = await checkDocumentFile(argument, target.path, options.type);
  return summarize(result.kind, result.problems);
}

/** A document file: read (a file that can't be is a finding) and checked. */
async function checkDocumentFile(
  argument: string,
  path: string,
  type: ValidateType | undefined,
): Promise<{ kind?: ValidateType; problems: Problem[] }> {
  const found: Problem[] = [];
  const bytes = await readLayoutFile(path, argument, reportInto(found));
  if (bytes === "missing") {
    const problem: Problem = {
      where: argument,
      pointer: "",
      rule: "path-missing",
      message: "no such file",
      severity: "error",
    };
    return { problems: [problem] };
  }
  if (bytes === undefined) return { problems: found };
  return checkDocument(type === "layout" ? undefined : type, bytes, { where: argument });
}

interface Target {
  path: string;
  /** The path as the user wrote it. */
  name: string;
  directory: boolean;
  tag?: string;
}

/** The argument as a path when it exists; else `<layout>:<tag>` when that names a directory. */
async function locate(argument: string, cwd: string): Promise<Target | undefined> {
  const whole = await kindOf(resolve(cwd, argument));
  if (whole !== undefined) return { path: resolve(cwd, argument), name: argument, directory: whole === "directory" };
  const { path, tag } = parseLayoutArgument(argument);
  if (path === argument) return undefined;
  const split = await kindOf(resolve(cwd, path));
  if (split !== "directory") return undefined;
  return { path: resolve(cwd, path), name: path, directory: true, tag };
}

async function kindOf(path: string): Promise<"directory" | "file" | undefined> {
  try {
    return (await stat(path)).isDirectory() ? "directory" : "file";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Any other failure (a link loop, no permission) is reported when the file is read.
    return code === "ENOENT" || code === "ENOTDIR" ? undefined : "file";
  }
}

/** stdin, up to one byte over the document cap (the parser reports the size). */
async function readStdin(stdin: Readable | undefined): Promise<Buffer> {
  if (!stdin) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(buffer);
    length += buffer.length;
    if (length > MAX_DOCUMENT_SIZE) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_DOCUMENT_SIZE + 1);
}
