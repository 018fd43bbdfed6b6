/**
 * A directory as a compressed layer stream, with the diff_id (sha256 of the
 * uncompressed tar) computed in the same pass; the layer digest is computed
 * by whoever stores the compressed bytes.
 */
import { availableParallelism } from "node:os";
import type { Readable, Transform } from "node:stream";
import { InvalidSettingError } from "../errors.js";
import { DigestingStream } from "../image/digest.js";
import { MediaType, type LayerCompression } from "../image/media-types.js";
import { createCompressor } from "./codecs.js";
import { ParallelGzip } from "./parallel-gzip.js";
import { createLayerTar, type LayerTarOptions } from "./tar-writer.js";

export interface LayerWriteOptions extends LayerTarOptions {
  compression?: LayerCompression;
  level?: number;
}

export interface LayerStream {
  /** The compressed layer. */
  stream: Readable;
  mediaType: string;
  /** sha256 of the uncompressed tar; valid once `stream` has ended. */
  diffId(): string;
  uncompressedSize(): number;
}

const LEVELS: Record<LayerCompression, [number, number] | undefined> = { gzip: [0, 9], zstd: [1, 22], none: undefined };

/** Checks the compression, and the level against it; an InvalidSettingError naming the one that doesn't fit. */
export function checkCompressionLevel(compression: LayerCompression, level: number | undefined): void {
  if (!Object.hasOwn(LEVELS, compression))
    throw new InvalidSettingError("compression", `must be gzip, zstd or none, not "${String(compression)}"`);
  if (level === undefined) return;
  const range = LEVELS[compression];
  if (!range) throw new InvalidSettingError("level", `does not apply to compression ${compression}`);
  if (!Number.isInteger(level) || level < range[0] || level > range[1]) {
    throw new InvalidSettingError(
      "level",
      `for ${compression} must be a whole number from ${range[0]} to ${range[1]}, not ${level}`,
    );
  }
}

export function layerMediaType(compression: LayerCompression): string {
  return { gzip: MediaType.ociLayerGzip, zstd: MediaType.ociLayerZstd, none: MediaType.ociLayer }[compression];
}

/** A compressor for layers: gzip as parallel members (one per few MB, on every core), else the codec's stream. */
export function createLayerCompressor(compression: LayerCompression, level?: number): Transform {
  if (compression === "gzip") return new ParallelGzip({ level, concurrency: Math.max(2, 2 * availableParallelism()) });
  return createCompressor(compression, level);
}

export function createLayerStream(root: string, options: LayerWriteOptions = {}): LayerStream {
  const compression = options.compression ?? "gzip";
  checkCompressionLevel(compression, options.level);
  const tar = createLayerTar(root, options);
  const digesting = new DigestingStream("sha256");
  const compressor = createLayerCompressor(compression, options.level);
  const fail = (error: Error) => compressor.destroy(error);
  tar.on("error", fail);
  digesting.on("error", fail);
  // When the consumer stops early (error, abort), stop walking the tree too.
  compressor.on("close", () => {
    if (!tar.readableEnded) tar.destroy();
    digesting.destroy();
  });
  // The walk may fail before the consumer starts reading (it opens a file
  // first): the stream keeps the error and the consumer's read throws it.
  compressor.on("error", () => {});
  tar.pipe(digesting).pipe(compressor);
  return {
    stream: compressor,
    mediaType: layerMediaType(compression),
    diffId: () => digesting.digest(),
    uncompressedSize: () => digesting.size,
  };
}
