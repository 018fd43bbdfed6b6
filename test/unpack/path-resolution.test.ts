/** Unit tests: entry-name cleaning, whiteout parsing, and chroot-like resolution inside a root. */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cleanEntryPath } from "../../src/layer/entry-name.js";
import { interpretEntry, type EntryNames } from "../../src/layer/entry-policy.js";
import { resolveInRoot } from "../../src/layer/root-resolver.js";
import { parseWhiteout } from "../../src/layer/whiteout.js";
import { tempDir } from "../helpers/temp.js";

test("entry names are cleaned under the root", () => {
  const cases: [string, string[]][] = [
    ["a/b/c", ["a", "b", "c"]],
    ["./a//b/", ["a", "b"]],
    ["/etc/passwd", ["etc", "passwd"]],
    ["../../x", ["x"]],
    ["a/../../b", ["b"]],
    [".", []],
    ["/", []],
    ["", []],
  ];
  for (const [name, parts] of cases) assert.deepEqual(cleanEntryPath(name), parts, name);
  assert.throws(() => cleanEntryPath("a".repeat(4097)), { code: "LAYER_PATH_TOO_LONG" });
  assert.throws(() => cleanEntryPath("a\0b"), { code: "LAYER_PATH_INVALID" });
});

test("whiteout names", () => {
  assert.deepEqual(parseWhiteout(["d", "file"]), { kind: "none" });
  assert.deepEqual(parseWhiteout(["d", ".wh.file"]), { kind: "file", target: ["d", "file"] });
  assert.deepEqual(parseWhiteout([".wh.file"]), { kind: "file", target: ["file"] });
  assert.deepEqual(parseWhiteout(["d", ".wh..wh..opq"]), { kind: "opaque", directory: ["d"] });
  assert.deepEqual(parseWhiteout([".wh..wh.plnk", "123"]), { kind: "meta" });
  for (const parts of [[".wh."], [".wh.."], [".wh..."], ["x", ".wh.."], [".wh.d", "f"]]) {
    assert.throws(() => parseWhiteout(parts), { code: "LAYER_BAD_WHITEOUT" }, parts.join("/"));
  }
});

const named = (name: string, extra: Partial<EntryNames> = {}): EntryNames => ({
  name,
  type: "file",
  typeflag: "0",
  linkname: "",
  ...extra,
});
const rulesOf = (entry: ReturnType<typeof interpretEntry>) =>
  entry.findings.map((f) => `${f.rule}:${f.severity}${f.fatal ? ":fatal" : ""}`);

test("one entry policy: the clean path, the whiteout kind and the findings unpack and validate share", () => {
  const climbing = interpretEntry(named("../../etc/x"));
  assert.deepEqual(climbing.parts, ["etc", "x"], "applied cleaned");
  assert.deepEqual(climbing.meaning, { kind: "entry", type: "file", link: undefined });
  assert.deepEqual(rulesOf(climbing), ["layer-path-unsafe:error"], "reported by validate, not fatal to unpack");
  assert.deepEqual(rulesOf(interpretEntry(named("a/../b"))), [], "a .. that stays inside is fine");
  assert.deepEqual(rulesOf(interpretEntry(named("/abs"))), ["layer-path-absolute:warning"]);
  // Lengths are counted in bytes, as the kernel counts them: 2100 two-byte characters are over 4096.
  assert.deepEqual(rulesOf(interpretEntry(named("é".repeat(2100)))), ["layer-path-too-long:error:fatal"]);
  assert.deepEqual(rulesOf(interpretEntry(named("a".repeat(4096)))), []);
  const plnk = interpretEntry(named(".wh..wh.plnk/123.456"));
  assert.deepEqual(plnk.meaning, { kind: "meta" });
  assert.deepEqual(rulesOf(plnk), ["layer-whiteout-meta:warning"]);
  assert.deepEqual(interpretEntry(named("d/.wh.x")).meaning, { kind: "whiteout", target: ["d", "x"] });
  assert.deepEqual(interpretEntry(named("d/.wh..wh..opq")).meaning, { kind: "opaque", directory: ["d"] });
  assert.deepEqual(rulesOf(interpretEntry(named("d/.wh.."))), ["layer-whiteout-invalid:error:fatal"]);
  assert.deepEqual(rulesOf(interpretEntry(named("x", { type: null, typeflag: "Z" }))), [
    "layer-entry-type:error:fatal",
  ]);
  assert.deepEqual(rulesOf(interpretEntry(named("./"))), ["layer-root-entry:error:fatal"]);
  assert.equal(interpretEntry(named("./", { type: "directory" })).meaning?.kind, "entry");
  const hard = interpretEntry(named("l", { type: "link", typeflag: "1", linkname: "../../etc/passwd" }));
  assert.deepEqual(hard.meaning, { kind: "entry", type: "link", link: ["etc", "passwd"] });
  assert.deepEqual(rulesOf(hard), ["layer-link-unsafe:error"]);
  assert.deepEqual(rulesOf(interpretEntry(named("l", { type: "link", typeflag: "1", linkname: "/" }))), [
    "layer-hardlink-invalid:error:fatal",
  ]);
  assert.deepEqual(rulesOf(interpretEntry(named("s", { type: "symlink", typeflag: "2", linkname: "" }))), [
    "layer-link-invalid:error:fatal",
  ]);
  assert.deepEqual(rulesOf(interpretEntry(named("s", { type: "symlink", typeflag: "2", linkname: "../../x" }))), []);
  assert.deepEqual(rulesOf(interpretEntry(named("a\0b"))), ["layer-path-unsafe:error:fatal"]);
});

test("resolution follows symlinks as if chrooted, one component at a time", async (t) => {
  const root = await tempDir(t);
  await mkdir(join(root, "real", "deep"), { recursive: true });
  await writeFile(join(root, "real", "deep", "f"), "x");
  await symlink("/real", join(root, "abs"));
  await symlink("../../../../real/deep", join(root, "real", "up"));
  await symlink("abs/deep", join(root, "chain"));
  await symlink("/nowhere/x", join(root, "dangling"));
  await symlink("loop2", join(root, "loop1"));
  await symlink("loop1", join(root, "loop2"));
  await writeFile(join(root, "file"), "f");

  const through = await resolveInRoot(root, ["abs", "deep", "f"]);
  assert.deepEqual(through.parts, ["real", "deep", "f"]);
  assert.ok(through.stats?.isFile());
  assert.deepEqual(
    (await resolveInRoot(root, ["real", "up", "f"])).parts,
    ["real", "deep", "f"],
    "../ stops at the root",
  );
  assert.deepEqual((await resolveInRoot(root, ["chain", "f"])).parts, ["real", "deep", "f"]);
  const notFollowed = await resolveInRoot(root, ["chain"]);
  assert.deepEqual(notFollowed.parts, ["chain"]);
  assert.ok(notFollowed.stats?.isSymbolicLink(), "the last component is not followed unless asked");
  assert.deepEqual((await resolveInRoot(root, ["chain"], { followLast: true })).parts, ["real", "deep"]);
  const dangling = await resolveInRoot(root, ["dangling", "y"]);
  assert.deepEqual(dangling.parts, ["nowhere", "x", "y"]);
  assert.equal(dangling.stats, undefined);
  assert.equal(dangling.path, join(root, "nowhere", "x", "y"));
  assert.deepEqual((await resolveInRoot(root, ["missing", "..", "real"])).parts, ["real"]);
  assert.ok(
    (await resolveInRoot(root, ["missing", "..", "real"])).stats?.isDirectory(),
    "back out of a missing part, the rest is looked at again",
  );
  await assert.rejects(resolveInRoot(root, ["loop1", "x"]), { code: "LAYER_SYMLINK_LOOP" });
  await assert.rejects(resolveInRoot(root, ["file", "x"]), { code: "LAYER_PARENT_NOT_DIRECTORY" });
});
