/** SECURITY.md's tables cite tests that exist, and every layer case has its test named after its row. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/cli.js";

interface Row {
  id: number;
  tests: string;
}

async function rows(): Promise<Row[]> {
  const text = await readFile(join(REPO_ROOT, "SECURITY.md"), "utf8");
  return [...text.matchAll(/^\| (\d+) \|.*\| ([^|]+) \|$/gm)].map((match) => ({
    id: Number(match[1]),
    tests: match[2]!,
  }));
}

test("SECURITY.md numbers its cases 1 to 42 in order, each with a test column", async () => {
  const all = await rows();
  assert.deepEqual(
    all.map((row) => row.id),
    Array.from({ length: 42 }, (_, index) => index + 1),
  );
  for (const row of all) assert.match(row.tests, /`[a-z]+\/[a-z-]+`/, `row ${row.id} names a test file`);
});

test("every test SECURITY.md cites is in the file it names", async () => {
  for (const row of await rows()) {
    for (const part of row.tests.split(";")) {
      const file = /`([a-z]+\/[a-z-]+)`/.exec(part)?.[1];
      if (!file) continue;
      const source = await readFile(join(REPO_ROOT, "test", `${file}.test.ts`), "utf8");
      for (const quoted of part.matchAll(/"([^"]+)"/g))
        for (const piece of quoted[1]!.split(" … "))
          assert.ok(source.includes(piece), `row ${row.id}: test/${file}.test.ts has no test "${piece}"`);
    }
  }
});

test("each layer case (rows 1-21) has a test named after its row, and no such test names another row", async () => {
  const source = await readFile(join(REPO_ROOT, "test", "unpack", "hostile-layers.test.ts"), "utf8");
  const named = new Set([...source.matchAll(/"row (\d+):/g)].map((match) => Number(match[1])));
  for (let id = 1; id <= 21; id++) assert.ok(named.has(id), `a test named "row ${id}: …"`);
  assert.deepEqual(
    [...named].filter((id) => id > 21),
    [],
  );
});
