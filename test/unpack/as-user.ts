/**
 * Runs the CLI as another (unprivileged) user. The modules are loaded while
 * still root and only then are the ids dropped, so the test works wherever
 * the checkout is (even under a 0700 home the user can't enter).
 */
import { fileURLToPath } from "node:url";
import { runProgram, type CliResult } from "../helpers/cli.js";

const CLI = fileURLToPath(new URL("../../src/cli.js", import.meta.url));
const UNPACK = fileURLToPath(new URL("../../src/bundle/unpack-image.js", import.meta.url));

export function runCliAs(uid: number, gid: number, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const script = `
    const { main } = await import(${JSON.stringify(CLI)});
    await import(${JSON.stringify(UNPACK)});
    process.setgroups([]);
    process.setgid(${gid});
    process.setuid(${uid});
    process.argv = [process.argv[0], "oci-image", ...JSON.parse(process.env.OCI_IMAGE_TEST_ARGS)];
    await main();
  `;
  return runProgram(process.execPath, ["--input-type=module", "-e", script], { env: { ...env, OCI_IMAGE_TEST_ARGS: JSON.stringify(args) } });
}
