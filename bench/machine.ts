/** What the figures were measured on: CPU, memory, kernel, Node and the peers' versions. */
import { execFileSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  tools: Record<string, string>;
}

function firstLine(program: string, args: string[]): string {
  try {
    const output = execFileSync(program, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return (
      output
        .split("\n")
        .find((line) => line.trim())
        ?.trim() ?? "?"
    );
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "")
      .split("\n")[0]
      ?.trim();
    return stderr || "not installed";
  }
}

export function describeMachine(): Machine {
  const processors = cpus();
  return {
    cpu: processors[0]?.model.trim() ?? "?",
    cores: processors.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    tools: {
      skopeo: firstLine("skopeo", ["--version"]),
      umoci: firstLine("umoci", ["--version"]),
      "oci-image-tool": firstLine("oci-image-tool", ["--version"]),
      "docker-registry": firstLine("docker-registry", ["--version"]),
      tar: firstLine("tar", ["--version"]),
      gzip: firstLine("gzip", ["--version"]),
    },
  };
}

export function formatMachine(machine: Machine): string {
  const tools = Object.entries(machine.tools).map(([name, version]) => `  ${name}: ${version}`);
  return [
    `CPU: ${machine.cpu} × ${machine.cores}`,
    `RAM: ${machine.memoryGiB} GiB`,
    `Kernel: Linux ${machine.kernel}`,
    `Node.js: ${machine.node}`,
    ...tools,
  ].join("\n");
}
