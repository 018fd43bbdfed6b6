/** Imports point down the layer list of the architecture, never up. */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, dirname, resolve } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/cli.js";

/** What each part of src/ may import (besides itself and Node's modules). */
const ALLOWED: Record<string, string[]> = {
  "cli.ts": ["commands", "ui", "errors.ts", "util"],
  "index.ts": [
    "validate",
    "create",
    "bundle",
    "transfer",
    "registry",
    "layout",
    "layer",
    "schema",
    "image",
    "errors.ts",
    "util",
  ],
  commands: [
    "validate",
    "create",
    "bundle",
    "transfer",
    "registry",
    "layout",
    "layer",
    "schema",
    "image",
    "ui",
    "errors.ts",
    "util",
  ],
  ui: [],
  validate: ["layout", "layer", "schema", "image", "errors.ts", "util"],
  bundle: ["layer", "layout", "image", "errors.ts", "util"],
  create: ["layer", "layout", "image", "errors.ts", "util"],
  transfer: ["registry", "layout", "image", "errors.ts", "util"],
  registry: ["image", "errors.ts", "util"],
  layout: ["schema", "image", "errors.ts", "util"],
  layer: ["image", "errors.ts", "util"],
  schema: ["image", "errors.ts", "util"],
  image: ["errors.ts", "util"],
  "errors.ts": ["error-codes.ts"],
  "error-codes.ts": [],
  /** Small helpers that know nothing of images: they import nothing of ours. */
  util: [],
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
  const shared = new Set(["context.ts", "create-flags.ts", "registry-options.ts"]);
  for (const file of await sourceFiles(commands)) {
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/from\s+["']\.\/([^"']+)\.js["']/g)) {
      assert.ok(shared.has(`${match[1]}.ts`), `${relative(commands, file)} imports the command ${match[1]}`);
    }
  }
});
