/**
 * Reading one layer blob once: its digest (as the compressed bytes flow), its
 * compression, its tar structure (read by the reader unpack uses, names judged
 * by the policy unpack applies, no path twice) and its diff_id (the
 * uncompressed bytes' digest), all in a single pass with memory bounded by the
 * tar's entry count, never by its size.
 */
import type { Readable } from "node:stream";
import { fileSystemErrorOf, isOciImageError, ruleOfCode } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { deviceNumbersOf, metadataOf } from "../layer/entry-metadata.js";
import { printable as show } from "../layer/entry-name.js";
import { interpretEntry } from "../layer/entry-policy.js";
import { readLayer } from "../layer/layer-reader.js";
import { TarReader, type TarEnd, type TarHeader } from "../layer/tar-reader.js";
import type { BlobStore } from "../layout/blob-store.js";
import type { Problem } from "../schema/problem.js";
import { GarbagePacer } from "../util/garbage-pacer.js";

/** A config's claim about this layer: its diff_id, and where the claim is. */
export interface DiffIdExpectation {
  diffId: string;
  where: string;
  pointer: string;
}

export interface LayerCheckResult {
  problems: Problem[];
  /** The computed diff_id, when the whole layer was read. */
  diffId?: string;
  uncompressedBytes: number;
}

/** Beyond this many problems in one tar, the rest are counted, not listed. */
const MAX_TAR_PROBLEMS = 100;
/**
 * A layer's bytes pass through short-lived buffers (the read, gunzip's output):
 * collected every 8 MiB of blob (about 20 MiB of tar), else up to 64 MiB of dead
 * ones wait for V8 (see garbage-pacer.ts). One for every layer checked.
 */
const garbage = new GarbagePacer(8 * 1024 * 1024);

export async function checkLayer(
  store: BlobStore,
  descriptor: Descriptor,
  expectations: DiffIdExpectation[],
  signal?: AbortSignal,
  /** The blob's bytes read so far (for progress). */
  onBytes?: (bytesRead: number) => void,
): Promise<LayerCheckResult> {
  const where = descriptor.digest;
  const problems: Problem[] = [];
  const add = (severity: Problem["severity"]) => (rule: string, message: string) =>
    problems.push({ where, pointer: "", rule, message, severity });
  const tarCheck = new TarEntryCheck(add("error"), add("warning"));

  let blobFailure: unknown;
  let blobEnded = false;
  let uncompressedBytes = 0;
  let diffId: string | undefined;
  let blob: Readable | undefined;
  try {
    blob = await store.openBlob(descriptor);
    blob.on("error", (failure) => (blobFailure ??= failure));
    blob.on("end", () => (blobEnded = true));
    const layer = readLayer(blob, descriptor);
    blob.on("data", (chunk: Buffer) => garbage.count(chunk.length));
    if (onBytes) {
      let read = 0;
      blob.on("data", (chunk: Buffer) => onBytes((read += chunk.length)));
    }
    // The reader stops at once when `signal` aborts, even inside a long entry's data.
    const reader = new TarReader(layer.tar, { label: `layer ${where}`, signal });
    await readEntries(reader, tarCheck).finally(() => layer.tar.destroy());
    uncompressedBytes = layer.uncompressedSize();
    diffId = layer.diffId();
  } catch (failure) {
    if (signal?.aborted) {
      blob?.destroy();
      throw signal.reason ?? failure;
    }
    // Verify before trust: a layer that fails to decompress or parse may just be
    // a corrupted blob; read the rest of it to know which to report.
    if (blob && blobFailure === undefined && !blobEnded) await drain(blob);
    const problem = failureProblem(failure, blobFailure, where, store.blobPath(where));
    // When the bytes are not the blob's (or can't be read), nothing read from them can be trusted.
    if (problem.rule === "blob-digest" || problem.rule.startsWith("fs-"))
      return { problems: [problem], uncompressedBytes };
    problems.push(problem);
  }
  tarCheck.finish();
  if (diffId !== undefined) problems.push(...diffIdProblems(where, diffId, expectations));
  return { problems, diffId, uncompressedBytes };
}

/**
 * Waits for `work`, or rejects when `signal` aborts. The abort listener goes
 * when the work is done: one signal serves every layer of a layout.
 */

/** The one problem a failed read of a layer is: the file, the blob's bytes, the compression or the tar. */
function failureProblem(failure: unknown, blobFailure: unknown, where: string, path: string): Problem {
  const problem = (rule: string, message: string): Problem => ({
    where,
    pointer: "",
    rule,
    message,
    severity: "error",
  });
  const unreadable = fileSystemErrorOf(blobFailure ?? failure, path);
  if (unreadable) return problem(ruleOfCode(unreadable.code), unreadable.message);
  const blobError =
    blobFailure ?? (isOciImageError(failure) && failure.code === "DIGEST_MISMATCH" ? failure : undefined);
  if (blobError) return problem("blob-digest", messageOf(blobError));
  if (isOciImageError(failure) && failure.code === "LAYER_CORRUPT")
    return problem("layer-compression", failure.message);
  if (isOciImageError(failure) && failure.code === "BLOB_UNKNOWN") return problem("blob-missing", failure.message);
  if (isOciImageError(failure) && failure.code === "LAYER_INVALID_TAR")
    return problem("layer-tar-invalid", failure.message);
  if (isOciImageError(failure)) return problem(ruleOf(failure.code), failure.message);
  return problem("layer-tar-invalid", `layer ${where} is not a readable tar: ${messageOf(failure)}`);
}

function diffIdProblems(where: string, diffId: string, expectations: DiffIdExpectation[]): Problem[] {
  return expectations
    .filter((expected) => expected.diffId !== diffId)
    .map((expected) => ({
      where: expected.where,
      pointer: expected.pointer,
      rule: "layer-diff-id",
      message: `layer ${where} uncompresses to ${diffId}, but the config's diff_id is ${expected.diffId}`,
      severity: "error" as const,
    }));
}

/** Reads what is left of a blob, so its digest check runs; resolves when it ends or fails. */
function drain(blob: Readable): Promise<void> {
  if (blob.destroyed || blob.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    blob.on("end", resolve);
    blob.on("error", () => resolve());
    blob.on("close", resolve);
    blob.on("data", () => {});
    blob.resume();
  });
}

function ruleOf(code: string): string {
  return code.toLowerCase().replace(/_/g, "-");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Every entry through the entry checks, then how the archive ended. */
async function readEntries(reader: TarReader, check: TarEntryCheck): Promise<void> {
  for await (const entry of reader) check.check(entry.header);
  check.end(reader.end);
}

/** Per-entry checks (entry-policy.ts decides what a name means); keeps one clean name per entry, no contents. */
class TarEntryCheck {
  private readonly seen = new Map<string, string>();
  private reported = 0;
  private dropped = 0;

  constructor(
    private readonly error: (rule: string, message: string) => void,
    private readonly warn: (rule: string, message: string) => void,
  ) {}

  check(header: TarHeader): void {
    const entry = interpretEntry(header);
    for (const finding of entry.findings) this.report(finding.severity, finding.rule, finding.message);
    const meaning = entry.meaning;
    if (meaning?.kind !== "entry") return;
    this.checkFields(header, entry.where);
    if (entry.parts.length === 0) return;
    const path = entry.parts.join("/");
    if (meaning.type === "link" && meaning.link && this.seen.get(meaning.link.join("/")) === "directory")
      this.report(
        "error",
        "layer-hardlink-invalid",
        `hard link "${show(header.name)}" points at the directory "${show(header.linkname)}"`,
      );
    const previous = this.seen.get(path);
    if (previous !== undefined) {
      this.report(
        "error",
        "layer-duplicate-path",
        `the path "${show(path)}" is in the layer twice (a ${previous}, then a ${meaning.type}); layer.md forbids it`,
      );
    }
    this.seen.set(path, meaning.type);
  }

  /** Owner ids, times and device numbers a file system can take (unpack refuses the others). */
  private checkFields(header: TarHeader, where: string): void {
    try {
      metadataOf(header, where, "layer");
      if (header.type === "character-device" || header.type === "block-device") deviceNumbersOf(header, where, "layer");
    } catch (failure) {
      if (!isOciImageError(failure)) throw failure;
      this.report("error", "layer-field-out-of-range", failure.message);
    }
  }

  /** How the archive ended: read as Go's archive/tar reads it, with a warning when it is not as written by tar. */
  end(end: TarEnd): void {
    if (end.missing)
      this.report(
        "warning",
        "layer-tar-end-missing",
        `the tar ends without ${end.missing === "padding" ? "the last entry's padding and " : ""}the end-of-archive marker; it is read as complete`,
      );
    if (end.dataAfterEnd)
      this.report(
        "warning",
        "layer-tar-data-after-end",
        "data follows the tar's end-of-archive marker; it is ignored, as tar does",
      );
  }

  private report(severity: "error" | "warning", rule: string, message: string): void {
    if (this.reported >= MAX_TAR_PROBLEMS) {
      this.dropped++;
      return;
    }
    this.reported++;
    if (severity === "error") this.error(rule, message);
    else this.warn(rule, message);
  }

  finish(): void {
    if (this.dropped > 0)
      this.error("layer-problems-truncated", `${this.dropped} more problems in this layer's tar are not listed`);
  }
}
