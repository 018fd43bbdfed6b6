/**
 * Layer compression codecs: gzip from Node's zlib, zstd from Node's zlib when
 * the running Node has it (22.15+), else from zstd-napi (Node 20 has none).
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { PassThrough, type Transform } from "node:stream";
import * as zlib from "node:zlib";
import { OciImageError } from "../errors.js";
import type { LayerCompression } from "../image/media-types.js";

/** zstd's window a decoder accepts; caps the memory one layer can make us allocate (128 MiB). */
const ZSTD_WINDOW_LOG_MAX = 27;

const DECOMPRESSED_CHUNK = 1024 * 1024;
const DECOMPRESSED_BUFFER = 2 * 1024 * 1024;

type ZstdZlib = {
  createZstdCompress?: (options?: { params?: Record<number, number> }) => Transform;
  createZstdDecompress?: (options?: { params?: Record<number, number> }) => Transform;
  constants: Record<string, number>;
};
const nodeZstd = zlib as unknown as ZstdZlib;

/** A stream that decompresses a layer of this compression into its tar. */
export function createDecompressor(compression: LayerCompression): Transform {
  switch (compression) {
    case "none":
      return new PassThrough();
    case "gzip":
      // Multi-member gzip (concatenated members) is a valid layer; zlib reads every member.
      // Large output chunks and buffer: inflating (on the threadpool) runs ahead
      // while the consumer is busy writing files, instead of in lock-step with it.
      return zlib.createGunzip({
        chunkSize: DECOMPRESSED_CHUNK,
        highWaterMark: DECOMPRESSED_BUFFER,
      } as zlib.ZlibOptions);
    case "zstd": {
      if (nodeZstd.createZstdDecompress) {
        const key = nodeZstd.constants.ZSTD_d_windowLogMax;
        return nodeZstd.createZstdDecompress(key === undefined ? {} : { params: { [key]: ZSTD_WINDOW_LOG_MAX } });
      }
      const { DecompressStream } = loadZstdNapi();
      return new DecompressStream({ windowLogMax: ZSTD_WINDOW_LOG_MAX }) as unknown as Transform;
    }
  }
}

/** A stream that compresses a tar into a layer of this compression. */
export function createCompressor(compression: LayerCompression, level?: number): Transform {
  switch (compression) {
    case "none":
      return new PassThrough();
    case "gzip":
      return zlib.createGzip({ level: level ?? zlib.constants.Z_DEFAULT_COMPRESSION, chunkSize: 64 * 1024 });
    case "zstd": {
      // zstd's own threads: the output is the same for any number of workers from 1 up,
      // so builds stay reproducible across machines while using every core.
      const workers = Math.max(1, availableParallelism());
      if (nodeZstd.createZstdCompress) {
        const { ZSTD_c_compressionLevel: levelKey, ZSTD_c_nbWorkers: workersKey } = nodeZstd.constants;
        const params: Record<number, number> = {};
        if (level !== undefined && levelKey !== undefined) params[levelKey] = level;
        if (workersKey !== undefined) params[workersKey] = workers;
        return nodeZstd.createZstdCompress({ params });
      }
      const { CompressStream } = loadZstdNapi();
      return new CompressStream({
        nbWorkers: workers,
        ...(level === undefined ? {} : { compressionLevel: level }),
      }) as unknown as Transform;
    }
  }
}

type ZstdNapi = {
  CompressStream: new (parameters?: { compressionLevel?: number; nbWorkers?: number }) => unknown;
  DecompressStream: new (parameters?: { windowLogMax?: number }) => unknown;
};

let zstdNapi: ZstdNapi | undefined;

function loadZstdNapi(): ZstdNapi {
  if (!zstdNapi) {
    try {
      zstdNapi = createRequire(import.meta.url)("zstd-napi") as ZstdNapi;
    } catch (error) {
      throw new OciImageError(
        "ZSTD_UNAVAILABLE",
        "zstd layers need Node.js 22.15+ or the zstd-napi package (npm install zstd-napi)",
        { cause: error },
      );
    }
  }
  return zstdNapi;
}
