/**
 * A layer over 100 MB of incompressible data validates in bounded memory: the
 * blob is streamed (digest, gunzip, diff_id, tar) and never held. The peak
 * resident set of the validating process is measured by /usr/bin/time -v (or,
 * without it, by polling /proc/<pid>/status for VmHWM).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { test } from "node:test";
import { pack } from "tar-stream";
import { DigestingStream } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { BIN } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const FILE_SIZE = 110 * 1024 * 1024;
const MEMORY_LIMIT_KB = 150 * 1024;

/** Random bytes, a chunk at a time: never the whole file in memory. */
function randomStream(total: number): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(1024 * 1024, left)));
      left -= chunk.length;
      this.push(chunk);
    },
  });
}

async function writeBigLayer(dir: string): Promise<{ path: string; diffId: string }> {
  const random = join(dir, "random.bin");
  await pipeline(randomStream(FILE_SIZE), createWriteStream(random));
  const tar = pack();
  const entry = tar.entry({ name: "big.bin", size: FILE_SIZE, mode: 0o644, mtime: new Date(0) }, (error) => {
    if (error) tar.destroy(error);
    else tar.finalize();
  });
  const feeding = pipeline(createReadStream(random), entry);
  const diffId = new DigestingStream();
  const path = join(dir, "layer.tar.gz");
  await Promise.all([feeding, pipeline(tar, diffId, createGzip({ level: 1 }), createWriteStream(path))]);
  return { path, diffId: diffId.digest() };
}

interface Measured {
  status: number | null;
  stdout: string;
  peakKb: number;
}

/** Runs the CLI and measures its peak RSS. */
function runMeasured(args: string[]): Promise<Measured> {
  const useTime = existsSync("/usr/bin/time");
  const command = useTime ? "/usr/bin/time" : process.execPath;
  const argv = useTime ? ["-v", process.execPath, BIN, ...args] : [BIN, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let polledKb = 0;
    const poll = useTime
      ? undefined
      : setInterval(() => {
          readFile(`/proc/${child.pid}/status`, "utf8")
            .then((status) => {
              const match = /VmHWM:\s+(\d+) kB/.exec(status);
              if (match) polledKb = Math.max(polledKb, Number(match[1]));
            })
            .catch(() => {});
        }, 20);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => {
      if (poll) clearInterval(poll);
      const fromTime = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const peakKb = fromTime ? Number(fromTime[1]) : polledKb;
      if (!peakKb) return reject(new Error(`could not measure memory: ${stderr}`));
      resolve({ status, stdout, peakKb });
    });
  });
}

test(
  `a ${FILE_SIZE / 1024 / 1024} MiB random layer validates with peak RSS under ${MEMORY_LIMIT_KB / 1024} MiB`,
  { timeout: 300_000 },
  async (t) => {
    const dir = await tempDir(t);
    const layer = await writeBigLayer(dir);
    const layout = await ImageLayout.openOrCreate(join(dir, "layout"));
    const stored = await layout.putBlob(createReadStream(layer.path));
    assert.ok(stored.size > 100 * 1024 * 1024, `layer blob is only ${stored.size} bytes`);
    const config = await layout.putBlobBytes(
      Buffer.from(
        JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layer.diffId] } }),
      ),
    );
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: stored.digest, size: stored.size }],
    };
    const stored2 = await layout.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
    await layout.addRef({ mediaType: MediaType.ociManifest, digest: stored2.digest, size: stored2.size }, "big");

    const result = await runMeasured(["validate", "--json", join(dir, "layout")]);
    const report = JSON.parse(result.stdout);
    assert.equal(result.status, 0, result.stdout);
    assert.equal(report.valid, true);
    assert.equal(report.checked[0].layers, 1);
    t.diagnostic(
      `peak RSS ${(result.peakKb / 1024).toFixed(1)} MiB validating a ${((await stat(layer.path)).size / 1024 / 1024).toFixed(0)} MiB layer`,
    );
    assert.ok(result.peakKb < MEMORY_LIMIT_KB, `peak RSS ${result.peakKb} kB is over ${MEMORY_LIMIT_KB} kB`);

    // A wrong diff_id on the same big layer is still found, in the same bounded memory.
    const badConfig = await layout.putBlobBytes(
      Buffer.from(
        JSON.stringify({
          architecture: "amd64",
          os: "linux",
          rootfs: { type: "layers", diff_ids: [`sha256:${"e".repeat(64)}`] },
        }),
      ),
    );
    const badManifest = await layout.putBlobBytes(
      Buffer.from(
        JSON.stringify({
          ...manifest,
          config: { mediaType: MediaType.ociConfig, digest: badConfig.digest, size: badConfig.size },
        }),
      ),
    );
    await layout.addRef(
      { mediaType: MediaType.ociManifest, digest: badManifest.digest, size: badManifest.size },
      "bad",
    );
    const bad = await runMeasured(["validate", "--json", `${join(dir, "layout")}:bad`]);
    assert.equal(bad.status, 1);
    assert.deepEqual(
      JSON.parse(bad.stdout).errors.map((e: { rule: string }) => e.rule),
      ["layer-diff-id"],
    );
    assert.ok(bad.peakKb < MEMORY_LIMIT_KB, `peak RSS ${bad.peakKb} kB is over ${MEMORY_LIMIT_KB} kB`);
  },
);
