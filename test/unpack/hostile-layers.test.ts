/**
 * One regression test per row of SECURITY.md's layer-tar table (rows 1–21),
 * each named after its row. Each builds the bad tar in code and, after
 * unpacking, checks that nothing outside the bundle changed (harness.ts).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, readdir, readFile, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { buildTar } from "../helpers/image-builder.js";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { isRoot } from "../helpers/tools.js";
import { expectFailure, expectSuccess, makeSandbox, paxRecords, rawEntry, rawTar, unpackCase } from "./harness.js";

const file = (name: string, content = "x", extra: object = {}) => ({ name, type: "file" as const, content, ...extra });
const dir = (name: string, extra: object = {}) => ({ name, type: "directory" as const, ...extra });
const sym = (name: string, linkname: string) => ({ name, type: "symlink" as const, linkname });
const hard = (name: string, linkname: string, extra: object = {}) => ({
  name,
  type: "link" as const,
  linkname,
  ...extra,
});

test("row 1: ../ and absolute entry names are cleaned and land under the rootfs", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [[file("../../x", "one"), file("../../../outside/x", "two"), file(`${box.hostTarget}/y`, "three")]],
  });
  expectSuccess(outcome);
  assert.equal(await readFile(join(box.rootfs, "x"), "utf8"), "one");
  assert.equal(await readFile(join(box.rootfs, "outside", "x"), "utf8"), "two");
  assert.equal(await readFile(join(box.rootfs, box.hostTarget, "y"), "utf8"), "three");
});

test("row 2: a symlink to /etc or ../../.. then a file through it writes inside the rootfs", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [
        sym("d", box.outside),
        file("d/x", "through absolute"),
        sym("up", "../../../../.."),
        file(`up${box.outside}/secret`, "through relative"),
        sym("host", box.hostTarget),
        file("host/z", "z"),
      ],
    ],
  });
  expectSuccess(outcome);
  assert.equal(await readFile(join(box.rootfs, box.outside, "x"), "utf8"), "through absolute");
  assert.equal(await readFile(join(box.rootfs, box.outside, "secret"), "utf8"), "through relative");
  assert.equal(await readFile(join(box.rootfs, box.hostTarget, "z"), "utf8"), "z");
  assert.equal(await readlink(join(box.rootfs, "d")), box.outside, "symlinks are stored verbatim");
});

test("row 3: symlink chains and a directory replaced by a symlink stay inside; loops are refused", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [dir("a"), dir("c"), sym("a/b", "../../c"), file("a/b/f", "chain"), dir("d"), file("d/one", "1")],
      // Next layer: d becomes a symlink pointing out, then an entry goes through it.
      [sym("d", "../../../outside"), file("d/x", "replaced"), sym("l1", "l2/../l3"), sym("l3", "l1"), sym("l2", "l1")],
    ],
  });
  expectSuccess(outcome);
  assert.equal(await readFile(join(box.rootfs, "c", "f"), "utf8"), "chain");
  assert.equal(await readFile(join(box.rootfs, "outside", "x"), "utf8"), "replaced");

  // Within one layer: deep directories already resolved (and cached), then an ancestor
  // replaced by a symlink out, then an entry below it again.
  const same = await makeSandbox(t);
  const sameOutcome = await unpackCase(same, {
    layers: [
      [
        dir("p"),
        dir("p/q"),
        file("p/q/r/one", "1"),
        file("p/q/r/s/two", "2"),
        sym("p", "../../../outside"),
        file("p/q/r/s/three", "3"),
      ],
    ],
  });
  expectSuccess(sameOutcome);
  assert.equal(await readFile(join(same.rootfs, "outside", "q", "r", "s", "three"), "utf8"), "3");
  assert.equal(existsSync(join(same.rootfs, "p", "q")), false, "the old directory went with its replacement");

  const loop = await makeSandbox(t);
  expectFailure(
    await unpackCase(loop, { layers: [[sym("l1", "l2"), sym("l2", "l1"), file("l1/x", "loop")]] }),
    "LAYER_SYMLINK_LOOP",
  );
  assert.equal(existsSync(loop.bundle), false, "a failed unpack removes the bundle");
});

test("row 4: an entry named ., / or empty may not change the root's type", async (t) => {
  for (const entries of [[sym(".", "/")], [file("/", "not a dir")], [file("./", "x")]]) {
    const box = await makeSandbox(t);
    expectFailure(await unpackCase(box, { layers: [entries] }), "LAYER_ROOT_REPLACED");
    assert.equal(existsSync(box.bundle), false);
  }
  const empty = await makeSandbox(t);
  expectFailure(
    await unpackCase(empty, { layers: [rawTar(rawEntry({ name: "", typeflag: "2", linkname: "/" }))] }),
    "LAYER_ROOT_REPLACED",
  );
  // A directory at the root is fine: it sets the root's attributes.
  const ok = await makeSandbox(t);
  expectSuccess(await unpackCase(ok, { layers: [[dir("./", { mode: 0o755 }), file("./a", "a")]] }));
  assert.equal((await stat(ok.rootfs)).mode & 0o7777, 0o755);
});

test("row 5: hardlinks to /etc/passwd, ../../x or through a symlinked directory resolve inside the rootfs", async (t) => {
  const box = await makeSandbox(t);
  const hostPasswd = await stat("/etc/passwd");
  const outcome = await unpackCase(box, {
    layers: [
      [dir("etc"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), file("x", "inner x"), sym("d", "/etc")],
      [
        hard("p1", "/etc/passwd"),
        hard("p2", "../../x"),
        hard("p3", "d/passwd"),
        hard("p4", "../../../outside/x"),
      ].slice(0, 3),
    ],
  });
  expectSuccess(outcome);
  const inner = await stat(join(box.rootfs, "etc", "passwd"));
  for (const name of ["p1", "p3"])
    assert.equal((await stat(join(box.rootfs, name))).ino, inner.ino, `${name} links the rootfs's /etc/passwd`);
  assert.equal((await stat(join(box.rootfs, "p2"))).ino, (await stat(join(box.rootfs, "x"))).ino);
  assert.equal((await stat("/etc/passwd")).nlink, hostPasswd.nlink, "the host's /etc/passwd got no new link");

  const missing = await makeSandbox(t);
  expectFailure(await unpackCase(missing, { layers: [[hard("p", "../../../outside/x")]] }), "LAYER_BAD_LINK");
});

test("row 6: a hardlink to a symlink pointing outside never carries chmod/chown/utimes to the target", async (t) => {
  const box = await makeSandbox(t);
  const secret = join(box.outside, "secret");
  const outcome = await unpackCase(box, {
    layers: [
      [
        sym("s", secret),
        hard("h", "s", { mode: 0o777, uid: 1234, gid: 1234, mtime: new Date(0) }),
        sym("s2", "../../../outside/secret"),
        hard("h2", "s2", { mode: 0o4777 }),
      ],
    ],
  });
  expectSuccess(outcome);
  assert.ok((await lstat(join(box.rootfs, "h"))).isSymbolicLink(), "the hardlink is a link to the symlink itself");
  // The outside file's mode, owner and mtime are checked by the harness snapshot.
  assert.equal((await stat(secret)).mode & 0o7777, 0o600);
});

test("row 7: hardlinks to a directory, a missing path or a later entry are refused", async (t) => {
  const cases = [[dir("d"), hard("h", "d")], [hard("h", "nowhere")], [hard("h", "later"), file("later", "x")]];
  for (const entries of cases) {
    const box = await makeSandbox(t);
    expectFailure(await unpackCase(box, { layers: [entries] }), "LAYER_BAD_LINK");
    assert.equal(existsSync(box.bundle), false);
  }
});

test("row 8: whiteouts .wh.., .wh..., x/.wh.. and a bare .wh. are refused", async (t) => {
  for (const name of [".wh..", ".wh...", "x/.wh..", ".wh.", "x/.wh.", ".wh.x/y"]) {
    const box = await makeSandbox(t);
    const layers = [[dir("x"), file("x/keep", "k")], [file(name, "")]];
    expectFailure(await unpackCase(box, { layers }), "LAYER_BAD_WHITEOUT");
    assert.equal(existsSync(box.bundle), false, `${name}: bundle removed`);
  }
});

test("row 9: a whiteout under a symlinked parent or of a symlink deletes inside the rootfs only", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [
        sym("d", box.outside),
        sym("rel", "../../../outside"),
        sym("l", join(box.outside, "x")),
        dir(box.outside.slice(1)),
        file(`${box.outside.slice(1)}/x`, "inner"),
      ],
      [file("d/.wh.secret", ""), file("rel/.wh.x", ""), file(".wh.l", ""), file("d/.wh.x", "")],
    ],
  });
  expectSuccess(outcome);
  assert.equal(existsSync(join(box.rootfs, "l")), false, "the symlink itself is gone");
  assert.equal(
    existsSync(join(box.rootfs, box.outside, "x")),
    false,
    "the rootfs's own copy behind the symlinked parent was deleted",
  );
  assert.equal(await readFile(join(box.outside, "x"), "utf8"), "original x\n");
});

test("row 10: an opaque whiteout hides lower children only, wherever it stands in the tar", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [
        dir("d"),
        file("d/old", "lower"),
        dir("d/sub"),
        file("d/sub/old", "lower"),
        dir("e"),
        file("e/old", "lower"),
        file("e/kept-by-upper", "lower"),
      ],
      [
        file("d/new-before", "upper"),
        dir("d/sub"),
        file("d/.wh..wh..opq", ""),
        file("d/new-after", "upper"),
        file("e/.wh..wh..opq", ""),
        file("e/kept-by-upper", "upper"),
      ],
    ],
  });
  expectSuccess(outcome);
  assert.deepEqual((await readdir(join(box.rootfs, "d"))).sort(), ["new-after", "new-before", "sub"]);
  assert.deepEqual(await readdir(join(box.rootfs, "d", "sub")), [], "the lower d/sub's children are hidden too");
  assert.deepEqual(await readdir(join(box.rootfs, "e")), ["kept-by-upper"]);
  assert.equal(await readFile(join(box.rootfs, "e", "kept-by-upper"), "utf8"), "upper");
});

test("row 11: the same path twice in one layer: the last wins", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [
        file("a", "first"),
        file("a", "second"),
        file("b", "file"),
        dir("b"),
        file("b/c", "in dir"),
        dir("c"),
        file("c/x"),
        file("c", "now a file"),
      ],
    ],
  });
  expectSuccess(outcome);
  assert.equal(await readFile(join(box.rootfs, "a"), "utf8"), "second");
  assert.equal(await readFile(join(box.rootfs, "b", "c"), "utf8"), "in dir");
  assert.equal(await readFile(join(box.rootfs, "c"), "utf8"), "now a file");
});

test("row 12: a file where a later entry needs a directory is refused", async (t) => {
  const box = await makeSandbox(t);
  expectFailure(
    await unpackCase(box, { layers: [[file("f", "file"), file("f/x", "under a file")]] }),
    "LAYER_PARENT_NOT_DIRECTORY",
  );
  assert.equal(existsSync(box.bundle), false);
  const lower = await makeSandbox(t);
  expectFailure(
    await unpackCase(lower, { layers: [[file("f", "file")], [file("f/x", "under a lower file")]] }),
    "LAYER_PARENT_NOT_DIRECTORY",
  );
});

test("row 13: devices are skipped with a warning when rootless; FIFOs are made; as root devices are made", async (t) => {
  const entries = [
    { name: "null", type: "character-device" as const, devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "blk", type: "block-device" as const, devmajor: 7, devminor: 0 },
    { name: "pipe", type: "fifo" as const, mode: 0o644 },
  ];
  const box = await makeSandbox(t);
  expectSuccess(await unpackCase(box, { layers: [entries], options: { rootless: true } }));
  assert.equal(existsSync(join(box.rootfs, "null")), false);
  assert.equal(existsSync(join(box.rootfs, "blk")), false);
  assert.ok((await lstat(join(box.rootfs, "pipe"))).isFIFO());
  assert.ok(
    box.warnings.some((w) => /null: character-device skipped/.test(w)),
    box.warnings.join("\n"),
  );
  if (!isRoot()) return;
  const root = await makeSandbox(t);
  expectSuccess(await unpackCase(root, { layers: [entries] }));
  const made = await lstat(join(root.rootfs, "null"));
  assert.ok(made.isCharacterDevice());
  assert.equal(made.rdev, (await stat("/dev/null")).rdev);
  assert.equal(made.mode & 0o7777, 0o666);
});

test(
  "row 13: FIFO and device names that look like shell syntax are made exactly as named",
  { timeout: 60_000 },
  async (t) => {
    const canary = `oci-image-canary-${process.pid}`;
    const names = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `a'b"c; touch ${canary}`,
      "back\\slash",
      "new\nline",
      "trailing\n",
      "spa ce",
      "-n",
      "ünï",
      "%s%d",
    ];
    const entries = names.map((name) => ({ name: `fifos/${name}`, type: "fifo" as const, mode: 0o640 }));
    if (isRoot())
      entries.push(
        ...(names.map((name) => ({
          name: `devices/${name}`,
          type: "character-device" as const,
          devmajor: 1,
          devminor: 3,
          mode: 0o666,
        })) as never[]),
      );
    const box = await makeSandbox(t);
    expectSuccess(await unpackCase(box, { layers: [entries] }));
    assert.deepEqual((await readdir(join(box.rootfs, "fifos"))).sort(), [...names].sort());
    for (const name of names) {
      const stats = await lstat(join(box.rootfs, "fifos", name));
      assert.ok(stats.isFIFO(), name);
      assert.equal(stats.mode & 0o7777, 0o640, name);
      if (isRoot()) assert.ok((await lstat(join(box.rootfs, "devices", name))).isCharacterDevice(), name);
    }
    for (const place of [process.cwd(), box.rootfs, box.dir])
      assert.equal(existsSync(join(place, canary)), false, `nothing ran in ${place}`);
  },
);

test("row 14: setuid, setgid and sticky bits are kept; the bundle is 0700", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [
        file("suid", "#!", { mode: 0o4755, uid: 1000, gid: 1000 }),
        file("sgid", "#!", { mode: 0o2755, uid: 0, gid: 50 }),
        dir("tmp", { mode: 0o1777 }),
        dir("ro", { mode: 0o555 }),
        file("ro/f", "inside a 0555 dir"),
      ],
    ],
  });
  expectSuccess(outcome);
  assert.equal((await stat(join(box.rootfs, "suid"))).mode & 0o7777, 0o4755, "setuid survives chown");
  assert.equal((await stat(join(box.rootfs, "sgid"))).mode & 0o7777, 0o2755);
  assert.equal((await stat(join(box.rootfs, "tmp"))).mode & 0o7777, 0o1777);
  assert.equal((await stat(join(box.rootfs, "ro"))).mode & 0o7777, 0o555);
  assert.equal((await stat(box.bundle)).mode & 0o7777, 0o700);
  if (isRoot()) assert.equal((await stat(join(box.rootfs, "suid"))).uid, 1000);
});

test("row 15: owners are recorded, not applied, when rootless; no EPERM failure", async (t) => {
  const box = await makeSandbox(t);
  expectSuccess(
    await unpackCase(box, {
      layers: [[file("owned", "x", { uid: 4242, gid: 4343 }), dir("d", { uid: 4242, gid: 1 })]],
      options: { rootless: true },
    }),
  );
  assert.equal((await stat(join(box.rootfs, "owned"))).uid, process.getuid!());
  assert.ok(
    box.warnings.some((w) => /2 entries owned by other users/.test(w)),
    box.warnings.join("\n"),
  );
  assert.equal(
    await readFile(join(box.bundle, "rootfs-owners.tsv"), "utf8"),
    "4242:4343\t/owned\n4242:1\t/d\n",
    "the owners are recorded",
  );
});

test("row 16: xattrs (trusted.*, security.*) are skipped with a warning, never failing", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [
        file("cap", "bin", {
          pax: { "SCHILY.xattr.security.capability": "\u0001\u0000\u0000\u0002", "SCHILY.xattr.trusted.x": "y" },
        }),
      ],
    ],
  });
  expectSuccess(outcome);
  assert.ok(
    box.warnings.some((w) => /extended attributes not applied \(security\.capability, trusted\.x\)/.test(w)),
    box.warnings.join("\n"),
  );
});

test("row 17: a decompression bomb stops at the disk budget; a header claiming a huge size is refused", async (t) => {
  const box = await makeSandbox(t);
  const bomb = await buildTar([file("zeros", Buffer.alloc(20 * 1024 * 1024) as unknown as string)]);
  assert.ok(gzipSync(bomb).length < 100 * 1024, "the layer is small compressed");
  const outcome = await unpackCase(box, { layers: [bomb], options: { maxSize: 5 * 1024 * 1024 } });
  expectFailure(outcome, "LAYER_TOO_LARGE");
  assert.equal(existsSync(box.bundle), false);
  const huge = await makeSandbox(t);
  const header = rawEntry({ name: "huge", typeflag: "0" }).subarray(0, 512);
  header.write(`${(8 * 1024 ** 3).toString(8).padStart(11, "0")}\0`, 124);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  expectFailure(
    await unpackCase(huge, { layers: [Buffer.concat([header, Buffer.alloc(4096, 1)])] }),
    /LAYER_INVALID_TAR: .*Unexpected end of data/,
  );
  assert.equal(existsSync(huge.bundle), false);
});

test("row 18: PAX headers over 1 MiB, names and link targets over 4096 bytes are refused", async (t) => {
  const bigPax = rawTar(
    rawEntry({ name: "PaxHeader", typeflag: "x" }, paxRecords({ comment: "a".repeat(1024 * 1024 + 10) })),
    rawEntry({ name: "f", typeflag: "0" }, Buffer.from("x")),
  );
  const longName = "d/".repeat(2100) + "f";
  const cases: [Buffer | Parameters<typeof buildTar>[0], string][] = [
    [bigPax, "LAYER_HEADER_TOO_LARGE"],
    [[file(longName, "deep")], "LAYER_PATH_TOO_LONG"],
    [[sym("s", "a/".repeat(2100))], "LAYER_PATH_TOO_LONG"],
  ];
  for (const [layer, code] of cases) {
    const box = await makeSandbox(t);
    expectFailure(await unpackCase(box, { layers: [layer] }), code);
    assert.equal(existsSync(box.bundle), false);
  }
});

test("row 19: truncated gzip or tar data is refused and the bundle removed", async (t) => {
  const tar = await buildTar([file("a", "a".repeat(100_000)), file("b", "b")]);
  const box = await makeSandbox(t);
  expectFailure(
    await unpackCase(box, { layers: [tar.subarray(0, 5000)], compression: "none" }),
    /LAYER_INVALID_TAR: .*Unexpected end of data/,
  );
  assert.equal(existsSync(box.bundle), false);
  const gz = gzipSync(tar);
  const box2 = await makeSandbox(t);
  const outcome = await unpackCase(box2, {
    layers: [],
    rawLayers: [{ blob: gz.subarray(0, gz.length - 40), mediaType: MediaType.ociLayerGzip, diffId: digestOf(tar) }],
  });
  expectFailure(outcome, "LAYER_CORRUPT");
  assert.equal(existsSync(box2.bundle), false);
});

test("row 20: a diff_id mismatch or fewer diff_ids than layers are refused", async (t) => {
  const box = await makeSandbox(t);
  const wrong = `sha256:${"0".repeat(64)}`;
  expectFailure(
    await unpackCase(box, { layers: [[file("a")]], config: { rootfs: { type: "layers", diff_ids: [wrong] } } }),
    "DIGEST_MISMATCH",
  );
  assert.equal(existsSync(box.bundle), false);
  const few = await makeSandbox(t);
  const layerA = await buildTar([file("a")]);
  expectFailure(
    await unpackCase(few, {
      layers: [layerA, [file("b")]],
      config: { rootfs: { type: "layers", diff_ids: [digestOf(layerA)] } },
    }),
    "DIFF_ID_COUNT",
  );
  assert.equal(existsSync(few.bundle), false, "nothing is written before the counts are checked");
});

test("row 21: unknown typeflags are refused; PAX global headers are warned about", async (t) => {
  const box = await makeSandbox(t);
  expectFailure(
    await unpackCase(box, { layers: [rawTar(rawEntry({ name: "weird", typeflag: "Z" }))] }),
    "LAYER_UNKNOWN_TYPE",
  );
  const sparse = await makeSandbox(t);
  expectFailure(
    await unpackCase(sparse, { layers: [rawTar(rawEntry({ name: "sparse", typeflag: "S" }, Buffer.from("x")))] }),
    "LAYER_UNKNOWN_TYPE",
  );
  const global = await makeSandbox(t);
  const tar = rawTar(
    rawEntry(
      { name: "pax_global_header", typeflag: "g" },
      paxRecords({ comment: "hello", path: "../../../outside/x" }),
    ),
    rawEntry({ name: "PaxHeader/f", typeflag: "x" }, paxRecords({ mtime: "1700000000.5" })),
    rawEntry({ name: "f", typeflag: "0" }, Buffer.from("data")),
  );
  expectSuccess(await unpackCase(global, { layers: [tar] }));
  assert.equal(await readFile(join(global.rootfs, "f"), "utf8"), "data", "the global header's path is not applied");
  assert.deepEqual(await readdir(global.rootfs), ["f"]);
  assert.ok(
    global.warnings.some((w) => /PAX global header/.test(w)),
    global.warnings.join("\n"),
  );
});

test("rows 3+6, rootless: a read-only directory reopened for writing, then its parent replaced by a symlink out, is not chmodded outside", async (t) => {
  const box = await makeSandbox(t);
  const outcome = await unpackCase(box, {
    layers: [
      [dir("a"), dir("a/dir", { mode: 0o555 })],
      [
        file("a/dir/x", "written into a 0555 directory"),
        sym("a", "../../../outside"),
        file("a/after", "through the new symlink"),
      ],
    ],
    options: { rootless: true },
  });
  expectSuccess(outcome);
  assert.equal(await readFile(join(box.rootfs, "outside", "after"), "utf8"), "through the new symlink");
});
