/**
 * Looking at blob files for validate: whether each is there, a regular file,
 * inside the layout and readable; reading document blobs verified; streaming
 * other blobs through the verifier. Every file system failure becomes a
 * finding with a rule, never an exception.
 */
import { realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DigestMismatchError, fileSystemErrorOf, ruleOfCode } from "../errors.js";
import { VerifyingStream, verifyBytes } from "../image/digest.js";
import { MAX_DOCUMENT_SIZE } from "../image/json.js";
import type { Descriptor } from "../image/types.js";
import type { BlobStore } from "../layout/blob-store.js";
import type { Report } from "./findings.js";
import { readDocumentFile } from "../layout/read-document-file.js";

export type BlobState =
  | { kind: "missing" }
  | { kind: "not-file" }
  /** A symlink (of the blob or a directory above it) that leads out of the layout. */
  | { kind: "outside"; target: string }
  | { kind: "unreadable"; rule: string; message: string }
  | { kind: "present"; size: number };

/** Where a descriptor was found: the document (or file) and the JSON pointer in it. */
export interface Place {
  where: string;
  pointer: string;
}

/** What a blob file is; each is looked at once (`states` caches it). */
export async function blobState(store: BlobStore, digest: string, states: Map<string, BlobState>): Promise<BlobState> {
  let state = states.get(digest);
  if (!state) {
    state = await lookAtBlob(store, digest);
    states.set(digest, state);
  }
  return state;
}

async function lookAtBlob(store: BlobStore, digest: string): Promise<BlobState> {
  const path = store.blobPath(digest);
  try {
    const info = await stat(path);
    if (!info.isFile()) return { kind: "not-file" };
    const [real, root] = await Promise.all([realpath(path), realpath(store.root)]);
    if (!real.startsWith(root + sep)) return { kind: "outside", target: real };
    return { kind: "present", size: info.size };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    const failure = fileSystemErrorOf(error, path);
    if (!failure) throw error;
    return { kind: "unreadable", rule: ruleOfCode(failure.code), message: failure.message };
  }
}

/** Reports a blob that can't be read as it is; true when it is present, in the layout and the size it should be. */
export function checkBlobState(state: BlobState, descriptor: Descriptor, place: Place, report: Report): boolean {
  const { digest } = descriptor;
  switch (state.kind) {
    case "missing":
      return false;
    case "not-file":
      report(place.where, place.pointer, "blob-not-file", `blob ${digest} is not a regular file; it is not read`);
      return false;
    case "outside":
      report(
        place.where,
        place.pointer,
        "blob-outside-layout",
        `blob ${digest} is a symbolic link to ${state.target}, outside the layout; it is not read ` +
          "(copy the file into the layout instead)",
      );
      return false;
    case "unreadable":
      report(place.where, place.pointer, state.rule, `blob ${digest}: ${state.message}`);
      return false;
    case "present":
      if (state.size === descriptor.size) return true;
      report(
        place.where,
        place.pointer,
        "blob-size",
        `blob ${digest} is ${state.size} bytes, but the descriptor says ${descriptor.size}`,
      );
      return false;
  }
}

/** A document blob, read whole (under the size cap) and checked against its digest before anything parses it. */
export async function readBlobDocument(
  store: BlobStore,
  descriptor: Descriptor,
  place: Place,
  report: Report,
): Promise<Buffer | undefined> {
  const { digest, size } = descriptor;
  if (size > MAX_DOCUMENT_SIZE) {
    const limit = `over the ${MAX_DOCUMENT_SIZE}-byte limit for a document`;
    report(digest, "", "document-too-large", `${digest} declares ${size} bytes, ${limit}`);
    return undefined;
  }
  const file = await readLayoutFile(store.blobPath(digest), digest, report, size);
  if (file === "missing") {
    report(place.where, place.pointer, "blob-missing", `blob ${digest} is not in the layout`);
    return undefined;
  }
  if (file === undefined) return undefined;
  try {
    verifyBytes(file, descriptor);
  } catch (error) {
    if (!(error instanceof DigestMismatchError)) throw error;
    report(digest, "", "blob-digest", `${error.message} (${place.where} ${place.pointer})`);
    return undefined;
  }
  return file;
}

/**
 * A document file of the layout (oci-layout, index.json or a blob): its bytes,
 * "missing", or undefined once a file system failure was reported as a
 * finding under `shown`.
 */
export async function readLayoutFile(
  path: string,
  shown: string,
  report: Report,
  limit?: number,
): Promise<Buffer | "missing" | undefined> {
  try {
    const file = await readDocumentFile(path, limit);
    return file.missing ? "missing" : file.bytes;
  } catch (error) {
    const failure = fileSystemErrorOf(error, path);
    if (!failure) throw error;
    report(shown, "", ruleOfCode(failure.code), failure.message);
    return undefined;
  }
}

/** Streams a blob through the verifier; the finding, or undefined when it matches. */
export async function verifyBlob(
  store: BlobStore,
  descriptor: Descriptor,
  signal?: AbortSignal,
): Promise<{ rule: string; message: string } | undefined> {
  try {
    const blob = await store.openBlob(descriptor, { verify: false });
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await pipeline(blob, new VerifyingStream(descriptor, descriptor.digest), sink, { signal });
    return undefined;
  } catch (error) {
    if (signal?.aborted) throw error;
    const failure = fileSystemErrorOf(error, store.blobPath(descriptor.digest));
    if (failure) return { rule: ruleOfCode(failure.code), message: failure.message };
    return { rule: "blob-digest", message: error instanceof Error ? error.message : String(error) };
  }
}
