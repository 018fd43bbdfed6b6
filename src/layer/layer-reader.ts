/**
 * A layer blob as its uncompressed tar: decompressed by media type, with the
 * tar's digest (the diff_id) computed as it flows and, when expected, checked
 * at the end by the verifier (the stream errors on a mismatch).
 */
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { InvalidContentError, UnsafeLayerError } from "../errors.js";
import { VerifyingStream } from "../image/digest.js";
import { layerCompressionOf } from "../image/media-types.js";
import type { Descriptor } from "../image/types.js";
import { createDecompressor } from "./codecs.js";

export interface LayerReadOptions {
  /** The config's diff_id for this layer; the tar stream errors at its end when it differs. */
  expectedDiffId?: string;
  /** Stop a decompression bomb: fail once the tar grows past this many bytes. */
  maxUncompressedBytes?: number;
}

export interface LayerTar {
  /** The uncompressed tar. */
  tar: Readable;
  /** The diff_id; valid once `tar` has ended. */
  diffId(): string;
  /** Bytes of tar so far. */
  uncompressedSize(): number;
}

/** Wraps a (verified) layer blob stream; refuses media types it cannot decompress. */
export function readLayer(
  blob: Readable,
  descriptor: Pick<Descriptor, "mediaType" | "digest">,
  options: LayerReadOptions = {},
): LayerTar {
  const compression = layerCompressionOf(descriptor.mediaType);
  if (!compression) {
    throw new InvalidContentError(
      "LAYER_MEDIA_TYPE",
      `layer ${descriptor.digest} has media type ${descriptor.mediaType}, which is not a tar layer this tool can read`,
      { where: descriptor.digest },
    );
  }
  const decompressor = createDecompressor(compression);
  // The tar's digest is the diff_id; when the config's is known the verifier checks it at the end.
  const expected = options.expectedDiffId;
  const digesting = new VerifyingStream(
    expected === undefined ? "sha256" : { digest: expected },
    descriptor.digest,
    (actual) => `layer ${descriptor.digest} uncompresses to ${actual}, but the config's diff_id is ${expected}`,
  );
  const guard = new LayerGuard(descriptor.digest, options);
  const fail = (error: Error) => guard.destroy(error);
  blob.on("error", fail);
  decompressor.on("error", (error) =>
    fail(
      new InvalidContentError(
        "LAYER_CORRUPT",
        `layer ${descriptor.digest} does not decompress as ${compression}: ${error.message}`,
        { where: descriptor.digest, cause: error },
      ),
    ),
  );
  digesting.on("error", fail);
  blob.pipe(decompressor).pipe(digesting).pipe(guard);
  return { tar: guard, diffId: () => digesting.digest(), uncompressedSize: () => digesting.size };
}

/** Enforces the size budget while bytes flow. */
class LayerGuard extends Transform {
  private bytes = 0;
  constructor(
    private readonly layerDigest: string,
    private readonly options: LayerReadOptions,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    const max = this.options.maxUncompressedBytes;
    if (max !== undefined && this.bytes > max) {
      callback(
        new UnsafeLayerError("LAYER_TOO_LARGE", `layer ${this.layerDigest} decompresses to more than ${max} bytes`, {
          where: this.layerDigest,
        }),
      );
      return;
    }
    callback(null, chunk);
  }
}
