/**
 * The least a Node.js program can do to fetch an image: undici's Agent, the
 * manifest, then config and layers four at a time, each hashed as it streams
 * into a file and fsynced. No layout, no auth, no retries, no checks beyond
 * the digest. The fetch benchmark runs it as a floor: what the runtime itself
 * costs on this machine, next to `oci-image fetch` and skopeo.
 *
 *   node dist/bench/fetch-floor.js 127.0.0.1:PORT/repo:tag OUTDIR
 */
import { createHash } from "node:crypto";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { createAgent, sendRequest } from "../src/registry/http-agent.js";

const [reference = "", outDir = ""] = process.argv.slice(2);
const match = /^([^/]+)\/(.+):([^:]+)$/.exec(reference);
if (!match || !outDir) throw new Error("usage: fetch-floor.js HOST:PORT/REPO:TAG OUTDIR");
const [, host, repository, tag] = match;
const origin = `http://${host}`;
// undici loaded the way oci-image loads it, so the floor pays the same start-up.
const agent = createAgent({});
const get = (path: string, headers: Record<string, string> = {}) =>
  sendRequest(agent, { origin, path, method: "GET", headers });

const manifestResponse = await get(`/v2/${repository}/manifests/${tag}`, {
  accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
});
const manifest = JSON.parse(await manifestResponse.body.text()) as {
  config: { digest: string };
  layers: { digest: string }[];
};
await mkdir(outDir, { recursive: true });
const digests = [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)];
const queue = [...digests];
await Promise.all(
  Array.from({ length: 4 }, async () => {
    for (let digest = queue.shift(); digest; digest = queue.shift()) {
      const response = await get(`/v2/${repository}/blobs/${digest}`);
      const hash = createHash("sha256");
      const file = await open(join(outDir, digest.replace(":", "-")), "w");
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
      await file.close();
      if (`sha256:${hash.digest("hex")}` !== digest) throw new Error(`${digest}: wrong content`);
    }
  }),
);
await agent.close();
