/** The blob store: hashing while writing, verified reads, and digests checked before they become paths. */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { digestOf } from "../../src/image/digest.js";
import { MAX_DOCUMENT_SIZE } from "../../src/image/json.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { tempDir } from "../helpers/temp.js";

async function newLayout(t: Parameters<typeof tempDir>[0]): Promise<ImageLayout> {
  return ImageLayout.openOrCreate(join(await tempDir(t), "layout"));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function tempFiles(layout: ImageLayout): Promise<string[]> {
  return (await readdir(layout.root)).filter((name) => name.startsWith(".oci-image-tmp-"));
}

test("putBlob hashes as it writes and stores the blob under blobs/<alg>/<encoded>", async (t) => {
  const layout = await newLayout(t);
  const data = Buffer.from("some layer bytes");
  const stored = await layout.putBlob(Readable.from([data.subarray(0, 4), data.subarray(4)]));
  assert.deepEqual(stored, { digest: digestOf(data), size: data.length, existed: false });
  assert.deepEqual(await readFile(join(layout.root, "blobs", "sha256", digestOf(data).slice(7))), data);
  assert.equal(await layout.hasBlob(stored.digest), true);
  assert.equal(await layout.hasBlob(stored.digest, data.length + 1), false);
  assert.deepEqual(await tempFiles(layout), []);
});

test("putBlob with an expected digest: a mismatch stores nothing, a present blob is not read again", async (t) => {
  const layout = await newLayout(t);
  const data = Buffer.from("expected bytes");
  await assert.rejects(
    layout.putBlob(Readable.from([Buffer.from("other bytes!!!")]), {
      expected: { digest: digestOf(data), size: data.length },
    }),
    { code: "DIGEST_MISMATCH" },
  );
  await assert.rejects(
    layout.putBlob(Readable.from([data, data]), { expected: { digest: digestOf(data), size: data.length } }),
    { code: "DIGEST_MISMATCH" },
  );
  await assert.rejects(
    layout.putBlob(Readable.from([data.subarray(1)]), { expected: { digest: digestOf(data), size: data.length } }),
    { code: "DIGEST_MISMATCH" },
  );
  assert.equal(await layout.hasBlob(digestOf(data)), false);
  assert.deepEqual(await readdir(join(layout.root, "blobs", "sha256")), []);
  assert.deepEqual(await tempFiles(layout), []);

  await layout.putBlobBytes(data);
  let read = false;
  const source = new Readable({
    read() {
      read = true;
      this.push(null);
    },
  });
  const again = await layout.putBlob(source, { expected: { digest: digestOf(data), size: data.length } });
  assert.equal(again.existed, true);
  assert.equal(read, false, "the source of a present blob must not be read");
});

test("openBlob checks the size before reading and the digest as the stream ends", async (t) => {
  const layout = await newLayout(t);
  const data = Buffer.from("0123456789");
  const { digest, size } = await layout.putBlobBytes(data);
  assert.deepEqual(await readAll(await layout.openBlob({ digest, size })), data);
  await assert.rejects(layout.openBlob({ digest, size: size + 1 }), { code: "DIGEST_MISMATCH" });
  // Same size, other bytes: only the digest at the end can tell.
  await writeFile(layout.blobPath(digest), Buffer.from("0123456788"));
  await assert.rejects(readAll(await layout.openBlob({ digest, size })), { code: "DIGEST_MISMATCH" });
  await assert.rejects(layout.readBlob({ digest, size }), { code: "DIGEST_MISMATCH" });
  await assert.rejects(layout.openBlob({ digest: digestOf("absent"), size: 6 }), { code: "BLOB_UNKNOWN" });
});

test("readJsonBlob: verified, strictly parsed, capped at 4 MiB", async (t) => {
  const layout = await newLayout(t);
  const good = await layout.putBlobBytes(Buffer.from('{"a":1}'));
  assert.deepEqual(await layout.readJsonBlob(good), { a: 1 });
  const duplicate = await layout.putBlobBytes(Buffer.from('{"a":1,"a":2}'));
  await assert.rejects(layout.readJsonBlob(duplicate), { code: "JSON_DUPLICATE_KEY" });
  await assert.rejects(layout.readJsonBlob({ digest: good.digest, size: MAX_DOCUMENT_SIZE + 1 }), {
    code: "DOCUMENT_TOO_LARGE",
  });
  await assert.rejects(layout.readJsonBlob({ digest: good.digest, size: good.size - 1 }), { code: "DIGEST_MISMATCH" });
});

test("malformed digests are refused before any path is joined", async (t) => {
  const layout = await newLayout(t);
  // If a digest were joined into a path, these would find this file.
  await mkdir(join(layout.root, "etc"));
  await writeFile(join(layout.root, "etc", "passwd"), "{}");
  const bad = [
    "sha256:../../etc/passwd",
    "sha256/../../etc/passwd",
    `sha256:${"A".repeat(64)}`,
    "sha256:abc",
    "../x:y",
    "",
    "sha256:",
  ];
  for (const digest of bad) {
    assert.throws(() => layout.blobPath(digest), { code: "DIGEST_INVALID" }, digest);
    await assert.rejects(layout.hasBlob(digest), { code: "DIGEST_INVALID" }, digest);
    await assert.rejects(layout.openBlob({ digest, size: 2 }), { code: "DIGEST_INVALID" }, digest);
    await assert.rejects(layout.readJsonBlob({ digest, size: 2 }), { code: "DIGEST_INVALID" }, digest);
    await assert.rejects(
      layout.putBlob(Readable.from([Buffer.from("{}")]), { expected: { digest, size: 2 } }),
      { code: "DIGEST_INVALID" },
      digest,
    );
  }
  // Grammatical but unknown algorithms can't be verified, so they are not stored or read either.
  await assert.rejects(layout.openBlob({ digest: "blake3:abcd", size: 2 }), { code: "DIGEST_UNSUPPORTED" });
});
