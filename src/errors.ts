/**
 * Error classes with a stable `code`, the place the problem is (path, digest,
 * JSON pointer) and the exit status the CLI maps them to. The codes are a
 * closed set (error-codes.ts): each class takes only its own.
 * Nothing here imports anything but the codes: every layer may throw these.
 */
import {
  DIGEST_CODES,
  FILE_SYSTEM_CODES,
  INVALID_CONTENT_CODES,
  NOT_FOUND_CODES,
  OPERATION_CODES,
  REGISTRY_CODES,
  UNSAFE_LAYER_CODES,
  SETTING_CODES,
  USAGE_CODES,
  type DigestCode,
  type ErrorCode,
  type FileSystemCode,
  type InvalidContentCode,
  type NotFoundCode,
  type RegistryCode,
  type SettingCode,
  type UnsafeLayerCode,
  type UsageCode,
} from "./error-codes.js";

export type {
  DigestCode,
  ErrorCode,
  FileSystemCode,
  InvalidContentCode,
  NotFoundCode,
  OperationCode,
  RegistryCode,
  SettingCode,
  UnsafeLayerCode,
  UsageCode,
} from "./error-codes.js";

export interface ErrorContext {
  /** A file path, a digest, a URL or a reference: where the problem is. */
  where?: string;
  /** A JSON pointer inside the document at `where`, e.g. `/layers/0/digest`. */
  pointer?: string;
  cause?: unknown;
}

/** Base class: every error the library throws on purpose is one of these. */
export class OciImageError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly where?: string;
  readonly pointer?: string;
  /** Exit status for the CLI: 1 operation failed / invalid input, 2 usage. */
  readonly exitCode: number = 1;

  constructor(code: C, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.where = context.where;
    this.pointer = context.pointer;
  }
}

/** The command line was wrong: unknown flag, malformed argument or reference. */
export class UsageError extends OciImageError<UsageCode> {
  override readonly exitCode = 2;
  constructor(message: string, context: ErrorContext = {}) {
    super("USAGE", message, context);
  }
}

/**
 * A value given to the library is outside what it accepts (a relative workdir, port 0...).
 * `setting` names the option and `problem` says what is wrong, so a caller can say it in its own terms.
 */
export class InvalidSettingError extends OciImageError<SettingCode> {
  readonly setting: string;
  readonly problem: string;
  constructor(setting: string, problem: string, context: ErrorContext = {}) {
    super("INVALID_SETTING", `${setting} ${problem}`, context);
    this.setting = setting;
    this.problem = problem;
  }
}

/** Bytes did not match what a descriptor promised (size or digest). */
export class DigestMismatchError extends OciImageError<DigestCode> {
  constructor(message: string, context: ErrorContext = {}) {
    super("DIGEST_MISMATCH", message, context);
  }
}

/** A document or layout broke a rule of the image-spec. */
export class InvalidContentError extends OciImageError<InvalidContentCode> {}

/** Something asked for is not there (blob, ref, platform, file). */
export class NotFoundError extends OciImageError<NotFoundCode> {}

/** A layer tried to do something unsafe (escape the rootfs, bad whiteout...). */
export class UnsafeLayerError extends OciImageError<UnsafeLayerCode> {}

/** The registry refused or failed (HTTP status, auth, rate limit, network). */
export class RegistryError extends OciImageError<RegistryCode> {
  readonly status?: number;
  constructor(code: RegistryCode, message: string, context: ErrorContext & { status?: number } = {}) {
    super(code, message, context);
    this.status = context.status;
  }
}

/** The operation was interrupted (SIGINT); the CLI exits 130. */
export class AbortedError extends OciImageError<"ABORTED"> {
  override readonly exitCode = 130;
  constructor(message = "interrupted", context: ErrorContext = {}) {
    super("ABORTED", message, context);
  }
}

/** A file system call failed for a reason the user can see and fix (permissions, space, a wrong path). */
export class FileSystemError extends OciImageError<FileSystemCode> {
  /** The system's error code, e.g. `EACCES`. */
  readonly errno?: string;
  constructor(code: FileSystemCode, message: string, context: ErrorContext & { errno?: string } = {}) {
    super(code, message, context);
    this.errno = context.errno;
  }
}

export function isOciImageError(error: unknown): error is OciImageError {
  return error instanceof OciImageError;
}

/** System error codes a user can cause, and what each is to this tool. */
const ERRNO_CODES: Readonly<Record<string, FileSystemCode>> = {
  EACCES: "FS_PERMISSION_DENIED",
  EPERM: "FS_PERMISSION_DENIED",
  ENOENT: "FS_NOT_FOUND",
  ENOTDIR: "FS_NOT_DIRECTORY",
  EISDIR: "FS_IS_DIRECTORY",
  EEXIST: "FS_EXISTS",
  ENOSPC: "FS_NO_SPACE",
  EDQUOT: "FS_NO_SPACE",
  EROFS: "FS_READ_ONLY",
  EMFILE: "FS_TOO_MANY_OPEN_FILES",
  ENFILE: "FS_TOO_MANY_OPEN_FILES",
  ELOOP: "FS_SYMLINK_LOOP",
  ENAMETOOLONG: "FS_NAME_TOO_LONG",
};

/** What went wrong and what to do, for each file system code. */
const ADVICE: Readonly<Record<FileSystemCode, string>> = {
  FS_PERMISSION_DENIED:
    "permission denied; check the owner and mode of it and of its parent directories, or run as a user allowed to",
  FS_NOT_FOUND: "no such file or directory; check the path",
  FS_NOT_DIRECTORY: "a part of the path is a file, not a directory; give a path whose parents are directories",
  FS_IS_DIRECTORY: "it is a directory where a file was expected; give the path of a file",
  FS_NOT_FILE: "it is not a regular file (a pipe, socket or device); give the path of a file",
  FS_EXISTS: "it already exists; remove it or choose another path",
  FS_NO_SPACE: "no space left on the device (or the disk quota is reached); free some space and run again",
  FS_READ_ONLY: "the file system is read-only; choose a writable location",
  FS_TOO_MANY_OPEN_FILES: "too many open files; raise the limit (ulimit -n) and run again",
  FS_SYMLINK_LOOP: "too many levels of symbolic links (a link loop); fix or remove the link",
  FS_NAME_TOO_LONG: "the name is too long for the file system; choose a shorter path",
};

/** The system call, as the action it was part of. */
const ACTIONS: Readonly<Record<string, string>> = {
  open: "opening",
  read: "reading",
  write: "writing",
  mkdir: "creating the directory",
  scandir: "listing",
  rename: "renaming",
  unlink: "removing",
  rmdir: "removing",
  stat: "looking at",
  lstat: "looking at",
  symlink: "creating the link",
  link: "linking",
};

interface SystemErrorShape {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  dest?: unknown;
}

/**
 * The one place a system error becomes a user's error: an errno the user can
 * cause (permissions, space, a wrong or looping path) as a FileSystemError
 * naming the path and what to do; undefined for anything else. `path` names
 * the file when the system error does not (or names it better).
 */
export function fileSystemErrorOf(error: unknown, path?: string): FileSystemError | undefined {
  if (error instanceof FileSystemError) return error;
  if (typeof error !== "object" || error === null || error instanceof OciImageError) return undefined;
  const system = error as SystemErrorShape;
  const errno = typeof system.code === "string" ? system.code : undefined;
  const code = errno === undefined ? undefined : ERRNO_CODES[errno];
  if (code === undefined) return undefined;
  const where = path ?? (typeof system.path === "string" ? system.path : undefined);
  const action = (typeof system.syscall === "string" && ACTIONS[system.syscall]) || "using";
  const target = typeof system.dest === "string" && path === undefined ? `${where} to ${system.dest}` : where;
  const message = target === undefined ? ADVICE[code] : `${action} ${target}: ${ADVICE[code]}`;
  return new FileSystemError(code, message, { where, errno, cause: error });
}

/** A path that is not a regular file, refused before it is opened (a FIFO would block the read forever). */
export function notRegularFileError(path: string, directory: boolean, action = "reading"): FileSystemError {
  const code = directory ? "FS_IS_DIRECTORY" : "FS_NOT_FILE";
  return new FileSystemError(code, `${action} ${path}: ${ADVICE[code]}`, { where: path });
}

/** The rule name a validate finding gets for a file system error, e.g. `fs-permission-denied`. */
export function ruleOfCode(code: ErrorCode): string {
  return code.toLowerCase().replace(/_/g, "-");
}

/** Rebuilds an error from its code (e.g. one sent from a worker thread) as the class that code belongs to. */
export function errorFromCode(code: string, message: string, context: ErrorContext = {}): OciImageError {
  if (isIn(FILE_SYSTEM_CODES, code)) return new FileSystemError(code, message, context);
  if (isIn(DIGEST_CODES, code)) return new DigestMismatchError(message, context);
  if (isIn(UNSAFE_LAYER_CODES, code)) return new UnsafeLayerError(code, message, context);
  if (isIn(INVALID_CONTENT_CODES, code)) return new InvalidContentError(code, message, context);
  if (isIn(NOT_FOUND_CODES, code)) return new NotFoundError(code, message, context);
  if (isIn(SETTING_CODES, code)) return new OciImageError(code, message, context);
  if (isIn(USAGE_CODES, code) || isIn(OPERATION_CODES, code)) return new OciImageError(code, message, context);
  if (isIn(REGISTRY_CODES, code) || /^HTTP_\d+$/.test(code))
    return new RegistryError(code as RegistryCode, message, context);
  return new OciImageError("LAYER_READ_FAILED", message, context);
}

function isIn<T extends string>(codes: readonly T[], code: string): code is T {
  return (codes as readonly string[]).includes(code);
}
