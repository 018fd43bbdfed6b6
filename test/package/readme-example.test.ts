/** The README's library example compiles under `tsc --strict` against the built package's types. */
import assert from "node:assert/strict";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { typecheckStrict } from "../helpers/typecheck.js";

/** The first TypeScript block of the README's Library section. */
async function libraryExample(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Library\n"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match, "README.md's Library section has a ```ts example");
  return match[1]!;
}

test("the README's library example type-checks with --strict", async (t) => {
  const dir = await tempDir(t);
  const example = await libraryExample();
  assert.match(example, /from "oci-image"/);
  await writeFile(join(dir, "example.ts"), example);
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  // "oci-image" resolves to this checkout as an installed package would: its package.json's exports and types.
  await mkdir(join(dir, "node_modules"));
  await symlink(REPO_ROOT, join(dir, "node_modules", "oci-image"), "dir");
  const result = await typecheckStrict(join(dir, "example.ts"), dir);
  assert.equal(result.status, 0, `tsc --strict on the README example:\n${result.stdout}${result.stderr}`);
});
