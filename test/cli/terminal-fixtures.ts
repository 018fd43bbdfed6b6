/** Inputs big enough that a command is still running when a key is typed, and checks of what it left. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { BIN, runOciImage } from "../helpers/cli.js";
import { cursorShownAtEnd, plainText, widestLine, type PtyRun } from "../helpers/pty.js";
import { writeTestImage, type TarEntry } from "../helpers/image-builder.js";

/** A tree of `big` files of `bigBytes` random bytes (slow to compress) and `small` small files. */
export async function makeTree(dir: string, big = 40, bigBytes = 3_000_000, small = 2000): Promise<void> {
  await mkdir(join(dir, "small"), { recursive: true });
  for (let i = 0; i < big; i++) await writeFile(join(dir, `big-${i}`), randomBytes(bigBytes));
  for (let i = 0; i < small; i++) await writeFile(join(dir, "small", `file-${i}`), `${i}\n`);
}

/** An image of `layers` layers, each many small files and one large random one, tagged `multi`. */
export async function makeLayeredImage(layout: string, layers = 4): Promise<void> {
  const built: TarEntry[][] = [];
  for (let layer = 0; layer < layers; layer++) {
    const entries: TarEntry[] = [{ name: `layer-${layer}/`, type: "directory", mode: 0o755 }];
    for (let i = 0; i < 2500; i++)
      entries.push({ name: `layer-${layer}/file-${i}`, content: `${layer}:${i}\n`, mode: 0o644 });
    entries.push({ name: `layer-${layer}/blob`, content: randomBytes(50_000_000), mode: 0o644 });
    built.push(entries);
  }
  await writeTestImage(layout, { layers: built, tag: "multi" });
}

/** What a layout holds at its top: index.json's text and the names there (a temp file would show). */
export async function layoutState(layout: string): Promise<{ index: string; names: string[]; blobs: string[] }> {
  return {
    index: await readFile(join(layout, "index.json"), "utf8"),
    names: (await readdir(layout)).sort(),
    blobs: (await readdir(join(layout, "blobs", "sha256"))).sort(),
  };
}

/** The layout is as it was and still valid. */
export async function assertLayoutUnchanged(
  layout: string,
  before: { index: string; names: string[] },
  context: string,
): Promise<void> {
  const after = await layoutState(layout);
  assert.equal(after.index, before.index, `${context}: index.json changed`);
  assert.deepEqual(after.names, before.names, `${context}: files appeared or went at the layout's top`);
  const validate = await runOciImage(["validate", layout]);
  assert.equal(validate.status, 0, `${context}: the layout is no longer valid:\n${validate.stdout}${validate.stderr}`);
}

/** How long after the key the command must be gone. */
const PROMPT_MS = 500;

/** The checks every interrupted run shares: exit 130 soon after the key, the terminal as it was. */
export function assertInterrupted(run: PtyRun, what: string): void {
  assert.equal(run.failedStep, null, `${what}: the command ended before the key was sent:\n${run.output}`);
  assert.equal(run.signal, null, `${what}: killed by signal ${run.signal}`);
  assert.equal(run.status, 130, `${what}: exit ${run.status}\n${run.output}`);
  const late = run.exitMs - run.sends.at(-1)!;
  assert.ok(
    late <= PROMPT_MS,
    `${what}: ended ${late} ms after Ctrl-C (at most ${PROMPT_MS})\n${run.output.slice(-2000)}`,
  );
  assertTerminalRestored(run, what);
}

export function assertTerminalRestored(run: PtyRun, what: string): void {
  assert.deepEqual(run.modes, { isig: true, icanon: true, echo: true }, `${what}: terminal modes not restored`);
  assert.ok(cursorShownAtEnd(run.output), `${what}: the cursor is left hidden`);
}

/** No line on the screen is wider than the terminal (one would wrap and break the redrawing). */
export function assertFitsWidth(run: PtyRun, cols: number): void {
  const wide = plainText(run.output)
    .split("\n")
    .filter((line) => [...line].length > cols);
  assert.ok(widestLine(run.output) <= cols, `lines wider than ${cols} columns:\n${wide.join("\n")}`);
}

/**
 * Runs the CLI in a pipe, sends `signal` once `ready()` holds (polled every
 * 10 ms), and returns the exit status. Fails when the command ends first.
 */
export async function signalWhen(
  args: string[],
  ready: () => Promise<boolean>,
  signal: NodeJS.Signals = "SIGTERM",
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; afterMs: number }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const stderr: Buffer[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdout.resume();
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (status, sig) => resolve([status, sig])),
  );
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !(await ready())) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(!done, `oci-image ${args.join(" ")} ended before it was signalled: ${Buffer.concat(stderr).toString()}`);
  const sentAt = Date.now();
  child.kill(signal);
  const [status, sig] = await exited;
  return { status, signal: sig, stderr: Buffer.concat(stderr).toString(), afterMs: Date.now() - sentAt };
}

/** Whether a temporary file of a blob being written is at the layout's top. */
export async function hasTempFile(layout: string): Promise<boolean> {
  try {
    return (await readdir(layout)).some((name) => name.startsWith(".oci-image-tmp-"));
  } catch {
    return false;
  }
}
