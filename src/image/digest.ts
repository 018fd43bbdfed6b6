/** Digests: the grammar, the registered algorithms, and hashing as bytes flow. */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { DigestMismatchError, InvalidContentError } from "../errors.js";

/** descriptor.md: `algorithm ":" encoded`, algorithm components joined by `+ . _ -`. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Registered algorithms and the exact form of their encoded part. */
const REGISTERED: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export type DigestAlgorithm = "sha256" | "sha512";

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  encoded: string;
}

/**
 * Why `digest` is not a usable digest, or undefined when it is. Grammatical
 * digests of unknown algorithms are reported as "unverifiable" separately, by
 * `isRegisteredAlgorithm`; this returns a problem only for malformed ones and
 * for registered algorithms whose encoded part is wrong (upper case, length).
 */
export function digestProblem(digest: unknown): string | undefined {
  if (typeof digest !== "string") return "a digest must be a string";
  if (!DIGEST_GRAMMAR.test(digest)) return `"${truncate(digest)}" is not a digest (algorithm:encoded)`;
  const [algorithm, encoded] = splitDigest(digest);
  const form = REGISTERED[algorithm];
  if (form && !form.test(encoded)) {
    const length = algorithm === "sha256" ? 64 : 128;
    return `a ${algorithm} digest must be ${length} lower-case hex characters: "${truncate(digest)}"`;
  }
  return undefined;
}

export function isRegisteredAlgorithm(digest: string): boolean {
  return splitDigest(digest)[0] in REGISTERED;
}

/**
 * Parses a digest this tool can verify and store. Throws before the digest can
 * reach a path or a URL when it is malformed or of an unknown algorithm.
 */
export function parseDigest(digest: unknown, where?: string): ParsedDigest {
  const problem = digestProblem(digest);
  if (problem) throw new InvalidContentError("DIGEST_INVALID", problem, { where });
  const [algorithm, encoded] = splitDigest(digest as string);
  if (!(algorithm in REGISTERED)) {
    throw new InvalidContentError(
      "DIGEST_UNSUPPORTED",
      `digest algorithm "${algorithm}" is not supported (sha256, sha512)`,
      { where },
    );
  }
  return { algorithm: algorithm as DigestAlgorithm, encoded };
}

function splitDigest(digest: string): [string, string] {
  const colon = digest.indexOf(":");
  return [digest.slice(0, colon), digest.slice(colon + 1)];
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** A pass-through stream that hashes and counts the bytes going through it. */
export class DigestingStream extends Transform {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private count = 0;
  private result?: string;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    super();
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    callback(null, chunk);
  }

  get size(): number {
    return this.count;
  }

  /** The digest of everything that went through; only once the stream has ended. */
  digest(): string {
    this.result ??= `${this.algorithm}:${this.hash.digest("hex")}`;
    return this.result;
  }
}

export interface ExpectedContent {
  digest: string;
  size: number;
}

/**
 * A pass-through stream that refuses to carry more than `expected.size` bytes
 * and, at its end, fails unless exactly that many bytes with that digest went
 * through. Nothing downstream should trust the bytes before this ends cleanly.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private readonly expected: ExpectedContent;
  private readonly where: string;
  private count = 0;

  constructor(expected: ExpectedContent, where?: string) {
    super();
    const { algorithm } = parseDigest(expected.digest, where);
    this.expected = expected;
    this.where = where ?? expected.digest;
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.expected.size) {
      callback(
        new DigestMismatchError(
          `${this.expected.digest}: more than the ${this.expected.size} bytes its descriptor declares`,
          { where: this.where },
        ),
      );
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.count !== this.expected.size) {
      callback(
        new DigestMismatchError(
          `${this.expected.digest}: ${this.count} bytes, but its descriptor declares ${this.expected.size}`,
          { where: this.where },
        ),
      );
      return;
    }
    const algorithm = this.expected.digest.slice(0, this.expected.digest.indexOf(":"));
    const actual = `${algorithm}:${this.hash.digest("hex")}`;
    if (actual !== this.expected.digest) {
      callback(
        new DigestMismatchError(`content digest is ${actual}, but its descriptor says ${this.expected.digest}`, {
          where: this.where,
        }),
      );
      return;
    }
    callback();
  }
}
