/**
 * validate's walk over what the refs reach, breadth first, each blob looked at
 * once: present, in the layout, the right size; documents (indexes, manifests,
 * configs) read verified and checked against their schema and rules; layers
 * and other blobs noted to be read later. A descriptor whose media type names
 * a document kind must point at a document of that kind, wherever it sits.
 */
import { digestProblem, isRegisteredAlgorithm } from "../image/digest.js";
import { MAX_INDEX_DEPTH } from "../image/index-depth.js";
import { MediaType, isIndexMediaType, isManifestMediaType, layerCompressionOf } from "../image/media-types.js";
import type { Descriptor } from "../image/types.js";
import type { BlobStore } from "../layout/blob-store.js";
import type { Problem } from "../schema/problem.js";
import { sizeProblem } from "../schema/descriptor-rules.js";
import { isObject } from "../schema/json-value.js";
import { checkDocument, detectKind, parseDocument, type DocumentKind } from "../schema/validate-document.js";
import { blobState, checkBlobState, readBlobDocument, type BlobState, type Place } from "./blob-files.js";
import type { Report } from "./findings.js";
import type { DiffIdExpectation } from "./layer-check.js";

/** One reference to a blob: the descriptor and where it was found. */
export interface Reference extends Place {
  descriptor: Descriptor;
  role: "entry" | "config" | "layer" | "subject";
  /** Indexes above it (0 or none: index.json's entries). */
  depth?: number;
}

export interface ImageRecord {
  manifestDigest: string;
  layers: unknown[];
  configDigest?: string;
}

export interface WalkResult {
  states: Map<string, BlobState>;
  reached: Set<string>;
  layerJobs: Map<string, { descriptor: Descriptor; expectations: DiffIdExpectation[] }>;
  hashJobs: Map<string, Descriptor>;
  images: ImageRecord[];
  configs: Map<string, unknown>;
}

export async function walkDocuments(
  store: BlobStore,
  roots: Reference[],
  report: Report,
  problems: Problem[],
  signal?: AbortSignal,
): Promise<WalkResult> {
  const walk: WalkResult = {
    states: new Map(),
    reached: new Set(),
    layerJobs: new Map(),
    hashJobs: new Map(),
    images: [],
    configs: new Map(),
  };
  const documents = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    signal?.throwIfAborted();
    const reference = queue.shift()!;
    const descriptor = usableDescriptor(reference.descriptor);
    if (!descriptor) continue;
    walk.reached.add(descriptor.digest);
    if (!isRegisteredAlgorithm(descriptor.digest)) continue;
    const state = await blobState(store, descriptor.digest, walk.states);
    if (state.kind === "missing") {
      reportMissing(reference, report);
      continue;
    }
    if (!checkBlobState(state, descriptor, reference, report)) continue;
    const kind = documentKind(descriptor.mediaType);
    if (kind === undefined) {
      noteBlob(walk, reference);
      continue;
    }
    if (kind === "index" && (reference.depth ?? 0) >= MAX_INDEX_DEPTH) {
      const message = `image indexes nest deeper than ${MAX_INDEX_DEPTH}; ${descriptor.digest} is not read`;
      report(reference.where, reference.pointer, "index-too-deep", message);
      continue;
    }
    const key = `${kind} ${descriptor.digest}`;
    if (documents.has(key)) continue;
    documents.add(key);
    const value = await readDocument(store, reference, kind, report, problems);
    if (value !== undefined) queue.push(...followDocument(walk, reference, kind, value));
  }
  return walk;
}

/** The descriptor when its digest and size are usable; malformed ones were reported by their document's rules. */
function usableDescriptor(descriptor: unknown): Descriptor | undefined {
  if (!isObject(descriptor) || typeof descriptor.digest !== "string") return undefined;
  if (digestProblem(descriptor.digest) || sizeProblem(descriptor.size)) return undefined;
  return descriptor as unknown as Descriptor;
}

/** What a blob must be parsed as, from its media type alone (not from where the descriptor sits). */
function documentKind(mediaType: unknown): DocumentKind | undefined {
  if (mediaType === MediaType.ociConfig || mediaType === MediaType.dockerConfig) return "config";
  if (typeof mediaType !== "string") return undefined;
  if (isIndexMediaType(mediaType)) return "index";
  if (isManifestMediaType(mediaType)) return "manifest";
  return undefined;
}

function reportMissing(reference: Reference, report: Report): void {
  const { descriptor, where, pointer } = reference;
  // A subject need not be in the layout (image-spec: it may live elsewhere).
  if (reference.role === "subject") return;
  if (reference.role === "layer" && Array.isArray(descriptor.urls) && descriptor.urls.length > 0) {
    const message = `blob ${descriptor.digest} is not in the layout; its descriptor lists urls to fetch it from`;
    report(where, pointer, "blob-external", message, "warning");
    return;
  }
  const file = `blobs/${descriptor.digest.replace(":", "/")}`;
  report(where, pointer, "blob-missing", `blob ${descriptor.digest} is not in the layout (${file})`);
}

/** A blob that is not a document: a layer to read through, or a blob to hash. */
function noteBlob(walk: WalkResult, reference: Reference): void {
  const { descriptor } = reference;
  const mediaType = typeof descriptor.mediaType === "string" ? descriptor.mediaType : "";
  if (reference.role === "layer" && layerCompressionOf(mediaType)) {
    if (!walk.layerJobs.has(descriptor.digest)) walk.layerJobs.set(descriptor.digest, { descriptor, expectations: [] });
  } else {
    walk.hashJobs.set(descriptor.digest, descriptor);
  }
}

/**
 * Reads and checks a document blob; its value when it is an object of the kind
 * its descriptor names. A document of another kind (by its own mediaType, else
 * by its shape) is reported as such and not checked or followed as the wrong kind.
 */
async function readDocument(
  store: BlobStore,
  reference: Reference,
  kind: DocumentKind,
  report: Report,
  problems: Problem[],
): Promise<Record<string, unknown> | undefined> {
  const { descriptor } = reference;
  const bytes = await readBlobDocument(store, descriptor, reference, report);
  if (!bytes) return undefined;
  const parsed = parseDocument(bytes, descriptor.digest);
  if ("problem" in parsed) {
    problems.push(parsed.problem);
    return undefined;
  }
  const value = parsed.value;
  const descriptorSays = `its descriptor (${reference.where} ${reference.pointer})`;
  if (isObject(value) && typeof value.mediaType === "string" && value.mediaType !== descriptor.mediaType) {
    const says = `${descriptorSays} says ${descriptor.mediaType}`;
    report(
      descriptor.digest,
      "/mediaType",
      "media-type-mismatch",
      `the document's mediaType is ${value.mediaType}, but ${says}`,
    );
    return undefined;
  }
  const actual = detectKind(value);
  if (actual !== undefined && actual !== "ambiguous" && actual !== kind) {
    const message = `the blob is ${article(actual)}, but ${descriptorSays} has media type ${descriptor.mediaType}`;
    report(descriptor.digest, "", "descriptor-kind-mismatch", message);
    return undefined;
  }
  const checked = await checkDocument(kind, value, { where: descriptor.digest });
  problems.push(...checked.problems);
  return isObject(checked.value) ? checked.value : undefined;
}

function article(kind: DocumentKind): string {
  const names: Record<DocumentKind, string> = {
    manifest: "an image manifest",
    index: "an image index",
    config: "an image config",
    descriptor: "a descriptor",
    "oci-layout": "an oci-layout file",
  };
  return names[kind];
}

/** Notes what a document holds and returns the references it makes. */
function followDocument(
  walk: WalkResult,
  reference: Reference,
  kind: DocumentKind,
  value: Record<string, unknown>,
): Reference[] {
  const digest = reference.descriptor.digest;
  const depth = (reference.depth ?? 0) + (kind === "index" ? 1 : 0);
  const next: Reference[] = [];
  const refer = (descriptor: unknown, pointer: string, role: Reference["role"]) =>
    next.push({ descriptor: descriptor as Descriptor, where: digest, pointer, role, depth });
  if (isObject(value.subject)) refer(value.subject, "/subject", "subject");
  if (kind === "index" && Array.isArray(value.manifests)) {
    value.manifests.forEach((child, i) => refer(child, `/manifests/${i}`, "entry"));
  } else if (kind === "manifest") {
    const image: ImageRecord = { manifestDigest: digest, layers: Array.isArray(value.layers) ? value.layers : [] };
    if (isObject(value.config)) {
      image.configDigest = typeof value.config.digest === "string" ? value.config.digest : undefined;
      refer(value.config, "/config", "config");
    }
    image.layers.forEach((layer, i) => refer(layer, `/layers/${i}`, "layer"));
    walk.images.push(image);
  } else if (kind === "config") {
    walk.configs.set(digest, value);
  }
  return next;
}
