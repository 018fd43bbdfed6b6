/**
 * `node remove-tree-main.js <staging-dir>`: finishes removing an interrupted
 * unpack's staging directory after the unpack has exited (bundle-directory.ts).
 * Refuses any path that is not a staging directory.
 */
import { basename } from "node:path";
import { removeTree } from "../layer/make-tree-writable.js";
import { STAGING_PREFIX } from "./bundle-directory.js";

const path = process.argv[2];
if (path && basename(path).startsWith(STAGING_PREFIX)) {
  // Two tries: the interrupted process may still have been removing entries when this one started.
  // No top-level await: the CLI's bundle of this file is CommonJS; the pending work keeps the process alive.
  void removeTree(path).catch(() => removeTree(path).catch(() => undefined));
}
