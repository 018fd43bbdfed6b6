/**
 * Where a command's words go: results on stdout (or one JSON document with
 * `--json`), progress and warnings on stderr, nothing but errors with `--quiet`.
 * Streams are injected so commands can run in-process in tests.
 */
import type { Writable } from "node:stream";

export interface OutputOptions {
  stdout: Writable;
  stderr: Writable;
  json?: boolean;
  quiet?: boolean;
  /** Whether stderr is a terminal; defaults to asking the stream. */
  isTTY?: boolean;
  env?: NodeJS.ProcessEnv;
}

export class Output {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly json: boolean;
  readonly quiet: boolean;
  /** Live progress (spinners, byte counts) only on a terminal, never in CI or pipes. */
  readonly interactive: boolean;
  readonly color: boolean;

  constructor(options: OutputOptions) {
    const env = options.env ?? process.env;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    const tty = options.isTTY ?? (options.stderr as { isTTY?: boolean }).isTTY === true;
    this.interactive = tty && !this.quiet && !isCI(env) && env.TERM !== "dumb";
    this.color = tty && env.NO_COLOR === undefined;
  }

  /** A line of progress or information on stderr (not with --quiet). */
  info(line: string): void {
    if (!this.quiet) this.stderr.write(`${line}\n`);
  }

  warn(message: string): void {
    if (!this.quiet) this.stderr.write(`${this.paint("warning:", 33)} ${message}\n`);
  }

  error(message: string): void {
    this.stderr.write(`${this.paint("error:", 31)} ${message}\n`);
  }

  /** The result: `json` as one document with --json, else the human lines on stdout. */
  result(json: object, humanLines: string[] = []): void {
    if (this.json) this.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else for (const line of humanLines) this.stdout.write(`${line}\n`);
  }

  private paint(text: string, code: number): string {
    return this.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

function isCI(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== "" && env.CI !== "false" && env.CI !== "0";
}
