/**
 * Reading one layer blob once: its digest (as the compressed bytes flow), its
 * compression, its tar structure (readable, no path twice, no unsafe names)
 * and its diff_id (the uncompressed bytes' digest), all in a single pass with
 * memory bounded by the tar's entry count, never by its size.
 */
import type { Readable } from "node:stream";
import { isOciImageError } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { readLayer } from "../layer/layer-reader.js";
import type { BlobStore } from "../layout/blob-store.js";
import type { Problem } from "../schema/problem.js";

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
/** hostile-inputs.md row 18: paths longer than this are refused. */
const MAX_PATH_LENGTH = 4096;

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
  const error = (rule: string, message: string) =>
    problems.push({ where, pointer: "", rule, message, severity: "error" });
  const warn = (rule: string, message: string) =>
    problems.push({ where, pointer: "", rule, message, severity: "warning" });
  const tarCheck = new TarEntryCheck(error, warn);

  let blobFailure: unknown;
  let blobEnded = false;
  let uncompressedBytes = 0;
  let diffId: string | undefined;
  let blob: Readable | undefined;
  try {
    const { extract } = await import("tar-stream");
    blob = await store.openBlob(descriptor);
    blob.on("error", (failure) => (blobFailure ??= failure));
    blob.on("end", () => (blobEnded = true));
    const layer = readLayer(blob, descriptor);
    if (onBytes) {
      let read = 0;
      blob.on("data", (chunk: Buffer) => onBytes((read += chunk.length)));
    }
    const tar = extract();
    tar.on("entry", (header, stream, next) => {
      tarCheck.check(header);
      stream.on("end", () => next());
      stream.on("error", (failure: Error) => next(failure));
      stream.resume();
    });
    await new Promise<void>((resolve, reject) => {
      const abort = () => reject(signal?.reason ?? new Error("aborted"));
      if (signal?.aborted) abort();
      signal?.addEventListener("abort", abort, { once: true });
      tar.on("finish", () => resolve());
      tar.on("error", reject);
      layer.tar.on("error", reject);
      layer.tar.pipe(tar);
    }).finally(() => layer.tar.destroy());
    uncompressedBytes = layer.uncompressedSize();
    diffId = layer.diffId();
  } catch (failure) {
    if (signal?.aborted) {
      blob?.destroy();
      throw failure;
    }
    // Verify before trust: a layer that fails to decompress or parse may just be
    // a corrupted blob; read the rest of it to know which to report.
    if (blob && blobFailure === undefined && !blobEnded) await drain(blob);
    const blobError =
      blobFailure ?? (isOciImageError(failure) && failure.code === "DIGEST_MISMATCH" ? failure : undefined);
    if (blobError) {
      // The bytes are not the blob's: nothing read from them can be trusted.
      return {
        problems: [{ where, pointer: "", rule: "blob-digest", message: messageOf(blobError), severity: "error" }],
        uncompressedBytes,
      };
    }
    if (isOciImageError(failure) && failure.code === "LAYER_CORRUPT") error("layer-compression", failure.message);
    else if (isOciImageError(failure) && failure.code === "BLOB_UNKNOWN") error("blob-missing", failure.message);
    else if (isOciImageError(failure)) error(ruleOf(failure.code), failure.message);
    else error("layer-tar-invalid", `layer ${where} is not a readable tar: ${messageOf(failure)}`);
  }
  tarCheck.finish();
  if (diffId !== undefined) {
    for (const expected of expectations) {
      if (expected.diffId !== diffId) {
        problems.push({
          where: expected.where,
          pointer: expected.pointer,
          rule: "layer-diff-id",
          message: `layer ${where} uncompresses to ${diffId}, but the config's diff_id is ${expected.diffId}`,
          severity: "error",
        });
      }
    }
  }
  return { problems, diffId, uncompressedBytes };
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

interface TarHeader {
  name: string;
  type: string | null;
  linkname?: string | null;
}

/** Per-entry checks; keeps one normalized name per entry, no contents. */
class TarEntryCheck {
  private readonly seen = new Map<string, string>();
  private reported = 0;
  private dropped = 0;

  constructor(
    private readonly error: (rule: string, message: string) => void,
    private readonly warn: (rule: string, message: string) => void,
  ) {}

  check(header: TarHeader): void {
    const raw = header.name;
    if (raw.length > MAX_PATH_LENGTH)
      return this.report(
        "error",
        "layer-path-too-long",
        `an entry's path is ${raw.length} bytes long, over the ${MAX_PATH_LENGTH}-byte limit`,
      );
    if (raw.includes("\0"))
      return this.report("error", "layer-path-unsafe", `entry "${show(raw)}" has a NUL byte in its name`);
    if (header.type === null)
      return this.report("error", "layer-entry-type", `entry "${show(raw)}" has a type flag this tool does not know`);
    if (raw.startsWith("/"))
      this.report(
        "warning",
        "layer-path-absolute",
        `entry "${show(raw)}" is an absolute path; it is applied under the root`,
      );
    const path = normalizeEntryPath(raw);
    if (path === undefined)
      return this.report("error", "layer-path-unsafe", `entry "${show(raw)}" climbs out of the root with ".."`);
    if (path === "") {
      if (header.type !== "directory")
        this.report(
          "error",
          "layer-root-entry",
          `entry "${show(raw)}" names the root but is a ${header.type}, not a directory`,
        );
      return;
    }
    const base = path.slice(path.lastIndexOf("/") + 1);
    if (base.startsWith(".wh.") && base !== ".wh..wh..opq") {
      const target = base.slice(4);
      if (target === "" || target === "." || target === ".." || target.startsWith(".wh.")) {
        this.report("error", "layer-whiteout-invalid", `whiteout "${show(raw)}" names no valid path`);
      }
    }
    if ((header.type === "link" || header.type === "symlink") && header.linkname) {
      this.checkLink(raw, path, header.type, header.linkname);
    }
    const previous = this.seen.get(path);
    if (previous !== undefined) {
      this.report(
        "error",
        "layer-duplicate-path",
        `the path "${show(path)}" is in the layer twice (a ${previous}, then a ${header.type}); layer.md forbids it`,
      );
    }
    this.seen.set(path, header.type);
  }

  private checkLink(raw: string, path: string, type: string, linkname: string): void {
    if (type === "link") {
      const target = normalizeEntryPath(linkname);
      if (target === undefined)
        return this.report(
          "error",
          "layer-link-unsafe",
          `hard link "${show(raw)}" points at "${show(linkname)}", outside the root`,
        );
      if (this.seen.get(target) === "directory")
        this.report(
          "error",
          "layer-hardlink-invalid",
          `hard link "${show(raw)}" points at the directory "${show(linkname)}"`,
        );
      if (target === path) this.report("error", "layer-hardlink-invalid", `hard link "${show(raw)}" points at itself`);
    }
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

function show(text: string): string {
  const printable = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return printable.length > 200 ? `${printable.slice(0, 197)}...` : printable;
}

/**
 * The path an entry name stands for: `./a`, `a`, `a/`, `/a` and `a//b/.` are
 * one path each; undefined when a `..` component would climb out of the root.
 */
export function normalizeEntryPath(name: string): string | undefined {
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  return parts.includes("..") ? undefined : parts.join("/");
}
