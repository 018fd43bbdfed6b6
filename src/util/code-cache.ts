/**
 * Runs a CommonJS file with V8's code cache kept in a per-user directory, for
 * Node versions without `module.enableCompileCache` (Node 20): V8 then skips
 * compiling the file on every run after the first. The cache only saves time,
 * so any doubt means compiling as usual: a cache file or directory that another
 * user owns or may write (its code would run as ours), one made for another
 * file, Node or V8 (the key), or one whose checksum does not match. A new cache
 * is written to a temp file and renamed into place, so no reader sees half.
 */
import {
  closeSync,
  readdirSync,
  readSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { crc32 } from "node:zlib";

export type CodeCacheUse = "used" | "written" | "off";

export interface CachedModule {
  exports: unknown;
  /** Whether a cache made the compile fast ("used"), is made when the run exits 0 ("written"), or cannot be ("off"). */
  cache: CodeCacheUse;
}

/**
 * `$XDG_CACHE_HOME/oci-image`, else `$HOME/.cache/oci-image`; undefined (no cache) without either.
 * (`os.homedir()` would read HOME too, but loading node:os costs a run more than the cache saves here.)
 */
export function defaultCodeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.XDG_CACHE_HOME || (env.HOME && join(env.HOME, ".cache"));
  return base ? join(base, "oci-image") : undefined;
}

/**
 * Loads `file` like `require(file)`, through the code cache in `cacheDir`. Runs
 * that differ in `variant` (the command) compile different functions, so each
 * keeps a cache of its own.
 */
export function requireWithCodeCache(file: string, cacheDir: string | undefined, variant = ""): CachedModule {
  const key = cacheKey(file, variant);
  const source = readFileSync(file, "utf8");
  // A file rewritten while it was read (a build) gets no cache: its key might not be its content's.
  const steady = cacheKey(file, variant).text === key.text;
  const cacheFile = join(cacheDir ?? "", `${key.name}.v8cache`);
  const usable = steady && cacheDir !== undefined && key.uid !== undefined && ownDirectory(cacheDir, key.uid);
  const cached = usable ? readCache(cacheFile, key) : undefined;
  // What Node wraps a CommonJS file in.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: file, cachedData: cached });
  const module = { id: file, filename: file, loaded: false, exports: {}, children: [], paths: [] };
  const require = createRequire(file);
  // As require() would: a later require(file) gets these exports instead of a second copy.
  require.cache[file] = module as unknown as NodeJS.Module;
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, require, module, file, dirname(file));
  module.loaded = true;
  if (cached && !script.cachedDataRejected) return { exports: module.exports, cache: "used" };
  if (!usable) return { exports: module.exports, cache: "off" };
  // Made at exit, the cache also holds the functions this run compiled, not only the top level;
  // only a run that succeeded makes one (a mistyped command makes none).
  // V8 rejects a cache made under other V8 flags: set them before calling this.
  process.once("exit", (code) => {
    if (code !== 0) return;
    pruneStale(cacheDir!, key.uid!);
    writeCache(cacheFile, key, script.createCachedData());
  });
  return { exports: module.exports, cache: "written" };
}

interface CacheKey {
  /** The cache file's name: the file's name and variant, Node and the platform. */
  name: string;
  /** What must match: the file's identity and the V8 that compiled it. */
  text: string;
  uid: number | undefined;
}

function cacheKey(file: string, variant: string): CacheKey {
  const { size, mtimeMs, ino } = statSync(file);
  // Copies installed in several places (a checkout, a global install) each keep their own cache.
  const base = `${file.replace(/^.*[\\/]/, "")}-${pathHash(file)}${variant ? `-${variant}` : ""}`;
  const name = `${base.replace(/\W/g, "_")}-${process.version}-${process.arch}`;
  const text = JSON.stringify([file, size, mtimeMs, ino, process.version, process.versions.v8, process.arch]);
  return { name, text, uid: process.getuid?.() };
}

/** FNV-1a of the path, in hex: a short, stable name part (not a security check: the key is). */
function pathHash(path: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/** Owned by us and writable by nobody else. */
function isOurs(stats: { uid: number; mode: number }, uid: number): boolean {
  return stats.uid === uid && (stats.mode & 0o022) === 0;
}

/** The cache directory, made if missing; false when it is not ours alone (or cannot be made). */
function ownDirectory(cacheDir: string, uid: number): boolean {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    return isOurs(statSync(cacheDir), uid);
  } catch {
    return false;
  }
}

/** The cache file is a header line `{key, crc}` and V8's data; undefined unless all is as it must be. */
function readCache(cacheFile: string, key: CacheKey): Buffer | undefined {
  try {
    const fd = openSync(cacheFile, "r");
    try {
      if (!isOurs(fstatSync(fd), key.uid!)) return undefined;
      const content = readFileSync(fd);
      const end = content.indexOf(10);
      const header = JSON.parse(content.subarray(0, end).toString()) as { key?: unknown; crc?: unknown };
      const data = content.subarray(end + 1);
      return header.key === key.text && header.crc === crc32(data) ? data : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function writeCache(cacheFile: string, key: CacheKey, data: Buffer): boolean {
  try {
    const header = Buffer.from(`${JSON.stringify({ key: key.text, crc: crc32(data) })}\n`);
    const temp = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, Buffer.concat([header, data]), { mode: 0o600 });
      renameSync(temp, cacheFile);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes our caches of files that are gone or have changed since (an old
 * version, a checkout deleted): each build or install path would otherwise
 * leave its caches behind for good. Runs only when a cache is written.
 */
function pruneStale(cacheDir: string, uid: number): void {
  let names: string[];
  try {
    names = readdirSync(cacheDir).filter((name) => name.endsWith(".v8cache"));
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(cacheDir, name);
    try {
      if (!isOurs(statSync(path), uid) || isCurrent(readHead(path))) continue;
      rmSync(path, { force: true });
    } catch {
      // Another run removed or replaced it meanwhile.
    }
  }
}

/** The first bytes of a file: enough for a cache's header line. */
function readHead(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4096);
    return head.subarray(0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Whether a cache's header names a file that is still there as it was. */
function isCurrent(content: Buffer): boolean {
  try {
    const header = JSON.parse(content.subarray(0, content.indexOf(10)).toString()) as { key?: unknown };
    const [file, size, mtimeMs, ino] = JSON.parse(String(header.key)) as [string, number, number, number];
    const stats = statSync(file);
    return stats.size === size && stats.mtimeMs === mtimeMs && stats.ino === ino;
  } catch {
    return false;
  }
}
