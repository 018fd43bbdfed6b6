/**
 * Where a bundle is built: a hidden staging directory beside the target (same
 * parent, so the same file system), renamed onto the target once complete. The
 * target never holds a partial bundle: a run that fails, is interrupted or is
 * killed leaves it as it was. A killed run's staging directory stays behind,
 * named `.oci-image-unpack-<target name>-<random>`. When the parent can't be
 * written but the target is an empty directory of the user's, the staging
 * directory goes inside the target and its contents move up at the end; a
 * killed run's one there is removed by the next run into that target.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, readdir, rename, rmdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { AbortedError, OciImageError } from "../errors.js";
import { removeTree } from "../layer/make-tree-writable.js";

/** The name every staging directory starts with. */
export const STAGING_PREFIX = ".oci-image-unpack-";

/** After an interrupt, the staging directory's removal holds the exit this long at most. */
const INTERRUPTED_REMOVAL_MS = 50;

export interface Staging {
  path: string;
  /** Inside the target (its parent is not writable) rather than beside it. */
  inside: boolean;
}

/**
 * Refuses a target that is not an empty directory or a new path, before
 * anything is written. Staging directories a killed run left inside it go.
 */
export async function checkBundleTarget(bundle: string): Promise<void> {
  let entries: string[];
  try {
    if (!(await lstat(bundle)).isDirectory())
      throw new OciImageError(
        "BUNDLE_NOT_EMPTY",
        `${bundle} exists and is not a directory; give an empty or new directory for the bundle`,
        { where: bundle },
      );
    entries = await readdir(bundle);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (entries.some((name) => !name.startsWith(STAGING_PREFIX))) throw notEmpty(bundle);
  for (const name of entries) await removeTree(join(bundle, name));
}

/** Why a directory can't be written, for the errors that let the bundle be staged inside its target instead. */
const UNWRITABLE: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
};

/** A new staging directory (mode 0700) beside `bundle`; the parent is created when missing. */
export async function createStagingDirectory(bundle: string): Promise<Staging> {
  const parent = dirname(bundle);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const name = `${STAGING_PREFIX}${basename(bundle).slice(0, 100)}-${randomBytes(6).toString("hex")}`;
  let staging: Staging = { path: join(parent, name), inside: false };
  try {
    await mkdir(staging.path, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const reason = UNWRITABLE[code];
    if (!reason) throw error;
    if (!(await isDirectory(bundle)))
      throw new OciImageError(
        "BUNDLE_NOT_WRITABLE",
        `creating the bundle ${bundle}: ${parent} can't be written (${reason}); ` +
          "give a path in a directory you may write, or an empty directory of yours",
        { where: parent, cause: error },
      );
    staging = { path: join(bundle, name), inside: true };
    await mkdir(staging.path, { mode: 0o700 });
  }
  await chmod(staging.path, 0o700);
  return staging;
}

/** Puts the complete bundle in place: a new path, or an empty directory, which it replaces. */
export async function commitBundle(staging: Staging, bundle: string, signal?: AbortSignal): Promise<void> {
  // The last moment an interrupt can stop the unpack; after the rename the bundle is complete.
  if (signal?.aborted) throw new AbortedError();
  if (staging.inside) {
    // config.json last: until it is there, the target is not a bundle a runtime would start.
    const names = (await readdir(staging.path)).sort(
      (a, b) => Number(a === "config.json") - Number(b === "config.json"),
    );
    for (const name of names) await rename(join(staging.path, name), join(bundle, name));
    await rmdir(staging.path);
    await chmod(bundle, 0o700);
    return;
  }
  try {
    await rename(staging.path, bundle);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") throw notEmpty(bundle);
    if (code === "ENOTDIR")
      throw new OciImageError(
        "BUNDLE_NOT_EMPTY",
        `${bundle} exists and is not a directory; give an empty or new directory for the bundle`,
        { where: bundle },
      );
    throw error;
  }
}

/**
 * Removes a staging directory. After an interrupt the exit must not wait for a
 * large tree: what is not removed in INTERRUPTED_REMOVAL_MS is left to a
 * detached process, which goes on after this one has exited.
 */
export async function discardStaging(staging: string, interrupted: boolean): Promise<void> {
  const removal = removeTree(staging).then(
    () => true,
    () => false,
  );
  if (!interrupted) {
    await removal;
    return;
  }
  const done = await Promise.race([removal, delay(INTERRUPTED_REMOVAL_MS, false, { ref: false })]);
  if (!done) removeInBackground(staging);
}

function removeInBackground(path: string): void {
  try {
    const remover = fileURLToPath(new URL("./remove-tree-main.js", import.meta.url));
    spawn(process.execPath, [remover, path], { detached: true, stdio: "ignore" }).unref();
  } catch {
    // Best effort: the staging directory's name says what it is.
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() ?? false;
}

function notEmpty(bundle: string): OciImageError {
  return new OciImageError(
    "BUNDLE_NOT_EMPTY",
    `${bundle} is not empty; give an empty or new directory for the bundle`,
    {
      where: bundle,
    },
  );
}
