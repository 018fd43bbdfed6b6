/**
 * Ctrl-C and Ctrl-Z typed at a real terminal (a pseudo-terminal, not a pipe)
 * while create, validate and unpack run and draw progress: the keys must stay
 * signals (the terminal is never left in raw mode), Ctrl-C ends the command
 * within half a second with exit 130 and nothing half-written, Ctrl-Z
 * suspends and resuming finishes the work, and the terminal's modes are as
 * before afterwards.
 */
import assert from "node:assert/strict";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { CTRL_C, CTRL_Z, cursorShownAtEnd, runOnTerminal, type PtyStep } from "../helpers/pty.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";
import { requireTool } from "../helpers/tools.js";
import {
  assertFitsWidth,
  assertInterrupted,
  assertLayoutUnchanged,
  assertTerminalRestored,
  layoutState,
  makeLayeredImage,
  makeTree,
} from "./terminal-fixtures.js";

let work: string;
before(async () => {
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  work = await mkdtemp(join(tmpdir(), "oci-image-terminal-"));
  await makeTree(join(work, "tree"));
  await makeLayeredImage(join(work, "images"));
});
after(() => rm(work, { recursive: true, force: true }));

function hasPython(t: TestContext): boolean {
  return requireTool(t, "python3") !== undefined;
}

/** Moments of each command: as the display first appears, in the middle, near the end. */
const createMoments: [string, PtyStep[]][] = [
  ["early", [{ wait_output: "reading " }]],
  ["mid-read", [{ wait_output: "reading \\S+ [1-9][0-9]\\.[0-9] MB" }]],
  ["late", [{ wait_output: " 9[0-9]%" }]],
];

for (const [moment, steps] of createMoments) {
  test(`create: Ctrl-C ${moment} ends it with 130 and leaves the layout as it was`, async (t) => {
    if (!hasPython(t)) return;
    const layout = join(await tempDir(t), "layout");
    assert.equal((await runOciImage(["create", join(work, "tree", "small"), `${layout}:first`])).status, 0);
    const before = await layoutState(layout);
    const run = await runOnTerminal(["create", join(work, "tree"), `${layout}:second`], {
      steps: [...steps, { send: CTRL_C }],
    });
    assertInterrupted(run, `create (${moment})`);
    assertFitsWidth(run, 80);
    await assertLayoutUnchanged(layout, before, `create (${moment})`);
  });
}

test("create: Ctrl-Z suspends it, resuming finishes the image", async (t) => {
  if (!hasPython(t)) return;
  const layout = join(await tempDir(t), "layout");
  const run = await runOnTerminal(["create", join(work, "tree"), `${layout}:v1`], {
    steps: [{ wait_output: "reading \\S+ [1-9]" }, { send: CTRL_Z }, { wait_stopped: true }, { resume: true }],
  });
  assert.equal(run.failedStep, null, run.output);
  assert.equal(run.stops.length, 1, "Ctrl-Z did not stop the command");
  assert.ok(cursorShownAtEnd(run.output.slice(0, run.stopOffsets[0])), "the cursor is hidden while suspended");
  assert.equal(run.status, 0, run.output);
  assert.match(run.output.slice(run.stopOffsets[0]), /reading tree/, "the progress is drawn again after fg");
  assertTerminalRestored(run, "create after Ctrl-Z");
  assert.equal((await runOciImage(["validate", `${layout}:v1`])).status, 0);
});

const validateMoments: [string, PtyStep[]][] = [
  ["early", [{ wait_output: "checking layers" }]],
  ["mid", [{ wait_output: "checking layers [1-9][0-9.]* MB" }]],
  ["late", [{ wait_output: " [5-9][0-9]%" }]],
];

for (const [moment, steps] of validateMoments) {
  test(`validate: Ctrl-C ${moment} ends it with 130`, async (t) => {
    if (!hasPython(t)) return;
    // One layer at a time, so that every moment lasts.
    const run = await runOnTerminal(["validate", "--jobs", "1", join(work, "images")], {
      steps: [...steps, { send: CTRL_C }],
    });
    assertInterrupted(run, `validate (${moment})`);
    assertFitsWidth(run, 80);
  });
}

const unpackMoments: [string, PtyStep[]][] = [
  ["early", [{ wait_output: "unpacking layers" }]],
  ["mid", [{ wait_output: "applied layer 1/4" }]],
  ["late", [{ wait_output: "applied layer 3/4" }]],
];

for (const [moment, steps] of unpackMoments) {
  test(`unpack: Ctrl-C ${moment} ends it with 130 and removes the bundle`, async (t) => {
    if (!hasPython(t)) return;
    const parent = await tempDir(t);
    const run = await runOnTerminal(["unpack", "--rootless", `${join(work, "images")}:multi`, join(parent, "bundle")], {
      steps: [...steps, { send: CTRL_C }],
    });
    assertInterrupted(run, `unpack (${moment})`);
    assertFitsWidth(run, 80);
    // Nothing at the target; the staging directory beside it is removed right after the exit.
    assert.ok(!(await readdir(parent)).includes("bundle"), `unpack (${moment}): a bundle is left at the target`);
    const left = async () => (await readdir(parent)).length === 0;
    await waitFor(left, `unpack (${moment}): the bundle and its staging directory are removed`, 10_000);
  });
}

test("unpack: Ctrl-Z suspends it, resuming finishes the bundle", async (t) => {
  if (!hasPython(t)) return;
  const bundle = join(await tempDir(t), "bundle");
  const run = await runOnTerminal(["unpack", "--rootless", `${join(work, "images")}:multi`, bundle], {
    steps: [{ wait_output: "applied layer 1/4" }, { send: CTRL_Z }, { wait_stopped: true }, { resume: true }],
  });
  assert.equal(run.failedStep, null, run.output);
  assert.equal(run.stops.length, 1, "Ctrl-Z did not stop the command");
  assert.equal(run.status, 0, run.output);
  assertTerminalRestored(run, "unpack after Ctrl-Z");
  assert.deepEqual((await readdir(bundle)).sort(), ["config.json", "rootfs"]);
});

/** The live line of each command, drawn to the end in a narrow terminal: fitted, with its counts. */
const narrow: [string, () => string[], RegExp][] = [
  ["create", () => ["create", join(work, "tree"), join(work, "narrow-create")], /reading tree [\d.]+ [kMG]?B/],
  ["validate", () => ["validate", join(work, "images")], /checking/],
  ["unpack", () => ["unpack", "--rootless", `${join(work, "images")}:multi`, join(work, "narrow-bundle")], /unpacking/],
];

for (const [name, args, shows] of narrow) {
  test(`${name}: progress in a 30-column terminal keeps every line within 30 columns`, async (t) => {
    if (!hasPython(t)) return;
    const run = await runOnTerminal(args(), { cols: 30, stdoutPath: join(await tempDir(t), "stdout") });
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, shows);
    assertFitsWidth(run, 30);
    assertTerminalRestored(run, name);
  });
}

test("the progress lines, drawn in 120 columns, say layer n/N and bytes of the total as they go", async (t) => {
  if (!hasPython(t)) return;
  const run = await runOnTerminal(["validate", "--jobs", "1", join(work, "images")], {
    cols: 120,
    stdoutPath: join(await tempDir(t), "stdout"),
  });
  assert.equal(run.status, 0, run.output);
  const frames = [...run.output.matchAll(/checking layers ([\d.]+) (k?M?B) \/ 200\.\d MB {2}\d+%.*?(\d)\/4 layers/g)];
  assert.ok(frames.length > 0, run.output);
  assert.ok(
    frames.some((frame) => ["1", "2", "3"].includes(frame[3]!)),
    "no frame between the first layer and the last",
  );
  // Bytes move within a layer, not only when one is done (each layer is 50.0 MB).
  const layerBytes = (n: number) => (n * 50.05).toFixed(1);
  assert.ok(
    frames.some(
      (frame) => frame[2] === "MB" && Math.abs(Number(frame[1]) - Number(layerBytes(Number(frame[3])))) > 0.2,
    ),
    `no frame with part of a layer read: ${frames.map((frame) => frame[0]).join("; ")}`,
  );
  assertFitsWidth(run, 120);
});

test("unpack's live line shows the bytes unpacked while a layer is applied, and layer n/N", async (t) => {
  if (!hasPython(t)) return;
  const parent = await tempDir(t);
  const run = await runOnTerminal(["unpack", "--rootless", `${join(work, "images")}:multi`, join(parent, "bundle")], {
    cols: 120,
    stdoutPath: join(parent, "stdout"),
  });
  assert.equal(run.status, 0, run.output);
  const frames = [...run.output.matchAll(/unpacking layers ([\d.]+) (k?M?B) .*?(\d)\/4 layers/g)];
  assert.ok(
    frames.some((frame) => frame[3] === "0" && Number(frame[1]) > 0),
    `no frame with bytes of the first layer: ${frames.map((frame) => frame[0]).join("; ")}`,
  );
  assert.ok(frames.some((frame) => frame[3] === "3"));
  assertFitsWidth(run, 120);
});
