/**
 * Device nodes and FIFOs, which Node.js can't make (it has no mknod(2)): one
 * `sh` per layer, started at the first such entry, runs `mknod` for each
 * request and answers with its status before the next entry is applied, so
 * entries stay in order. A process per node cost 10-20 ms each; this costs
 * one fork of a small shell.
 *
 * Nothing of a path reaches the shell as syntax: every byte is written as an
 * octal escape that `printf` turns back into the byte, and the rest of each
 * command is fixed text and integers.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface, type Interface } from "node:readline";

export type SpecialKind =
  { type: "fifo" } | { type: "character-device" | "block-device"; major: number; minor: number };

export interface MknodResult {
  ok: boolean;
  /** mknod's message when it failed. */
  message: string;
}

export class SpecialFileMaker {
  private shell?: ChildProcessWithoutNullStreams;
  private lines?: Interface;
  private readonly waiting: ((line: string | undefined) => void)[] = [];

  /** mknod -m 0600 at `path` (its last component absent; mknod never follows it). */
  async make(path: string, kind: SpecialKind): Promise<MknodResult> {
    const shell = this.start();
    const node =
      kind.type === "fifo"
        ? "p"
        : `${kind.type === "block-device" ? "b" : "c"} ${integer(kind.major)} ${integer(kind.minor)}`;
    // A trailing x keeps a path's own trailing newlines through the command substitution.
    const command = `p=$(printf '${octal(path)}x'); p=\${p%x}; out=$(mknod -m 0600 -- "$p" ${node} 2>&1); s=$?; printf '%s %s\\n' "$s" "$(printf %s "$out" | tr '\\n' ' ')"\n`;
    const reply = new Promise<string | undefined>((resolve) => this.waiting.push(resolve));
    shell.stdin.write(command);
    const line = await reply;
    if (line === undefined) return { ok: false, message: "the shell running mknod exited" };
    const space = line.indexOf(" ");
    const status = line.slice(0, space);
    return { ok: status === "0", message: line.slice(space + 1).trim() || `mknod exited with status ${status}` };
  }

  /** Ends the shell, if one was started. */
  close(): void {
    this.shell?.stdin.end();
    this.lines?.close();
    this.shell = undefined;
    this.lines = undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.shell) return this.shell;
    const shell = spawn("sh", ["-s"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
    });
    shell.stderr.resume();
    shell.on("error", () => this.drain());
    shell.on("close", () => this.drain());
    const lines = createInterface({ input: shell.stdout });
    lines.on("line", (line) => this.waiting.shift()?.(line));
    this.shell = shell;
    this.lines = lines;
    return shell;
  }

  /** The shell is gone: every request still waiting gets no answer. */
  private drain(): void {
    for (const resolve of this.waiting.splice(0)) resolve(undefined);
  }
}

function octal(text: string): string {
  return [...Buffer.from(text, "utf8")].map((byte) => `\\${byte.toString(8).padStart(3, "0")}`).join("");
}

function integer(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`device number ${value} is not a whole number`);
  return String(value);
}
