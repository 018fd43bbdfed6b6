/**
 * Peer tools (skopeo, umoci, oci-image-tool, runc, docker-registry). A test that
 * needs one calls `requireTool`: outside CI a missing tool skips the test with a
 * loud message; in CI (CI=true) it fails the test.
 */
import { execFileSync } from "node:child_process";
import type { TestContext } from "node:test";

const found = new Map<string, string | undefined>();

export function toolPath(name: string): string | undefined {
  if (!found.has(name)) {
    let path: string | undefined;
    try {
      path = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
    } catch {
      path = undefined;
    }
    found.set(name, path);
  }
  return found.get(name);
}

export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

/**
 * Returns the tool's path, or skips (outside CI) / throws (in CI) when it is
 * missing. Use as: `const umoci = requireTool(t, "umoci"); if (!umoci) return;`
 */
export function requireTool(t: TestContext, name: string): string | undefined {
  const path = toolPath(name);
  if (path) return path;
  const message = `${name} is not installed (apt-get install ${debianPackageOf(name)})`;
  if (inCI()) throw new Error(`${message}: CI must have every peer tool`);
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n`);
  t.skip(message);
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function debianPackageOf(name: string): string {
  // Where the tool's Debian package has another name; busybox must be the static build to run inside an image.
  const packages: Record<string, string> = {
    busybox: "busybox-static",
    htpasswd: "apache2-utils",
    taskset: "util-linux",
  };
  return packages[name] ?? name;
}
