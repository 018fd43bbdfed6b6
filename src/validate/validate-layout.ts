/**
 * Validating a whole OCI image layout: `oci-layout`, `index.json`, and every
 * blob the refs reach (present, size, digest, media type against content,
 * documents against the schemas and rules), then every layer read once in a
 * small pool (compression, tar, duplicate paths, diff_id), then blobs nothing
 * reaches. Problems are collected, never thrown; the walk never joins a digest
 * into a path before the digest has been checked.
 */
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  VerifyingStream,
  digestOf,
  digestProblem,
  isRegisteredAlgorithm,
  type DigestAlgorithm,
} from "../image/digest.js";
import { MAX_DOCUMENT_SIZE } from "../image/json.js";
import { MediaType, isIndexMediaType, isManifestMediaType, layerCompressionOf } from "../image/media-types.js";
import { REF_NAME_ANNOTATION, type Descriptor } from "../image/types.js";
import { BlobStore } from "../layout/blob-store.js";
import { ProblemList, hasErrors, type Problem } from "../schema/problem.js";
import { checkImage, isObject, sizeProblem } from "../schema/rules.js";
import { checkDocument, type DocumentKind } from "../schema/validate-document.js";
import { checkLayer, type DiffIdExpectation } from "./layer-check.js";
import { runPool } from "./pool.js";
import { readDocumentFile } from "./read-document-file.js";

export interface ValidateLayoutOptions {
  /** Validate only the image(s) this ref names. */
  tag?: string;
  /** Skip re-hashing and reading layer (and other non-document) blobs; sizes are still checked. */
  fast?: boolean;
  /** Layers checked at once (default 3). */
  concurrency?: number;
  signal?: AbortSignal;
  /** How the layout is named in problems (default: `path`). */
  name?: string;
  /** Called as each layer has been read, e.g. for progress. */
  onLayer?: (digest: string, uncompressedBytes: number) => void;
  /** The layers that will be read, before the first is (for progress). */
  onLayersPlanned?: (layers: readonly Descriptor[]) => void;
  /** A layer blob's bytes read so far (for progress). */
  onLayerBytes?: (digest: string, bytesRead: number) => void;
}

export interface LayoutReport {
  path: string;
  valid: boolean;
  problems: Problem[];
  refs: string[];
  /** Blobs reached and checked. */
  blobs: number;
  /** Layers read through (0 with `fast`). */
  layers: number;
}

/** One reference to a blob: the descriptor and where it was found. */
interface Reference {
  descriptor: Descriptor;
  where: string;
  pointer: string;
  role: "entry" | "config" | "layer";
}

interface ImageRecord {
  manifestDigest: string;
  layers: unknown[];
  configDigest?: string;
}

type BlobState = { kind: "missing" } | { kind: "not-file" } | { kind: "present"; size: number };

export async function validateLayout(path: string, options: ValidateLayoutOptions = {}): Promise<LayoutReport> {
  const root = resolve(path);
  const shown = options.name ?? path;
  const store = new BlobStore(root);
  const problems: Problem[] = [];
  const report = (
    where: string,
    pointer: string,
    rule: string,
    message: string,
    severity: Problem["severity"] = "error",
  ) => problems.push({ where, pointer, rule, message, severity });
  const result = (refs: string[] = [], blobs = 0, layers = 0): LayoutReport => ({
    path: shown,
    valid: !hasErrors(problems),
    problems,
    refs,
    blobs,
    layers,
  });

  // oci-layout and index.json.
  const markerName = join(shown, "oci-layout");
  const marker = await readDocumentFile(join(root, "oci-layout"));
  if (marker.missing)
    report(markerName, "", "layout-missing", `${shown} is not an OCI image layout: it has no oci-layout file`);
  else problems.push(...(await checkDocument("oci-layout", marker.bytes, { where: markerName })).problems);
  const indexName = join(shown, "index.json");
  const indexFile = await readDocumentFile(join(root, "index.json"));
  if (indexFile.missing) {
    report(indexName, "", "index-missing", `${shown} has no index.json`);
    return result();
  }
  const indexResult = await checkDocument("index", indexFile.bytes, { where: indexName });
  problems.push(...indexResult.problems);
  const index = indexResult.value;
  if (!isObject(index) || !Array.isArray(index.manifests)) return result();

  const entries = index.manifests.map((descriptor, i) => ({ descriptor, pointer: `/manifests/${i}` }));
  const refs = entries
    .map((entry) => refNameOfUnknown(entry.descriptor))
    .filter((name): name is string => name !== undefined);
  checkDuplicateRefs(refs, indexName, report);
  let roots = entries;
  if (options.tag !== undefined) {
    roots = entries.filter((entry) => refNameOfUnknown(entry.descriptor) === options.tag);
    if (roots.length === 0) {
      report(
        indexName,
        "",
        "ref-unknown",
        `no ref "${options.tag}" in ${indexName}${refs.length ? `; refs: ${refs.join(", ")}` : " (it has no refs)"}`,
      );
      return result(refs);
    }
  }

  // Walk the documents, breadth first; each blob is looked at once.
  const states = new Map<string, BlobState>();
  const reached = new Set<string>();
  const layerJobs = new Map<string, { descriptor: Descriptor; expectations: DiffIdExpectation[] }>();
  const hashJobs = new Map<string, Descriptor>();
  const images: ImageRecord[] = [];
  const configs = new Map<string, unknown>();
  const documents = new Set<string>();
  const queue: Reference[] = roots.map((entry) => ({
    descriptor: entry.descriptor as Descriptor,
    where: indexName,
    pointer: entry.pointer,
    role: "entry",
  }));
  for (const subject of subjectsOf(index)) reached.add(subject);

  while (queue.length > 0) {
    options.signal?.throwIfAborted();
    const reference = queue.shift()!;
    const descriptor = reference.descriptor;
    // Malformed descriptors were reported by their document's rules; their digests go nowhere near a path.
    if (
      !isObject(descriptor) ||
      typeof descriptor.digest !== "string" ||
      digestProblem(descriptor.digest) ||
      sizeProblem(descriptor.size)
    )
      continue;
    const digest = descriptor.digest;
    reached.add(digest);
    if (!isRegisteredAlgorithm(digest)) continue;
    const state = await blobState(store, digest, states);
    const mediaType = typeof descriptor.mediaType === "string" ? descriptor.mediaType : "";
    if (state.kind === "missing") {
      const external = reference.role === "layer" && Array.isArray(descriptor.urls) && descriptor.urls.length > 0;
      if (external)
        report(
          reference.where,
          reference.pointer,
          "blob-external",
          `blob ${digest} is not in the layout; its descriptor lists urls to fetch it from`,
          "warning",
        );
      else
        report(
          reference.where,
          reference.pointer,
          "blob-missing",
          `blob ${digest} is not in the layout (blobs/${digest.replace(":", "/")})`,
        );
      continue;
    }
    if (state.kind === "not-file") {
      report(
        reference.where,
        reference.pointer,
        "blob-not-file",
        `blob ${digest} is not a regular file; it is not read`,
      );
      continue;
    }
    if (state.size !== descriptor.size) {
      report(
        reference.where,
        reference.pointer,
        "blob-size",
        `blob ${digest} is ${state.size} bytes, but the descriptor says ${descriptor.size}`,
      );
      continue;
    }
    const kind = documentKind(reference.role, mediaType);
    if (kind === undefined) {
      if (reference.role === "layer" && layerCompressionOf(mediaType)) {
        const job = layerJobs.get(digest) ?? { descriptor, expectations: [] };
        layerJobs.set(digest, job);
      } else if (!documents.has(digest)) {
        hashJobs.set(digest, descriptor);
      }
      continue;
    }
    if (documents.has(digest)) continue;
    documents.add(digest);
    const bytes = await readBlobDocument(store, descriptor, reference, report);
    if (!bytes) continue;
    const checked = await checkDocument(kind, bytes, { where: digest });
    problems.push(...checked.problems);
    const value = checked.value;
    if (!isObject(value)) continue;
    if (typeof value.mediaType === "string" && mediaType !== "" && value.mediaType !== mediaType) {
      report(
        digest,
        "/mediaType",
        "media-type-mismatch",
        `the document's mediaType is ${value.mediaType}, but its descriptor (${reference.where} ${reference.pointer}) says ${mediaType}`,
      );
    }
    if (kind === "index" && Array.isArray(value.manifests)) {
      value.manifests.forEach((child, i) =>
        queue.push({ descriptor: child as Descriptor, where: digest, pointer: `/manifests/${i}`, role: "entry" }),
      );
      for (const subject of subjectsOf(value)) reached.add(subject);
    } else if (kind === "manifest") {
      const image: ImageRecord = { manifestDigest: digest, layers: Array.isArray(value.layers) ? value.layers : [] };
      if (isObject(value.config)) {
        image.configDigest = typeof value.config.digest === "string" ? value.config.digest : undefined;
        queue.push({
          descriptor: value.config as unknown as Descriptor,
          where: digest,
          pointer: "/config",
          role: "config",
        });
      }
      image.layers.forEach((layer, i) =>
        queue.push({ descriptor: layer as Descriptor, where: digest, pointer: `/layers/${i}`, role: "layer" }),
      );
      for (const subject of subjectsOf(value)) reached.add(subject);
      images.push(image);
    } else if (kind === "config") {
      configs.set(digest, value);
    }
  }

  // Manifest against config: one diff_id per layer; each layer's expected diff_id.
  for (const image of images) {
    const config = image.configDigest ? configs.get(image.configDigest) : undefined;
    if (!isObject(config)) continue;
    const list = new ProblemList(image.configDigest!);
    checkImage({ layers: image.layers }, config, list);
    problems.push(...list.problems);
    const diffIds = isObject(config.rootfs) && Array.isArray(config.rootfs.diff_ids) ? config.rootfs.diff_ids : [];
    image.layers.forEach((layer, i) => {
      const diffId = diffIds[i];
      if (!isObject(layer) || typeof layer.digest !== "string" || typeof diffId !== "string" || digestProblem(diffId))
        return;
      layerJobs
        .get(layer.digest)
        ?.expectations.push({ diffId, where: image.configDigest!, pointer: `/rootfs/diff_ids/${i}` });
    });
  }

  // Layers and other blobs: each read once, a few at a time.
  let layersRead = 0;
  if (!options.fast) {
    const concurrency = options.concurrency ?? 3;
    const jobs: (() => Promise<void>)[] = [];
    // Each job's problems go in its own slot, so the report's order does not depend on timing.
    const found: Problem[][] = [];
    options.onLayersPlanned?.([...layerJobs.values()].map((job) => job.descriptor));
    for (const job of layerJobs.values()) {
      const slot: Problem[] = [];
      found.push(slot);
      jobs.push(async () => {
        const { onLayerBytes } = options;
        const onBytes = onLayerBytes && ((bytes: number) => onLayerBytes(job.descriptor.digest, bytes));
        const checked = await checkLayer(store, job.descriptor, job.expectations, options.signal, onBytes);
        slot.push(...checked.problems);
        layersRead++;
        options.onLayer?.(job.descriptor.digest, checked.uncompressedBytes);
      });
    }
    for (const descriptor of hashJobs.values()) {
      if (layerJobs.has(descriptor.digest)) continue;
      const slot: Problem[] = [];
      found.push(slot);
      jobs.push(async () => {
        const failure = await verifyBlob(store, descriptor, options.signal);
        if (failure)
          slot.push({
            where: descriptor.digest,
            pointer: "",
            rule: "blob-digest",
            message: failure,
            severity: "error",
          });
      });
    }
    await runPool(jobs, concurrency);
    for (const slot of found) problems.push(...slot);
  }

  if (options.tag === undefined) await reportUnreferenced(root, shown, reached, report);
  return result(refs, states.size, layersRead);
}

/** What a blob is to be parsed as, from where it is referenced and its media type. */
function documentKind(role: Reference["role"], mediaType: string): DocumentKind | undefined {
  if (role === "layer") return undefined;
  if (role === "config")
    return mediaType === MediaType.ociConfig || mediaType === MediaType.dockerConfig ? "config" : undefined;
  if (isIndexMediaType(mediaType)) return "index";
  if (isManifestMediaType(mediaType)) return "manifest";
  return undefined;
}

async function blobState(store: BlobStore, digest: string, states: Map<string, BlobState>): Promise<BlobState> {
  let state = states.get(digest);
  if (!state) {
    try {
      const info = await stat(store.blobPath(digest));
      state = info.isFile() ? { kind: "present", size: info.size } : { kind: "not-file" };
    } catch {
      state = { kind: "missing" };
    }
    states.set(digest, state);
  }
  return state;
}

type Report = (where: string, pointer: string, rule: string, message: string, severity?: Problem["severity"]) => void;

/** A document blob, read whole (under the size cap) and checked against its digest before anything parses it. */
async function readBlobDocument(
  store: BlobStore,
  descriptor: Descriptor,
  reference: Reference,
  report: Report,
): Promise<Buffer | undefined> {
  if (descriptor.size > MAX_DOCUMENT_SIZE) {
    report(
      descriptor.digest,
      "",
      "document-too-large",
      `${descriptor.digest} declares ${descriptor.size} bytes, over the ${MAX_DOCUMENT_SIZE}-byte limit for a document`,
    );
    return undefined;
  }
  const file = await readDocumentFile(store.blobPath(descriptor.digest), descriptor.size);
  if (file.missing) {
    report(reference.where, reference.pointer, "blob-missing", `blob ${descriptor.digest} is not in the layout`);
    return undefined;
  }
  const actual = digestOf(file.bytes, descriptor.digest.slice(0, descriptor.digest.indexOf(":")) as DigestAlgorithm);
  if (file.bytes.length !== descriptor.size || actual !== descriptor.digest) {
    report(
      descriptor.digest,
      "",
      "blob-digest",
      `content digest is ${actual}, but its descriptor (${reference.where} ${reference.pointer}) says ${descriptor.digest}`,
    );
    return undefined;
  }
  return file.bytes;
}

/** Streams a blob through its digest check; the failure message, or undefined when it matches. */
async function verifyBlob(store: BlobStore, descriptor: Descriptor, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const blob = await store.openBlob(descriptor, { verify: false });
    const verifying = new VerifyingStream(descriptor, descriptor.digest);
    const { pipeline } = await import("node:stream/promises");
    const { Writable } = await import("node:stream");
    await pipeline(blob, verifying, new Writable({ write: (_chunk, _encoding, callback) => callback() }), { signal });
    return undefined;
  } catch (error) {
    if (signal?.aborted) throw error;
    return error instanceof Error ? error.message : String(error);
  }
}

function refNameOfUnknown(descriptor: unknown): string | undefined {
  if (!isObject(descriptor) || !isObject(descriptor.annotations)) return undefined;
  const name = descriptor.annotations[REF_NAME_ANNOTATION];
  return typeof name === "string" ? name : undefined;
}

function checkDuplicateRefs(refs: string[], where: string, report: Report): void {
  const seen = new Set<string>();
  for (const ref of refs) {
    if (seen.has(ref))
      report(
        where,
        "",
        "ref-name-duplicate",
        `ref "${ref}" names more than one entry; tools pick different ones`,
        "warning",
      );
    seen.add(ref);
  }
}

function subjectsOf(document: Record<string, unknown>): string[] {
  return isObject(document.subject) && typeof document.subject.digest === "string" ? [document.subject.digest] : [];
}

/** Blobs nothing reaches are allowed (image-layout.md), but worth a warning; odd names too. */
async function reportUnreferenced(root: string, path: string, reached: Set<string>, report: Report): Promise<void> {
  let algorithms: string[];
  try {
    algorithms = await readdir(join(root, "blobs"));
  } catch {
    report(join(path, "blobs"), "", "blobs-missing", `${path} has no blobs directory`, "warning");
    return;
  }
  for (const algorithm of algorithms.sort()) {
    let names: string[];
    try {
      names = await readdir(join(root, "blobs", algorithm));
    } catch {
      report(
        join(path, "blobs", algorithm),
        "",
        "blob-name-invalid",
        `blobs/${algorithm} is not a directory of blobs`,
        "warning",
      );
      continue;
    }
    for (const name of names.sort()) {
      const digest = `${algorithm}:${name}`;
      if (digestProblem(digest))
        report(
          join(path, "blobs", algorithm, name),
          "",
          "blob-name-invalid",
          `blobs/${algorithm}/${name} is not named by a digest`,
          "warning",
        );
      else if (!reached.has(digest))
        report(digest, "", "blob-unreferenced", `blob ${digest} is not reachable from index.json`, "warning");
    }
  }
}
