/**
 * Writers announce themselves to gc. A process that writes blobs into a layout
 * first creates `.oci-image-writer-<pid>-<random>` in its root, holding its pid
 * and the time it started; the file goes when the process exits. gc keeps every
 * blob whose mtime is at or after the start of a writer still running: a writer
 * renames its new blobs into place, and touches the blobs it reuses, only after
 * its file exists. See gc.ts for the other half of the protocol.
 */
import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import { readFile, readdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { processRuns } from "../util/process-alive.js";

export const WRITER_PREFIX = ".oci-image-writer-";

const registered = new Map<string, Promise<void>>();

/** Announces this process as a writer of the layout at `root` (once per process). */
export function registerWriter(root: string): Promise<void> {
  let done = registered.get(root);
  if (!done) {
    const path = join(root, `${WRITER_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
    done = writeFile(path, `${process.pid}\n${Date.now()}\n`, { flag: "wx", mode: 0o644 }).then(() => {
      process.once("exit", () => {
        try {
          unlinkSync(path);
        } catch {
          // Already gone: gc removes the files of writers that died.
        }
      });
    });
    registered.set(root, done);
  }
  return done;
}

/**
 * The earliest start time of the writers still running (undefined: none).
 * Files of writers that died are removed.
 */
export async function earliestLiveWriter(root: string): Promise<number | undefined> {
  let earliest: number | undefined;
  for (const name of await readdir(root)) {
    if (!name.startsWith(WRITER_PREFIX)) continue;
    const path = join(root, name);
    const [pidText, startText] = (await readFile(path, "utf8").catch(() => "")).split("\n");
    const pid = Number.parseInt(pidText ?? "", 10);
    const started = Number.parseInt(startText ?? "", 10);
    // A file being written (no start yet) belongs to a writer starting now.
    const start = Number.isFinite(started) ? started : Date.now();
    if (Number.isInteger(pid) && pid > 0 && !processRuns(pid)) {
      await unlink(path).catch(() => {});
      continue;
    }
    earliest = Math.min(earliest ?? start, start);
  }
  return earliest;
}
