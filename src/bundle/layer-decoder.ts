/**
 * Layers decoded on a worker thread: reading the blob, hashing it, inflating
 * it and hashing the tar happen there, so the main thread only parses the tar
 * and writes files, and inflating runs ahead while it does. One worker serves
 * the layers of one unpack, one layer at a time. A layer's tar stream ends
 * only after its blob digest and diff_id were found right; otherwise it errors
 * with the same error the main thread would have raised.
 */
import { Worker } from "node:worker_threads";
import { OciImageError, errorFromCode, type ErrorCode } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import type { LayerTar } from "../layer/layer-reader.js";
import { PacedTarStream } from "./paced-tar-stream.js";

export type DecoderRequest =
  | {
      type: "decode";
      layer: number;
      layout: string;
      descriptor: Descriptor;
      expectedDiffId?: string;
      maxUncompressedBytes?: number;
    }
  /** The main thread took this many bytes of that layer: the worker may send as many more. */
  | { type: "taken"; layer: number; bytes: number };

export type DecoderReply =
  | { type: "data"; chunk: Uint8Array }
  | { type: "end"; diffId: string; size: number }
  /** An error crosses the thread boundary as its code; the main thread rebuilds its class from that. */
  | { type: "error"; code: ErrorCode; message: string; where?: string };

export interface DecodeOptions {
  expectedDiffId?: string;
  maxUncompressedBytes?: number;
}

/** The layer being decoded: what to do with the worker's replies. */
interface LayerInFlight {
  data(chunk: Uint8Array): void;
  end(reply: { diffId: string; size: number }): void;
  fail(error: Error): void;
}

export class LayerDecoder {
  private readonly worker: Worker;
  private current?: LayerInFlight;
  private layers = 0;

  constructor(private readonly layoutRoot: string) {
    this.worker = new Worker(new URL("./layer-decoder-worker.js", import.meta.url));
    this.worker.on("message", (reply: DecoderReply) => this.receive(reply));
    this.worker.on("error", (error) =>
      this.current?.fail(
        new OciImageError("LAYER_DECODER_FAILED", `the layer decoder thread failed: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    this.worker.on("exit", (code) =>
      this.current?.fail(new OciImageError("LAYER_DECODER_FAILED", `the layer decoder thread exited (status ${code})`)),
    );
  }

  /** The verified tar of one layer; the previous one must have ended. */
  decode(descriptor: Descriptor, options: DecodeOptions = {}): LayerTar {
    if (this.current) throw new Error("LayerDecoder: one layer at a time");
    const layer = ++this.layers;
    const send = (request: DecoderRequest) => this.worker.postMessage(request);
    const stream = new PacedTarStream((bytes) => send({ type: "taken", layer, bytes }));
    let size = 0;
    let diffId: string | undefined;
    this.current = {
      data: (chunk) => {
        const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buffer.length;
        stream.add(buffer);
      },
      end: (reply) => {
        this.current = undefined;
        diffId = reply.diffId;
        size = reply.size;
        stream.end();
      },
      fail: (error) => {
        this.current = undefined;
        stream.fail(error);
      },
    };
    send({
      type: "decode",
      layer,
      layout: this.layoutRoot,
      descriptor: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
      ...options,
    });
    return {
      tar: stream.tar,
      diffId: () => {
        if (diffId === undefined) throw new Error("LayerDecoder: the diff_id is known once the tar has ended");
        return diffId;
      },
      uncompressedSize: () => size,
    };
  }

  /** Stops the worker, also in the middle of a layer (its tar is left as it is). */
  async close(): Promise<void> {
    this.current = undefined;
    await this.worker.terminate();
  }

  private receive(reply: DecoderReply): void {
    if (reply.type === "data") this.current?.data(reply.chunk);
    else if (reply.type === "end") this.current?.end(reply);
    else this.current?.fail(errorFromCode(reply.code, reply.message, { where: reply.where }));
  }
}
