/**
 * Layouts for the ls/inspect/tag/rm/gc tests, and what a reader of the files
 * alone (not our library) says each index.json entry is.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ImageLayout } from "../../src/layout/layout.js";
import type { LayoutEntry } from "../../src/layout/list-entries.js";
import { MediaType } from "../../src/image/media-types.js";
import type { Descriptor } from "../../src/image/types.js";
import { runProgram } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";

const REF = "org.opencontainers.image.ref.name";

/** Written by our library: an image, a two-platform index, an artifact with a subject, an entry without a name. */
export async function writeMixedLayout(dir: string): Promise<ImageLayout> {
  const plain = await writeTestImage(dir, {
    layers: [[{ name: "shared.txt", content: "shared by two refs\n" }], [{ name: "a.txt", content: "plain\n" }]],
    tag: "plain",
    config: { created: "2024-03-01T10:00:00Z" },
  });
  await writeTestImage(dir, {
    layers: [[{ name: "shared.txt", content: "shared by two refs\n" }]],
    tag: "other",
    config: { created: "2024-03-02T10:00:00Z" },
  });
  const amd = await writeTestImage(dir, { layers: [[{ name: "x", content: "amd64\n" }]], tag: "amd" });
  const arm = await writeTestImage(dir, {
    layers: [[{ name: "x", content: "arm64\n" }]],
    tag: "arm",
    config: { architecture: "arm64", variant: "v8" },
  });
  const layout = plain.layout;
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { ...amd.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } },
      { ...arm.manifestDescriptor, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ],
  };
  const storedIndex = await layout.putBlobBytes(Buffer.from(JSON.stringify(index)));
  await layout.addRef({ mediaType: MediaType.ociIndex, digest: storedIndex.digest, size: storedIndex.size }, "multi");
  await layout.updateIndex((current) => ({
    ...current,
    manifests: current.manifests.filter((entry) => !["amd", "arm"].includes(entry.annotations?.[REF] ?? "")),
  }));
  await writeArtifact(layout, plain.manifestDescriptor);
  const untagged = await writeTestImage(dir, { layers: [[{ name: "u", content: "untagged\n" }]], tag: "tmp" });
  await layout.updateIndex((current) => ({
    ...current,
    manifests: current.manifests.map((entry) =>
      entry.annotations?.[REF] === "tmp" ? untagged.manifestDescriptor : entry,
    ),
  }));
  return layout;
}

/** writeMixedLayout in a child process, which has ended (no longer a writer gc must respect) when this returns. */
export async function writeMixedLayoutApart(dir: string): Promise<void> {
  const script = new URL("./write-mixed-layout.js", import.meta.url).pathname;
  const result = await runProgram(process.execPath, [script, dir]);
  if (result.status !== 0) throw new Error(`writing the mixed layout failed: ${result.stderr}`);
}

/** An SBOM-like artifact: artifactType, the empty config, one text layer, the plain image as subject. */
async function writeArtifact(layout: ImageLayout, subject: Descriptor): Promise<void> {
  const empty = await layout.putBlobBytes(Buffer.from("{}"));
  const sbom = await layout.putBlobBytes(Buffer.from('{"packages":[]}\n'));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: "application/spdx+json",
    config: { mediaType: MediaType.ociEmpty, digest: empty.digest, size: empty.size },
    layers: [{ mediaType: "application/spdx+json", digest: sbom.digest, size: sbom.size }],
    subject,
  };
  const stored = await layout.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
  const descriptor = { mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size };
  await layout.addRef({ ...descriptor, artifactType: "application/spdx+json" }, "sbom");
}

/** A row as `ls --json` prints it for an entry that reads well (no `problem`). */
export type ExpectedRow = Omit<LayoutEntry, "problem">;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function readBlobFile(root: string, digest: string): Promise<Buffer> {
  const bytes = await readFile(join(root, "blobs", ...digest.split(":")));
  const actual = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  if (actual !== digest) throw new Error(`blob ${digest} holds ${actual}`);
  return bytes;
}

const readJson = async (root: string, digest: string): Promise<Json> =>
  JSON.parse((await readBlobFile(root, digest)).toString()) as Json;

/** Every blob an entry reaches (subjects too when asked), each once, with its size. */
export async function reachedBlobs(root: string, descriptor: Json, subjects = false, into = new Map<string, number>()) {
  if (into.has(descriptor.digest)) return into;
  into.set(descriptor.digest, descriptor.size);
  if (!/index|manifest/.test(descriptor.mediaType)) return into;
  const document = await readJson(root, descriptor.digest);
  const children = document.manifests ?? [document.config, ...document.layers];
  if (subjects && document.subject) children.push(document.subject);
  for (const child of children) await reachedBlobs(root, child, subjects, into);
  return into;
}

const platformText = (p: Json) => [p.os, p.architecture, p.variant].filter(Boolean).join("/");

/** The `ls` row of each index.json entry, computed from the files. */
export async function expectedRows(root: string): Promise<ExpectedRow[]> {
  const index = JSON.parse(await readFile(join(root, "index.json"), "utf8")) as Json;
  const rows: ExpectedRow[] = [];
  for (const entry of index.manifests as Json[]) {
    const document = await readJson(root, entry.digest);
    const size = [...(await reachedBlobs(root, entry)).values()].reduce((a, b) => a + b, 0);
    let kind: string;
    let platforms: string[];
    let created: string | null = null;
    if (document.manifests) {
      platforms = [
        ...new Set((document.manifests as Json[]).filter((m) => m.platform).map((m) => platformText(m.platform))),
      ];
      kind = document.artifactType ?? "index";
    } else if (document.artifactType || !/image\.config|container\.image/.test(document.config.mediaType)) {
      kind = document.artifactType ?? document.config.mediaType;
      platforms = entry.platform ? [platformText(entry.platform)] : [];
    } else {
      const config = await readJson(root, document.config.digest);
      kind = "image";
      platforms = [platformText(config)];
      created = config.created ?? null;
    }
    const ref = entry.annotations?.[REF] ?? null;
    const source = entry.annotations?.["io.containerd.image.name"] ?? null;
    rows.push({ ref, digest: entry.digest, mediaType: entry.mediaType, kind, platforms, size, created, source });
  }
  return rows;
}
