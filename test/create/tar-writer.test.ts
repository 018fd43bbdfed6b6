/** The layer tar written from a directory: every entry type, order, names, modes, owners, times. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { extract, type Header } from "tar-stream";
import { createLayerTar } from "../../src/layer/tar-writer.js";
import { tempDir } from "../helpers/temp.js";
import {
  DEEP_DIR,
  FIXED_MTIME,
  FUTURE_MTIME,
  LONG_NAME,
  NEWLINE_NAME,
  UNICODE_NAME,
  makeFixtureTree,
} from "./fixture-tree.js";

interface ReadEntry {
  header: Header;
  sha256: string;
  size: number;
}

async function readTar(tar: Readable): Promise<ReadEntry[]> {
  const entries: ReadEntry[] = [];
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on("entry", (header, stream, next) => {
      const hash = createHash("sha256");
      let size = 0;
      stream.on("data", (data: unknown) => {
        const chunk = data as Buffer;
        hash.update(chunk);
        size += chunk.length;
      });
      stream.on("end", () => {
        entries.push({ header, sha256: hash.digest("hex"), size });
        next();
      });
    });
    parser.on("finish", resolve);
    parser.on("error", reject);
    tar.on("error", reject);
  });
  tar.pipe(parser as unknown as NodeJS.WritableStream);
  await done;
  return entries;
}

/** Order: siblings bytewise, parents before children; no "./", directories end with "/". */
function assertTarOrder(entries: ReadEntry[]): void {
  const names = entries.map((entry) => entry.header.name);
  assert.ok(
    names.every((name) => !name.startsWith("./") && !name.startsWith("/")),
    "no ./ or / prefix",
  );
  assert.equal(new Set(names).size, names.length, "no path twice");
  for (const entry of entries)
    assert.equal(entry.header.type === "directory", entry.header.name.endsWith("/"), entry.header.name);
  for (const [index, name] of names.entries()) {
    const parent = name.replace(/\/$/, "").split("/").slice(0, -1).join("/");
    if (parent)
      assert.ok(names.indexOf(`${parent}/`) >= 0 && names.indexOf(`${parent}/`) < index, `${name} after its parent`);
  }
  const topLevel = names
    .filter((name) => !name.replace(/\/$/, "").includes("/"))
    .map((name) => name.replace(/\/$/, ""));
  assert.deepEqual(
    topLevel,
    [...topLevel].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
  );
}

test("every entry type is written in sorted order, with names, modes, links and devices", async (t) => {
  const root = await tempDir(t);
  const info = await makeFixtureTree(root);
  const entries = await readTar(createLayerTar(root));
  const byName = new Map(entries.map((entry) => [entry.header.name, entry]));
  assertTarOrder(entries);

  assert.equal(byName.get("dir/plain.txt")?.header.type, "file");
  assert.equal(byName.get("dir/plain.txt")?.size, 11);
  assert.equal(byName.get("dir/sub/empty")?.size, 0);
  assert.ok(byName.has("with space.txt"));
  assert.ok(byName.has(UNICODE_NAME), "unicode name kept");
  assert.ok(byName.has(NEWLINE_NAME), "newline name kept");
  assert.ok(byName.has(`${DEEP_DIR}/deep-file-with-a-name.txt`), "deep path over 100 bytes kept");
  assert.ok(byName.has(LONG_NAME), "200-byte name kept");
  assert.equal(byName.get("setuid")?.header.mode, 0o4755);
  assert.equal(byName.get("setgid")?.header.mode, 0o2711);
  assert.equal(byName.get("sticky/")?.header.mode, 0o1777);
  assert.equal(byName.get("private/")?.header.mode, 0o700);
  assert.equal(byName.get("link-relative")?.header.type, "symlink");
  assert.equal(byName.get("link-relative")?.header.linkname, "dir/plain.txt");
  assert.equal(byName.get("link-absolute")?.header.linkname, "/etc/passwd");
  assert.equal(byName.get("link-dangling")?.header.linkname, "../no/such/target");
  assert.equal(byName.get("link-long-target")?.header.linkname, "x".repeat(150));
  assert.equal(byName.get("fifo")?.header.type, "fifo");
  // Hardlinks: the first path (walk order) is the file, the others link to it.
  assert.equal(byName.get("dir/hard-2")?.header.type, "file");
  assert.equal(byName.get("hard-1")?.header.type, "link");
  assert.equal(byName.get("hard-1")?.header.linkname, "dir/hard-2");
  assert.equal(byName.get("hard-3")?.header.linkname, "dir/hard-2");
  assert.equal(byName.get("hard-3")?.size, 0);
  // Times: kept as they are without a clamp; no user or group names.
  assert.equal(byName.get("dir/plain.txt")?.header.mtime.getTime(), FIXED_MTIME * 1000);
  assert.equal(byName.get("future")?.header.mtime.getTime(), FUTURE_MTIME * 1000);
  for (const entry of entries) {
    assert.equal(entry.header.uname, "", `${entry.header.name} has no uname`);
    assert.equal(entry.header.gname, "", `${entry.header.name} has no gname`);
  }
  if (info.hasDevice) {
    assert.equal(byName.get("dev-null")?.header.type, "character-device");
    assert.deepEqual([byName.get("dev-null")?.header.devmajor, byName.get("dev-null")?.header.devminor], [1, 3]);
    assert.equal(byName.get("dev-loop")?.header.type, "block-device");
    assert.deepEqual([byName.get("dev-loop")?.header.devmajor, byName.get("dev-loop")?.header.devminor], [7, 200]);
  }
  if (info.hasOwner) {
    assert.deepEqual([byName.get("owned")?.header.uid, byName.get("owned")?.header.gid], [1234, 5678]);
    assert.deepEqual([byName.get("link-relative")?.header.uid, byName.get("link-relative")?.header.gid], [4321, 8765]);
  }
});

test("--owner and a clamp time apply to every entry", async (t) => {
  const root = await tempDir(t);
  await makeFixtureTree(root);
  const clamp = FIXED_MTIME + 100;
  const entries = await readTar(createLayerTar(root, { owner: { uid: 0, gid: 0 }, clampMtime: clamp }));
  for (const { header } of entries) {
    assert.deepEqual([header.uid, header.gid], [0, 0], header.name);
    assert.ok(header.mtime.getTime() <= clamp * 1000, header.name);
  }
  assert.equal(entries.find((entry) => entry.header.name === "future")?.header.mtime.getTime(), clamp * 1000);
  assert.equal(entries.find((entry) => entry.header.name === "setuid")?.header.mtime.getTime(), FIXED_MTIME * 1000);
});

test("ids too large for a ustar header are stored in PAX records", async (t) => {
  const root = await tempDir(t);
  await writeFile(join(root, "f"), "x");
  const chunks: Buffer[] = [];
  for await (const chunk of createLayerTar(root, { owner: { uid: 3_000_000, gid: 4_000_000 } }))
    chunks.push(chunk as Buffer);
  const [entry] = await readTar(Readable.from([Buffer.concat(chunks)]));
  assert.deepEqual(entry?.header.pax, { path: "f", uid: "3000000", gid: "4000000" });
  // GNU tar reads the PAX records over the header's fields.
  const listing = execFileSync("tar", ["--numeric-owner", "-tvf", "-"], {
    input: Buffer.concat(chunks),
    encoding: "utf8",
  });
  assert.match(listing, /^-rw\S+ 3000000\/4000000 +1 .* f$/m);
});

test("the same tree gives the same bytes twice", async (t) => {
  const root = await tempDir(t);
  await makeFixtureTree(root);
  const digest = async () => {
    const hash = createHash("sha256");
    for await (const chunk of createLayerTar(root, { clampMtime: FIXED_MTIME })) hash.update(chunk as Buffer);
    return hash.digest("hex");
  };
  assert.equal(await digest(), await digest());
});

test("a socket in the tree is refused with a clear error", async (t) => {
  const root = await tempDir(t);
  await writeFile(join(root, "a"), "a");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(root, "b.sock"), resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await assert.rejects(readTar(createLayerTar(root)), (error: Error & { code?: string }) => {
    assert.equal(error.code, "ROOTFS_SOCKET");
    assert.match(error.message, /b\.sock is a socket/);
    return true;
  });
});

test("a file name that is not UTF-8 is refused with a clear error", async (t) => {
  const root = await tempDir(t);
  await writeFile(Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff, 0xfe])]), "x");
  await assert.rejects(readTar(createLayerTar(root)), (error: Error & { code?: string }) => {
    assert.equal(error.code, "ROOTFS_NAME_ENCODING");
    assert.match(error.message, /bad-.*file name is not valid UTF-8/);
    return true;
  });
});
