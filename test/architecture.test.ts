/** Imports point down the layer list of the architecture, never up. */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, dirname, resolve } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/cli.js";

/** What each part of src/ may import (besides itself and Node's modules). */
const ALLOWED: Record<string, string[]> = {
  "cli.ts": ["commands", "ui", "errors.ts"],
  "index.ts": [
    "validate",
    "build",
    "bundle",
    "transfer",
    "registry",
    "layout",
    "layer",
    "schema",
    "image",
    "errors.ts",
  ],
  commands: [
    "validate",
    "build",
    "bundle",
    "transfer",
    "registry",
    "layout",
    "layer",
    "schema",
    "image",
    "ui",
    "errors.ts",
  ],
  ui: [],
  validate: ["layout", "layer", "schema", "image", "errors.ts"],
  bundle: ["layer", "layout", "image", "errors.ts"],
  build: ["layer", "layout", "image", "errors.ts"],
  transfer: ["registry", "layout", "image", "errors.ts"],
  registry: ["image", "errors.ts"],
  layout: ["image", "errors.ts"],
  layer: ["image", "errors.ts"],
  schema: ["image", "errors.ts"],
  image: ["errors.ts"],
  "errors.ts": [],
};

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name));
}

function partOf(srcRelative: string): string {
  return srcRelative.split("/")[0]!;
}

test("imports in src/ point down the layers only", async () => {
  const src = join(REPO_ROOT, "src");
  const violations: string[] = [];
  for (const file of await sourceFiles(src)) {
    const from = partOf(relative(src, file));
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/(?:from\s+|import\()\s*["'](\.[^"']+)["']/g)) {
      const target = relative(src, resolve(dirname(file), match[1]!.replace(/\.js$/, ".ts")));
      const to = partOf(target);
      if (to === from) continue;
      assert.ok(from in ALLOWED, `unknown part of src/: ${from}`);
      if (!ALLOWED[from]!.includes(to)) violations.push(`${relative(src, file)} imports ${target}`);
    }
  }
  assert.deepEqual(violations, []);
});

test("no command imports another command", async () => {
  const commands = join(REPO_ROOT, "src", "commands");
  const shared = new Set(["context.ts"]);
  for (const file of await sourceFiles(commands)) {
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/from\s+["']\.\/([^"']+)\.js["']/g)) {
      assert.ok(shared.has(`${match[1]}.ts`), `${relative(commands, file)} imports the command ${match[1]}`);
    }
  }
});
