/** Reading a whole (small) answer: capped while reading, and under the throughput floor. */
import { RegistryError } from "../../errors.js";
import { guardedChunks, type Body } from "./stall.js";

/** Reads a whole body, refusing it once it passes `limit` bytes (stops reading there). */
export async function readLimitedBytes(body: Body, limit: number, what: string, timeoutMs = 30_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of guardedChunks(body, timeoutMs)) {
      size += chunk.length;
      if (size > limit)
        throw new RegistryError(
          "DOCUMENT_TOO_LARGE",
          `${what}: the answer is over the ${limit}-byte limit; stopped reading`,
        );
      chunks.push(chunk);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}

export async function readLimited(body: Body, limit: number, what: string, timeoutMs?: number): Promise<string> {
  return (await readLimitedBytes(body, limit, what, timeoutMs)).toString("utf8");
}
