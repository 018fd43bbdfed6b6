/** Type-checks a consumer's TypeScript file the way a strict project would, with this checkout's compiler. */
import { join } from "node:path";
import { REPO_ROOT, runProgram, type CliResult } from "./cli.js";

const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");

/** `tsc --strict --noEmit` for ES modules on Node.js, with Node's types. */
export function typecheckStrict(file: string, cwd: string): Promise<CliResult> {
  const options = ["--strict", "--noEmit", "--target", "es2022", "--module", "nodenext"];
  const types = ["--moduleResolution", "nodenext", "--typeRoots", join(REPO_ROOT, "node_modules", "@types")];
  return runProgram(process.execPath, [TSC, ...options, ...types, "--types", "node", file], { cwd });
}
