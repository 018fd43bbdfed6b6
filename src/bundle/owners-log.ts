/** Rootless: the owners the layers asked for and could not get, one `uid:gid<TAB>path` line each, in layer order. */
import { closeSync, openSync, writeSync } from "node:fs";

export const OWNERS_FILE = "rootfs-owners.tsv";

export class OwnersLog {
  private fd: number | undefined;
  constructor(private readonly path: string) {}
  add(entryPath: string, uid: number, gid: number): void {
    this.fd ??= openSync(this.path, "wx", 0o644);
    writeSync(
      this.fd,
      `${uid}:${gid}\t${entryPath.replace(/[\t\n\\]/g, (c) => (c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\\\"))}\n`,
    );
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
