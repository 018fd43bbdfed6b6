/** What every command gets from the CLI: streams, environment, cwd and the interrupt signal. */
import type { Readable, Writable } from "node:stream";
import { InvalidArgumentError } from "commander";
import { Output } from "../ui/output.js";

export interface CommandContext {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT; every long operation takes it. */
  signal: AbortSignal;
  /** Whether stderr is a terminal (progress is shown only then). */
  isTTY?: boolean;
  /** Set by a command that finishes without throwing but must not exit 0 (validate: invalid). */
  exitCode?: number;
}

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
}

export function outputFor(context: CommandContext, flags: OutputFlags): Output {
  return new Output({
    stdout: context.stdout,
    stderr: context.stderr,
    json: flags.json,
    quiet: flags.quiet,
    isTTY: context.isTTY,
    env: context.env,
  });
}

/** Collects a repeatable option's values (`-e A=1 -e B=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses a whole-number option within [min, max], for commander (exit 2 when it isn't one). */
export function wholeNumber(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? (min > 0 ? ` of at least ${min}` : "") : ` from ${min} to ${max}`;
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value) || number < min || number > max)
      throw new InvalidArgumentError(`${name} must be a whole number${range}, not "${value}"`);
    return number;
  };
}

/** Wraps a parser so that what it throws becomes commander's usage error (exit 2). */
export function usageArgument<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}
