/**
 * Runs the real `bin/oci-image` on a pseudo-terminal of a fixed size (through
 * test/helpers/pty-driver.py), typing keys at chosen moments: what a person at
 * a terminal does, where a pipe would hide raw-mode and signal problems.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { BIN, REPO_ROOT } from "./cli.js";

export type PtyStep =
  { wait_output: string } | { sleep_ms: number } | { send: string } | { wait_stopped: true } | { resume: true };

export interface PtyOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  rows?: number;
  cols?: number;
  timeoutMs?: number;
  steps?: PtyStep[];
  /** A file that gets stdout, so that only stderr is on the terminal. */
  stdoutPath?: string;
}

export interface PtyRun {
  /** The exit status, or null when killed by a signal (then `signal` is its number). */
  status: number | null;
  signal: number | null;
  /** Everything written to the terminal, escape sequences included. */
  output: string;
  /** Milliseconds since the start: each key sent, each stop seen, the exit. */
  sends: number[];
  stops: number[];
  /** How much of `output` had been written when each stop was seen. */
  stopOffsets: number[];
  exitMs: number;
  /** The terminal's local modes once the program ended. */
  modes: { isig: boolean; icanon: boolean; echo: boolean };
  /** The step the run ended on before it was done (the program exited early or never printed what was awaited). */
  failedStep: PtyStep | null;
}

export const CTRL_C = "\u0003";
export const CTRL_Z = "\u001a";

export async function runOnTerminal(args: string[], options: PtyOptions = {}): Promise<PtyRun> {
  const spec: { env: NodeJS.ProcessEnv } & Record<string, unknown> = {
    argv: [process.execPath, BIN, ...args],
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, CI: "", NO_COLOR: "1", TERM: "xterm", ...options.env },
    rows: options.rows ?? 24,
    cols: options.cols ?? 80,
    timeout_ms: options.timeoutMs ?? 60_000,
    steps: options.steps ?? [],
    stdout_path: options.stdoutPath,
  };
  // CI=true would turn the live display off; the terminal is what is tested here.
  for (const [key, value] of Object.entries(spec.env)) if (value === undefined || value === "") delete spec.env[key];
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn("python3", [join(REPO_ROOT, "test", "helpers", "pty-driver.py")], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`pty driver exited ${code}`)),
    );
    child.stdin.end(JSON.stringify(spec));
  });
  const raw = JSON.parse(text) as {
    result: { status: number | null; signal: number | null; modes: PtyRun["modes"]; exit_ms: number } | null;
    output: string;
    sends: number[];
    stops: number[];
    stop_offsets: number[];
    failed_step: PtyStep | null;
  };
  if (!raw.result) throw new Error(`oci-image ${args.join(" ")} did not end on the terminal:\n${raw.output}`);
  return {
    status: raw.result.status,
    signal: raw.result.signal,
    output: raw.output,
    sends: raw.sends,
    stops: raw.stops,
    stopOffsets: raw.stop_offsets,
    exitMs: raw.result.exit_ms,
    modes: raw.result.modes,
    failedStep: raw.failed_step,
  };
}

/**
 * The widest a line got on the screen, in columns: characters are counted as
 * a terminal places them (CR and LF go back to column 0, `ESC [ n G` moves to
 * column n, other escape sequences take no room). A value over the terminal's
 * width means a line wrapped.
 */
export function widestLine(output: string): number {
  // The terminal's own echo of a typed control key (`^C`) is not the program's output.
  output = output.replace(/\^[CZ\\]/g, "");
  let column = 0;
  let widest = 0;
  const tokens = output.match(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Za-z0-9]|\u001b.|[\s\S]/gu) ?? [];
  for (const token of tokens) {
    if (token === "\r" || token === "\n") column = 0;
    else if (token === "\u0000") continue;
    else if (token.startsWith("\u001b[") && token.endsWith("G"))
      column = Math.max(0, Number(token.slice(2, -1) || 1) - 1);
    else if (token.startsWith("\u001b") || token < " ") continue;
    else widest = Math.max(widest, ++column);
  }
  return widest;
}

/** What was written, without escape sequences, line by line. */
export function plainText(output: string): string {
  return output
    .replace(/\^[CZ\\]/g, "")
    .replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Za-z0-9]/g, "")
    .replace(/\r\n|\r/g, "\n");
}

/** The cursor is shown again at the end if it was hidden. */
export function cursorShownAtEnd(output: string): boolean {
  const hide = output.lastIndexOf("\u001b[?25l");
  return hide === -1 || output.lastIndexOf("\u001b[?25h") > hide;
}
