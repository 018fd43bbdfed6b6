/**
 * Error classes with a stable `code`, the place the problem is (path, digest,
 * JSON pointer) and the exit status the CLI maps them to. Nothing here imports
 * anything: every layer may throw these.
 */

export interface ErrorContext {
  /** A file path, a digest, a URL or a reference: where the problem is. */
  where?: string;
  /** A JSON pointer inside the document at `where`, e.g. `/layers/0/digest`. */
  pointer?: string;
  cause?: unknown;
}

/** Base class: every error the library throws on purpose is one of these. */
export class OciImageError extends Error {
  readonly code: string;
  readonly where?: string;
  readonly pointer?: string;
  /** Exit status for the CLI: 1 operation failed / invalid input, 2 usage. */
  readonly exitCode: number = 1;

  constructor(code: string, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.where = context.where;
    this.pointer = context.pointer;
  }
}

/** The command line was wrong: unknown flag, malformed argument or reference. */
export class UsageError extends OciImageError {
  override readonly exitCode = 2;
  constructor(message: string, context: ErrorContext = {}) {
    super("USAGE", message, context);
  }
}

/**
 * A value given to the library is outside what it accepts (a relative workdir, port 0...).
 * `setting` names the option and `problem` says what is wrong, so a caller can say it in its own terms.
 */
export class InvalidSettingError extends OciImageError {
  readonly setting: string;
  readonly problem: string;
  constructor(setting: string, problem: string, context: ErrorContext = {}) {
    super("INVALID_SETTING", `${setting} ${problem}`, context);
    this.setting = setting;
    this.problem = problem;
  }
}

/** Bytes did not match what a descriptor promised (size or digest). */
export class DigestMismatchError extends OciImageError {
  constructor(message: string, context: ErrorContext = {}) {
    super("DIGEST_MISMATCH", message, context);
  }
}

/** A document or layout broke a rule of the image-spec. */
export class InvalidContentError extends OciImageError {
  constructor(code: string, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** Something asked for is not there (blob, ref, platform, file). */
export class NotFoundError extends OciImageError {
  constructor(code: string, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** A layer tried to do something unsafe (escape the rootfs, bad whiteout...). */
export class UnsafeLayerError extends OciImageError {
  constructor(code: string, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** The registry refused or failed (HTTP status, auth, rate limit, network). */
export class RegistryError extends OciImageError {
  readonly status?: number;
  constructor(code: string, message: string, context: ErrorContext & { status?: number } = {}) {
    super(code, message, context);
    this.status = context.status;
  }
}

/** The operation was interrupted (SIGINT); the CLI exits 130. */
export class AbortedError extends OciImageError {
  override readonly exitCode = 130;
  constructor(message = "interrupted", context: ErrorContext = {}) {
    super("ABORTED", message, context);
  }
}

export function isOciImageError(error: unknown): error is OciImageError {
  return error instanceof OciImageError;
}
