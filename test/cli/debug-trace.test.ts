/**
 * bin/oci-image runs a bundle; under --debug (or OCI_IMAGE_DEBUG=1) its source
 * maps are read, so a failure's stack trace names the TypeScript sources, and
 * without it no trace is printed at all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

/** A frame of the trace in one of the project's own .ts files: `(/…/src/dir/file.ts:LINE:COLUMN)`. */
const SOURCE_FRAME = /\(\/\S*\/src\/\S+\.ts:\d+:\d+\)/;

test("with --debug, a failure's stack trace points at src/*.ts, not at the bundle", async (t) => {
  const missing = join(await tempDir(t), "no-such-layout");
  for (const [args, env] of [
    [["--debug", "ls", missing], {}],
    [["ls", missing], { OCI_IMAGE_DEBUG: "1" }],
  ] as const) {
    const result = await runOciImage([...args], { env });
    assert.equal(result.status, 2, result.stderr);
    assert.ok(hasStackTrace(result.stderr), result.stderr);
    assert.match(result.stderr, SOURCE_FRAME);
    assert.doesNotMatch(result.stderr, /dist\/cli\/cli\.js/);
  }
});

test("without --debug the same failure prints its message and no trace", async (t) => {
  const result = await runOciImage(["ls", join(await tempDir(t), "no-such-layout")]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^oci-image: .*no-such-layout/);
  assert.equal(hasStackTrace(result.stderr), false, result.stderr);
});
