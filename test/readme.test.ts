/** The README's quick-start command works word for word (after its `npm ci`). */
import assert from "node:assert/strict";
import { readFile, symlink, readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, runProgram } from "./helpers/cli.js";
import { tempDir } from "./helpers/temp.js";
import { assertValidRuntimeConfig } from "./helpers/runtime-spec.js";

async function quickStartCommands(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!.trim());
  return blocks.slice(0, 2);
}

test("the README starts with a main-job command and the test command", async () => {
  const [main, tests] = await quickStartCommands();
  assert.match(main!, /^npm ci && \.\/bin\/oci-image /);
  assert.equal(tests, "npm ci && npm test");
  assert.match(await readFile(join(REPO_ROOT, ".ci", "run"), "utf8"), /^npm test$/m);
});

test("the README's quick start runs on the bundled example without network", async (t) => {
  const [main] = await quickStartCommands();
  const work = await tempDir(t);
  await symlink(join(REPO_ROOT, "bin"), join(work, "bin"));
  await symlink(join(REPO_ROOT, "examples"), join(work, "examples"));
  // `npm ci` is what CI has just done; run the rest exactly as written.
  const command = main!.replace(/^npm ci && /, "");
  const result = await runProgram("sh", ["-c", command], { cwd: work });
  assert.equal(result.status, 0, result.stderr);
  const bundle = await readdir(join(work, "hello-bundle"));
  assert.deepEqual(bundle.sort(), ["config.json", "rootfs"]);
  await assertValidRuntimeConfig(t, join(work, "hello-bundle"));
  const greeting = await readFile(
    join(work, "hello-bundle", "rootfs", "usr", "share", "hello", "greeting.txt"),
    "utf8",
  );
  assert.equal(greeting, "Hello from an OCI image built by oci-image.\n");
});

test("the README's test section lists every Debian package .ci/run installs", async () => {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const ci = await readFile(join(REPO_ROOT, ".ci", "run"), "utf8");
  const listed = /^apt-get install (.+)$/m.exec(readme)?.[1]?.split(" ");
  const installed = /^packages=\(([^)]*)\)$/m.exec(ci)?.[1]?.split(/\s+/).filter(Boolean);
  assert.ok(listed && installed, "both lists are found");
  assert.deepEqual([...listed].sort(), [...installed].sort());
  assert.ok(listed.includes("busybox-static") && !listed.includes("busybox"), "the static busybox");
});
