/** `oci-image completion bash|zsh`: the scripts load in real shells and complete from the real program. */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";

async function bashScript(t: import("node:test").TestContext): Promise<string> {
  const result = await runOciImage(["completion", "bash"]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, "");
  const file = join(await tempDir(t), "oci-image.bash");
  await writeFile(file, result.stdout);
  return file;
}

/** What the bash completion function offers for these words (the last one is being completed). */
async function complete(script: string, words: string[], cwd?: string): Promise<string[]> {
  const quoted = words.map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  const program = `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}; _oci_image; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = await runProgram("bash", ["-c", program, "bash", script], { cwd });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, "");
  return result.stdout.split("\n").filter(Boolean).sort();
}

test("the bash script registers itself for oci-image", async (t) => {
  const script = await bashScript(t);
  const result = await runProgram("bash", ["-c", 'source "$1" && complete -p oci-image', "bash", script]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), "complete -F _oci_image oci-image");
});

test("bash completes command names", async (t) => {
  const script = await bashScript(t);
  assert.deepEqual(await complete(script, ["oci-image", "fe"]), ["fetch"]);
  assert.deepEqual(await complete(script, ["oci-image", "un"]), ["unpack"]);
  assert.deepEqual(await complete(script, ["oci-image", "pu"]), ["push"]);
  assert.deepEqual(await complete(script, ["oci-image", ""]), [
    "completion",
    "create",
    "fetch",
    "gc",
    "help",
    "inspect",
    "ls",
    "push",
    "rm",
    "tag",
    "unpack",
    "validate",
  ]);
  assert.deepEqual(await complete(script, ["oci-image", "in"]), ["inspect"]);
  assert.deepEqual(await complete(script, ["oci-image", "--debug", "va"]), ["validate"]);
  assert.deepEqual(await complete(script, ["oci-image", "--ver"]), ["--version"]);
});

test("bash completes argument choices and `help <command>`", async (t) => {
  const script = await bashScript(t);
  assert.deepEqual(await complete(script, ["oci-image", "completion", ""]), ["bash", "zsh"]);
  assert.deepEqual(await complete(script, ["oci-image", "help", "cr"]), ["create"]);
  // Once the shell is given, the choices are not offered again.
  const dir = await tempDir(t);
  await writeFile(join(dir, "bashrc"), "");
  assert.deepEqual(await complete(script, ["oci-image", "completion", "bash", "b"], dir), ["bashrc"]);
});

test("bash completes every long option each command's --help lists", async (t) => {
  const script = await bashScript(t);
  const commands = ["fetch", "push", "create", "validate", "unpack", "ls", "inspect", "tag", "rm", "gc", "completion"];
  for (const command of commands) {
    const help = await runOciImage([command, "--help"]);
    assert.equal(help.status, 0, help.stderr);
    const listed = [
      ...new Set([...help.stdout.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((match) => match[1]!)),
    ].sort();
    assert.ok(listed.includes("--help"), `${command} --help lists --help`);
    const offered = await complete(script, ["oci-image", command, "--"]);
    assert.deepEqual(offered, listed, `options offered for ${command}`);
  }
});

test("bash completes create's base flags, and a base layout's path after --base", async (t) => {
  const script = await bashScript(t);
  assert.deepEqual(await complete(script, ["oci-image", "create", "--b"]), ["--base"]);
  assert.deepEqual(await complete(script, ["oci-image", "create", "--re"]), ["--remove"]);
  assert.deepEqual(await complete(script, ["oci-image", "create", "--wh"]), ["--whiteouts"]);
  const dir = await tempDir(t);
  await writeFile(join(dir, "debian-layout"), "");
  assert.deepEqual(await complete(script, ["oci-image", "create", "--base", "deb"], dir), ["debian-layout"]);
});

test("bash completes file names for positional arguments", async (t) => {
  const script = await bashScript(t);
  const dir = await tempDir(t);
  await writeFile(join(dir, "manifest.json"), "{}");
  await writeFile(join(dir, "other.txt"), "");
  assert.deepEqual(await complete(script, ["oci-image", "validate", "man"], dir), ["manifest.json"]);
});

test("an unknown shell is a usage error", async () => {
  const result = await runOciImage(["completion", "fish"]);
  assert.equal(result.status, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /bash, zsh/);
});

test("the zsh script parses and registers with compinit", async (t) => {
  const zsh = requireTool(t, "zsh");
  if (!zsh) return;
  const result = await runOciImage(["completion", "zsh"]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^#compdef oci-image\n/);
  for (const command of ["fetch", "create", "validate", "unpack", "ls", "inspect", "tag", "rm", "gc"])
    assert.match(result.stdout, new RegExp(`'${command}:`));
  const dir = await tempDir(t);
  const file = join(dir, "_oci-image");
  await writeFile(file, result.stdout);
  const syntax = await runProgram(zsh, ["-n", file]);
  assert.equal(syntax.status, 0, syntax.stderr);
  const loaded = await runProgram(
    zsh,
    [
      "-f",
      "-c",
      'autoload -U compinit && compinit -u -D && source "$1" && print -r -- "$_comps[oci-image]"',
      "zsh",
      file,
    ],
    {
      env: { HOME: dir, ZDOTDIR: dir },
    },
  );
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.equal(loaded.stdout.trim(), "_oci_image");
});

/** A program with awkward descriptions and fixed choices, to exercise the renderers beyond today's CLI. */
async function syntheticProgram(): Promise<import("commander").Command> {
  const { Command, Option } = await import("commander");
  const program = new Command("oci-image").option("--debug", "print [stack] traces: it's 'raw' \\ text");
  program
    .command("create")
    .description("make it: [fast] & 'safe'")
    .addOption(new Option("--compression <kind>", "layer codec (default: gzip)").choices(["gzip", "zstd", "none"]))
    .option("-l, --label <k=v>", 'a label\'s text: with "quotes"')
    .argument("<dir>");
  return program;
}

test("bash completes an option's fixed choices and files after a value option", async (t) => {
  const { describeProgram, renderBash } = await import("../../src/ui/completion-script.js");
  const file = join(await tempDir(t), "synthetic.bash");
  await writeFile(file, renderBash(describeProgram(await syntheticProgram())));
  assert.deepEqual(await complete(file, ["oci-image", "create", "--compression", "z"]), ["zstd"]);
  assert.deepEqual(await complete(file, ["oci-image", "create", "--compression", ""]), ["gzip", "none", "zstd"]);
  assert.deepEqual(await complete(file, ["oci-image", "create", "--c"]), ["--compression"]);
  const dir = await tempDir(t);
  await writeFile(join(dir, "labels.txt"), "");
  assert.deepEqual(await complete(file, ["oci-image", "create", "-l", "lab"], dir), ["labels.txt"]);
});

test("the zsh script stays valid with quotes, brackets and colons in descriptions", async (t) => {
  const zsh = requireTool(t, "zsh");
  if (!zsh) return;
  const { describeProgram, renderZsh } = await import("../../src/ui/completion-script.js");
  const script = renderZsh(describeProgram(await syntheticProgram()));
  assert.match(script, /--compression\[layer codec \(default\\: gzip\)\]:value:\(gzip zstd none\)/);
  const file = join(await tempDir(t), "_oci-image");
  await writeFile(file, script);
  const syntax = await runProgram(zsh, ["-n", file]);
  assert.equal(syntax.status, 0, syntax.stderr);
});
