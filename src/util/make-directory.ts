/** Creating a directory and its parents, with the true reason when that fails. */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * `mkdir -p`. Node's recursive mkdir reports ENOENT for some failures (EROFS
 * on a read-only file system): then the deepest directory that exists is
 * found and the plain mkdir below it tried, whose error names the real cause.
 */
export async function makeDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw await plainMkdirError(path, error);
  }
}

async function plainMkdirError(path: string, original: unknown): Promise<unknown> {
  for (let dir = path; dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      await mkdir(dir);
      return original;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return original;
      if (code !== "ENOENT") return error;
    }
  }
  return original;
}
