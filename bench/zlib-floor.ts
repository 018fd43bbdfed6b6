/**
 * create's floor: the CPU time Node's own zlib spends at level 6 on a tar of
 * the tree, ÷ the cores (create compresses on every core). GNU tar makes the
 * tar in another process, so its reading of the files is not counted; the
 * compressed bytes are dropped.
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

export async function zlibFloorSeconds(tree: string): Promise<number> {
  const tar = spawn("tar", ["-cf", "-", "-C", tree, "."], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => tar.on("close", resolve));
  const before = process.cpuUsage();
  const drop = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(tar.stdout, createGzip({ level: 6 }), drop);
  const used = process.cpuUsage(before);
  if ((await exited) !== 0) throw new Error(`tar -cf - ${tree} failed`);
  return (used.user + used.system) / 1e6 / availableParallelism();
}
