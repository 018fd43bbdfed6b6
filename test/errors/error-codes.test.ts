/** The one mapping from system errors to user errors, and errors rebuilt from their code alone. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DigestMismatchError,
  FileSystemError,
  InvalidContentError,
  NotFoundError,
  OciImageError,
  RegistryError,
  UnsafeLayerError,
  errorFromCode,
  fileSystemErrorOf,
} from "../../src/errors.js";

function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, path, errno: -1 });
}

test("every errno a user can cause becomes a FileSystemError naming the path and what to do", () => {
  const cases: [string, string, RegExp][] = [
    ["EACCES", "FS_PERMISSION_DENIED", /permission denied; check the owner and mode/],
    ["EPERM", "FS_PERMISSION_DENIED", /permission denied/],
    ["ENOENT", "FS_NOT_FOUND", /no such file or directory; check the path/],
    ["ENOTDIR", "FS_NOT_DIRECTORY", /not a directory/],
    ["EISDIR", "FS_IS_DIRECTORY", /is a directory where a file was expected/],
    ["EEXIST", "FS_EXISTS", /already exists; remove it or choose another path/],
    ["ENOSPC", "FS_NO_SPACE", /no space left .*free some space/],
    ["EDQUOT", "FS_NO_SPACE", /quota/],
    ["EROFS", "FS_READ_ONLY", /read-only; choose a writable location/],
    ["EMFILE", "FS_TOO_MANY_OPEN_FILES", /too many open files; raise the limit \(ulimit -n\)/],
    ["ELOOP", "FS_SYMLINK_LOOP", /symbolic links/],
    ["ENAMETOOLONG", "FS_NAME_TOO_LONG", /too long/],
  ];
  for (const [errno, code, advice] of cases) {
    const mapped = fileSystemErrorOf(systemError(errno, "open", "/some/file"));
    assert.ok(mapped instanceof FileSystemError, errno);
    assert.equal(mapped.code, code);
    assert.equal(mapped.errno, errno);
    assert.equal(mapped.exitCode, 1);
    assert.equal(mapped.where, "/some/file");
    assert.match(mapped.message, /^opening \/some\/file: /);
    assert.match(mapped.message, advice);
    assert.doesNotMatch(mapped.message, /\n/);
  }
});

test("a path given names the file when the system error names none (a write); others are left alone", () => {
  const full = fileSystemErrorOf(systemError("ENOSPC", "write"), "/layout");
  assert.equal(full?.message.startsWith("writing /layout: no space left"), true);
  assert.equal(fileSystemErrorOf(systemError("EIO", "read", "/x")), undefined);
  assert.equal(fileSystemErrorOf(new Error("plain")), undefined);
  assert.equal(fileSystemErrorOf(new InvalidContentError("JSON_INVALID", "bad")), undefined);
  const already = new FileSystemError("FS_NOT_FILE", "x");
  assert.equal(fileSystemErrorOf(already), already);
});

test("an error rebuilt from its code is of the class that code belongs to", () => {
  const context = { where: "sha256:abc" };
  assert.ok(errorFromCode("DIGEST_MISMATCH", "m", context) instanceof DigestMismatchError);
  assert.ok(errorFromCode("LAYER_CORRUPT", "m", context) instanceof InvalidContentError);
  assert.ok(errorFromCode("BLOB_UNKNOWN", "m", context) instanceof NotFoundError);
  assert.ok(errorFromCode("LAYER_TOO_LARGE", "m", context) instanceof UnsafeLayerError);
  assert.ok(errorFromCode("FS_PERMISSION_DENIED", "m", context) instanceof FileSystemError);
  assert.ok(errorFromCode("HTTP_502", "m", context) instanceof RegistryError);
  const other = errorFromCode("LAYER_DECODER_FAILED", "m", context);
  assert.ok(other instanceof OciImageError);
  assert.equal(other.code, "LAYER_DECODER_FAILED");
  assert.equal(other.where, "sha256:abc");
  assert.equal(other.message, "m");
  // A code outside the set (a newer peer, a bug) is still an error of ours, never a crash.
  assert.equal(errorFromCode("NO_SUCH_CODE", "m").code, "LAYER_READ_FAILED");
});
