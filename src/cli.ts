/**
 * The command line: global flags, SIGINT and SIGTERM, and the one place that maps errors
 * to exit statuses and calls process.exit. Commands load their library code
 * only when they run, so `--version` and `--help` stay fast.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { CommandContext } from "./commands/context.js";
import { AbortedError, fileSystemErrorOf, isOciImageError } from "./errors.js";

let version: string | undefined;

/** The package's version, read from package.json once per process. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
    .version;
  return version;
}

const PROGRAM_HELP = `
Examples:
  oci-image fetch alpine:3.20 ./images:alpine
  oci-image push ./images:mine localhost:5000/mine:1.0
  oci-image create ./rootfs ./images:mine --cmd '["/bin/sh"]'
  oci-image validate ./images
  oci-image ls ./images
  oci-image inspect ./images:alpine
  oci-image rm ./images:old && oci-image gc ./images
  oci-image unpack ./images:alpine ./bundle && sudo runc run -b ./bundle demo

The flags --json, -q/--quiet and --debug may come before the command too.
Exit status: 0 success, 1 failure or invalid input, 2 usage error, 130 interrupted,
143 terminated (SIGTERM).
Run 'oci-image help <command>' for a command's flags and examples.`;

type CommandFactory = (context: CommandContext) => Command;

/** Every command's factory, in the order help lists them. */
async function commandFactories(): Promise<CommandFactory[]> {
  const [fetch, push, create, validate, unpack, ls, inspect, tag, gc, completion] = await Promise.all([
    import("./commands/fetch.js"),
    import("./commands/push.js"),
    import("./commands/create.js"),
    import("./commands/validate.js"),
    import("./commands/unpack.js"),
    import("./commands/ls.js"),
    import("./commands/inspect.js"),
    import("./commands/tag.js"),
    import("./commands/gc.js"),
    import("./commands/completion.js"),
  ]);
  return [
    fetch.createFetchCommand,
    push.createPushCommand,
    create.createCommand,
    validate.createValidateCommand,
    unpack.createUnpackCommand,
    ls.createLsCommand,
    inspect.createInspectCommand,
    tag.createTagCommand,
    tag.createRmCommand,
    gc.createGcCommand,
    completion.completionCommand,
  ];
}

/** The commander program with every command; loaded only when a command (or help) is asked for. */
export async function buildProgram(context: CommandContext): Promise<Command> {
  const [{ Command }, factories] = await Promise.all([import("commander"), commandFactories()]);
  const output = {
    writeOut: (text: string) => context.stdout.write(text),
    writeErr: (text: string) => context.stderr.write(text),
  };
  const program = new Command("oci-image")
    .description("Fetch, push, create, validate and unpack OCI container images; list, inspect, tag and tidy layouts.")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--debug", "print stack traces of internal errors")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput(output)
    .exitOverride();
  for (const factory of factories) program.addCommand(factory(context).exitOverride().configureOutput(output));
  program.addHelpText("after", PROGRAM_HELP);
  return program;
}

/** Runs the CLI in-process and returns the exit status; never throws. */
export async function runCli(argv: string[], context: CommandContext): Promise<number> {
  const debug = argv.includes("--debug") || context.env.OCI_IMAGE_DEBUG === "1";
  const json = argv.includes("--json");
  try {
    await (await buildProgram(context)).parseAsync(commonFlagsAfterCommand(argv), { from: "user" });
    return context.exitCode ?? 0;
  } catch (error) {
    return reportError(error, context, { debug, json });
  }
}

/**
 * Flags every command takes (`--debug` is the program's own): given before the
 * command, they are moved after it, where the command reads them.
 */
const COMMON_FLAGS = new Set(["--json", "-q", "--quiet"]);

export function commonFlagsAfterCommand(argv: string[]): string[] {
  const commandAt = argv.findIndex((arg) => !arg.startsWith("-"));
  if (commandAt <= 0 || argv[commandAt] === "help") return argv;
  const leading = argv.slice(0, commandAt);
  const moved = leading.filter((arg) => COMMON_FLAGS.has(arg));
  const kept = leading.filter((arg) => !COMMON_FLAGS.has(arg));
  return [...kept, argv[commandAt]!, ...moved, ...argv.slice(commandAt + 1)];
}

function reportError(error: unknown, context: CommandContext, flags: { debug: boolean; json: boolean }): number {
  if (isCommanderError(error)) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
    // Help asked for is a success; help shown because the words were wrong (no command, `help nope`) is usage.
    if (error.code === "commander.help") return error.exitCode === 0 ? 0 : 2;
    // commander has printed its message already.
    if (flags.json) writeJsonFailure(context, "USAGE", error.message.replace(/^error: /, ""));
    return 2;
  }
  const interrupted = context.signal.aborted && !(isOciImageError(error) && error.exitCode !== 130);
  // A system error the user can cause (permissions, space, a wrong path) is theirs to fix, not a bug.
  const failure: unknown = interrupted ? new AbortedError() : (fileSystemErrorOf(error) ?? error);
  const known = isOciImageError(failure);
  const message = known ? failure.message : `internal error: ${(failure as Error)?.message ?? String(failure)}`;
  context.stderr.write(`oci-image: ${message}\n`);
  if (known && failure.exitCode === 2) context.stderr.write("(run with --help for usage)\n");
  if (flags.debug && failure instanceof Error && failure.stack) context.stderr.write(`${failure.stack}\n`);
  else if (!known)
    context.stderr.write("This is a bug in oci-image; run again with --debug for details and report it.\n");
  if (flags.json)
    writeJsonFailure(
      context,
      known ? failure.code : "INTERNAL",
      message,
      known ? { where: failure.where, pointer: failure.pointer } : {},
    );
  return known ? failure.exitCode : 1;
}

/** commander's own errors (usage, help, version) carry a `commander.*` code. */
function isCommanderError(error: unknown): error is Error & { code: string; exitCode: number } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && typeof code === "string" && code.startsWith("commander.");
}

function writeJsonFailure(
  context: CommandContext,
  code: string,
  message: string,
  place: { where?: string; pointer?: string } = {},
): void {
  context.stdout.write(`${JSON.stringify({ ok: false, errors: [{ code, message, ...place }] }, null, 2)}\n`);
}

/** The process entry: real streams, SIGINT or SIGTERM → abort (twice → exit now), exit with the status. */
export async function main(): Promise<never> {
  const controller = new AbortController();
  let interrupts = 0;
  // A reader that goes away (`oci-image help | head`) is not an error of ours.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  // SIGINT (Ctrl-C) and SIGTERM (`timeout`, service managers) both abort and clean up; a second one exits now.
  let interruptStatus = 130;
  const interrupt = (status: number) => () => {
    interruptStatus = status;
    if (++interrupts > 1) process.exit(status);
    controller.abort(new AbortedError());
  };
  process.on("SIGINT", interrupt(130));
  process.on("SIGTERM", interrupt(143));
  const context: CommandContext = {
    // Only validate's `-` reads stdin; opening it costs every other run several milliseconds.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    isTTY: process.stderr.isTTY === true,
  };
  const cliStatus = await runCli(process.argv.slice(2), context);
  const status = cliStatus === 130 ? interruptStatus : cliStatus;
  process.exitCode = status;
  // Let stdout drain (pipes) before leaving.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(status);
}
