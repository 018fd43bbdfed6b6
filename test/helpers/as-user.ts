/**
 * Runs the CLI as another (unprivileged) user. The user may not be able to
 * enter the checkout (a clone under a 0700 directory), so the command runs
 * from a world-readable copy of what the installed package holds: bin/,
 * dist/cli/, dist/src/, package.json and the runtime dependencies, made once per process.
 */
import { chmod, cp, mkdtemp } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, runProgram, type CliResult } from "./cli.js";

let runtime: Promise<string> | undefined;

function readableRuntime(): Promise<string> {
  runtime ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "oci-image-runtime-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    await chmod(dir, 0o755);
    const buildOnly = /node_modules\/(typescript|@types)(\/|$)/;
    for (const part of ["package.json", "bin", "dist/cli", "dist/src", "node_modules"]) {
      await cp(join(REPO_ROOT, part), join(dir, part), {
        recursive: true,
        verbatimSymlinks: true,
        filter: (source) => !buildOnly.test(source),
      });
    }
    return dir;
  })();
  return runtime;
}

export async function runCliAs(
  uid: number,
  gid: number,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  const dir = await readableRuntime();
  return runProgram(process.execPath, [join(dir, "bin", "oci-image"), ...args], { env, uid, gid });
}
