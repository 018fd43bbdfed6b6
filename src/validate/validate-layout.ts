/**
 * Validating a whole OCI image layout: `oci-layout`, `index.json`, and every
 * blob the refs reach (present, inside the layout, size, digest, media type
 * against content, documents against the schemas and rules), then every layer
 * read once in a small pool (compression, tar, duplicate paths, diff_id), then
 * blobs nothing reaches. Problems are collected, never thrown (a file system
 * failure is a finding too); the walk never joins a digest into a path before
 * the digest has been checked.
 */
import { join, resolve } from "node:path";
import { digestProblem } from "../image/digest.js";
import { REF_NAME_ANNOTATION, type Descriptor } from "../image/types.js";
import { BlobStore } from "../layout/blob-store.js";
import { ProblemList, hasErrors, type Problem } from "../schema/problem.js";
import { isObject } from "../schema/json-value.js";
import { checkImage } from "../schema/rules.js";
import { checkDocument } from "../schema/validate-document.js";
import { runLimited } from "../util/concurrency.js";
import { readLayoutFile, verifyBlob } from "./blob-files.js";
import { walkDocuments, type Reference, type WalkResult } from "./document-walk.js";
import { reportInto, type Report } from "./findings.js";
import { checkLayer } from "./layer-check.js";
import { reportUnreferenced } from "./unreferenced-blobs.js";

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

export async function validateLayout(path: string, options: ValidateLayoutOptions = {}): Promise<LayoutReport> {
  const root = resolve(path);
  const shown = options.name ?? path;
  const problems: Problem[] = [];
  const report = reportInto(problems);
  const result = (refs: string[] = [], blobs = 0, layers = 0): LayoutReport => ({
    path: shown,
    valid: !hasErrors(problems),
    problems,
    refs,
    blobs,
    layers,
  });

  const index = await readTopDocuments(root, shown, report, problems);
  if (!isObject(index) || !Array.isArray(index.manifests)) return result();
  const indexName = join(shown, "index.json");
  const entries = index.manifests.map((descriptor, i): Reference => {
    return {
      descriptor: descriptor as Reference["descriptor"],
      where: indexName,
      pointer: `/manifests/${i}`,
      role: "entry",
    };
  });
  const refs = entries.map((entry) => refNameOfUnknown(entry.descriptor)).filter((name) => name !== undefined);
  checkDuplicateRefs(refs, indexName, report);
  let roots = entries;
  if (options.tag !== undefined) {
    roots = entries.filter((entry) => refNameOfUnknown(entry.descriptor) === options.tag);
    if (roots.length === 0) {
      const known = refs.length ? `; refs: ${refs.join(", ")}` : " (it has no refs)";
      report(indexName, "", "ref-unknown", `no ref "${options.tag}" in ${indexName}${known}`);
      return result(refs);
    }
  }
  if (isObject(index.subject))
    roots.push({ descriptor: index.subject as never, where: indexName, pointer: "/subject", role: "subject" });

  const store = new BlobStore(root);
  const walk = await walkDocuments(store, roots, report, problems, options.signal);
  matchConfigs(walk, problems);
  const layersRead = options.fast ? 0 : await readBlobs(store, walk, problems, options);
  if (options.tag === undefined) await reportUnreferenced(root, shown, walk.reached, report);
  return result(refs, walk.states.size, layersRead);
}

/** `oci-layout` and `index.json`: each reported when missing, unreadable or invalid; the index's value. */
async function readTopDocuments(root: string, shown: string, report: Report, problems: Problem[]): Promise<unknown> {
  const markerName = join(shown, "oci-layout");
  const marker = await readLayoutFile(join(root, "oci-layout"), markerName, report);
  if (marker === "missing")
    report(markerName, "", "layout-missing", `${shown} is not an OCI image layout: it has no oci-layout file`);
  else if (marker) problems.push(...(await checkDocument("oci-layout", marker, { where: markerName })).problems);
  const indexName = join(shown, "index.json");
  const indexFile = await readLayoutFile(join(root, "index.json"), indexName, report);
  if (indexFile === "missing") report(indexName, "", "index-missing", `${shown} has no index.json`);
  if (!indexFile || indexFile === "missing") return undefined;
  const checked = await checkDocument("index", indexFile, { where: indexName });
  problems.push(...checked.problems);
  return checked.value;
}

/** Manifest against config: one diff_id per layer; each layer's expected diff_id. */
function matchConfigs(walk: WalkResult, problems: Problem[]): void {
  for (const image of walk.images) {
    const config = image.configDigest ? walk.configs.get(image.configDigest) : undefined;
    if (!isObject(config)) continue;
    const list = new ProblemList(image.configDigest!);
    checkImage({ layers: image.layers }, config, list);
    problems.push(...list.problems);
    const diffIds = isObject(config.rootfs) && Array.isArray(config.rootfs.diff_ids) ? config.rootfs.diff_ids : [];
    image.layers.forEach((layer, i) => {
      const diffId = diffIds[i];
      if (!isObject(layer) || typeof layer.digest !== "string" || typeof diffId !== "string" || digestProblem(diffId))
        return;
      const expectation = { diffId, where: image.configDigest!, pointer: `/rootfs/diff_ids/${i}` };
      walk.layerJobs.get(layer.digest)?.expectations.push(expectation);
    });
  }
}

/** Layers and other blobs: each read once, a few at a time; returns the number of layers read. */
async function readBlobs(
  store: BlobStore,
  walk: WalkResult,
  problems: Problem[],
  options: ValidateLayoutOptions,
): Promise<number> {
  let layersRead = 0;
  const jobs: (() => Promise<Problem[]>)[] = [];
  options.onLayersPlanned?.([...walk.layerJobs.values()].map((job) => job.descriptor));
  const { onLayerBytes } = options;
  for (const job of walk.layerJobs.values()) {
    const onBytes = onLayerBytes && ((bytes: number) => onLayerBytes(job.descriptor.digest, bytes));
    jobs.push(async () => {
      const checked = await checkLayer(store, job.descriptor, job.expectations, options.signal, onBytes);
      layersRead++;
      options.onLayer?.(job.descriptor.digest, checked.uncompressedBytes);
      return checked.problems;
    });
  }
  for (const descriptor of walk.hashJobs.values()) {
    if (walk.layerJobs.has(descriptor.digest)) continue;
    jobs.push(async () => {
      const failure = await verifyBlob(store, descriptor, options.signal);
      return failure ? [{ where: descriptor.digest, pointer: "", ...failure, severity: "error" as const }] : [];
    });
  }
  // Each job's problems in its own slot, so the report's order does not depend on timing.
  const found = await runLimited(jobs, options.concurrency ?? 3);
  for (const slot of found) problems.push(...slot);
  return layersRead;
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
