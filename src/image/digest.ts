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

export interface ExpectedContent {
  digest: string;
  size: number;
}

/** What a verifier checks: a digest, and a size when one was declared (a diff_id has none). */
export interface VerifyTarget {
  digest: string;
  size?: number;
}

/**
 * The one check that bytes are what a descriptor promised, fed as they flow:
 * `update` refuses a byte past the declared size at once, `finish` fails
 * unless exactly that many bytes with that digest went through. Every check
 * of content against a digest (blob store, registry, validate, layers) is one
 * of these, so a mismatch is always a DigestMismatchError.
 */
export class ContentVerifier {
  private readonly hash: Hash;
  private readonly algorithm: DigestAlgorithm;
  private readonly expected?: VerifyTarget;
  private readonly where?: string;
  private readonly what: string;
  private count = 0;
  private actual?: string;

  /**
   * `expected`: what the bytes must be, or only the algorithm to hash with
   * (content of no known digest yet). `what` names the content in messages
   * (default: its digest); `where` is the error's place.
   */
  constructor(expected: VerifyTarget | DigestAlgorithm, where?: string, what?: string) {
    if (typeof expected === "string") {
      this.algorithm = expected;
    } else {
      this.algorithm = parseDigest(expected.digest, where).algorithm;
      this.expected = expected;
    }
    this.where = where ?? this.expected?.digest;
    this.what = what ?? this.expected?.digest ?? "content";
    this.hash = createHash(this.algorithm);
  }

  update(chunk: Uint8Array): void {
    this.count += chunk.length;
    const size = this.expected?.size;
    if (size !== undefined && this.count > size) {
      throw new DigestMismatchError(`${this.what}: more than the ${size} bytes its descriptor declares`, {
        where: this.where,
      });
    }
    this.hash.update(chunk);
  }

  get size(): number {
    return this.count;
  }

  /** The digest of the bytes that went through; once they all have. */
  digest(): string {
    this.actual ??= `${this.algorithm}:${this.hash.digest("hex")}`;
    return this.actual;
  }

  /** Throws unless the content was exactly as expected; `describe` words a digest mismatch its own way. */
  finish(describe?: (actual: string) => string): void {
    if (!this.expected) return;
    const { size, digest } = this.expected;
    if (size !== undefined && this.count !== size) {
      throw new DigestMismatchError(`${this.what}: ${this.count} bytes, but its descriptor declares ${size}`, {
        where: this.where,
      });
    }
    const actual = this.digest();
    if (actual !== digest) {
      const message = describe?.(actual) ?? `content digest is ${actual}, but its descriptor says ${digest}`;
      throw new DigestMismatchError(message, { where: this.where });
    }
  }
}

/** Checks bytes already in memory against a descriptor; throws a DigestMismatchError when they differ. */
export function verifyBytes(bytes: Uint8Array, expected: VerifyTarget, where?: string): void {
  const verifier = new ContentVerifier(expected, where);
  verifier.update(bytes);
  verifier.finish();
}

export interface VerifyingStreamOptions {
  /** Names the content in size messages (default: its digest). */
  what?: string;
  /**
   * Keep the last chunk back until the content checks out: a consumer that
   * knows the size (an upload with a Content-Length) never sees the whole of
   * content that does not match.
   */
  holdLast?: boolean;
}

/**
 * A pass-through stream that refuses to carry more than `expected.size` bytes
 * and, at its end, fails unless exactly that many bytes with that digest went
 * through. Nothing downstream should trust the bytes before this ends cleanly.
 */
export class VerifyingStream extends Transform {
  private readonly verifier: ContentVerifier;
  private readonly holdLast: boolean;
  private held?: Buffer;

  constructor(
    expected: VerifyTarget | DigestAlgorithm,
    where?: string,
    private readonly describe?: (actual: string) => string,
    options: VerifyingStreamOptions = {},
  ) {
    super();
    this.verifier = new ContentVerifier(expected, where, options.what);
    this.holdLast = options.holdLast ?? false;
  }

  /** Bytes that went through so far. */
  get size(): number {
    return this.verifier.size;
  }

  /** The content's digest; once the stream has ended. */
  digest(): string {
    return this.verifier.digest();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.verifier.update(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (!this.holdLast) {
      callback(null, chunk);
      return;
    }
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.verifier.finish(this.describe);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, this.held);
  }
}

/** A pass-through stream that hashes and counts the bytes going through it (a verifier with nothing to expect). */
export class DigestingStream extends VerifyingStream {
  constructor(readonly algorithm: DigestAlgorithm = "sha256") {
    super(algorithm);
  }
}
