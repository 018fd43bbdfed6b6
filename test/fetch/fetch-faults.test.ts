/**
 * fetch through a fault-injecting proxy in front of a real registry (htpasswd
 * auth, so leaks of Authorization would show): redirects to another host, 429
 * and 5xx, resets and stalls mid-blob, wrong bytes, oversized manifests,
 * interrupts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { BIN, hasStackTrace, runOciImage, type CliResult } from "../helpers/cli.js";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { closeServer } from "../helpers/token-server.js";
import { listBlobs, pushTestImages, snapshotTree, type PushedImages } from "./fixtures.js";
import { checkWithPeers } from "./peers.js";
import { selfSignedCertificate } from "../helpers/certificate.js";

let registry: StartedRegistry | undefined;
let proxy: FaultProxy;
let images: PushedImages;
let bigLayer: string;

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo") || !toolPath("htpasswd")) {
    if (inCI()) throw new Error("docker-registry, skopeo and htpasswd are needed in CI");
    process.stderr.write("\n*** SKIPPING fetch fault tests: docker-registry, skopeo or htpasswd missing ***\n");
    return;
  }
  registry = await startRegistry({ auth: "htpasswd" });
  const creds = `${registry.username}:${registry.password}`;
  images = await pushTestImages(registry, "test/app", creds);
  proxy = await startFaultProxy(registry.url, {
    cdnUpstreamAuthorization: `Basic ${Buffer.from(creds).toString("base64")}`,
  });
  const manifest = JSON.parse(
    execFileSync(
      "skopeo",
      ["inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${registry.host}/${images.oci}`],
      { encoding: "utf8" },
    ),
  ) as { layers: { digest: string; size: number }[] };
  bigLayer = manifest.layers.find((layer) => layer.size === images.bigLayerSize)!.digest;
});

after(async () => {
  await proxy?.stop();
  await registry?.stop();
});

/** Runs fetch through the proxy with credentials, quick retries and a 1 s idle timeout. */
async function fetchVia(
  t: TestContext,
  rules: FaultRule[],
  args: string[],
  layout?: string,
): Promise<CliResult & { layout: string }> {
  proxy.reset(rules);
  const target = layout ?? join(await tempDir(t), "images");
  const dockerConfig = await tempDir(t, "oci-image-docker-config-");
  const result = await runOciImage(
    [
      "fetch",
      "-u",
      registry!.username!,
      "--password-stdin",
      "--timeout",
      "1",
      ...args.map((arg) => arg.replace("HOST", proxy.host)),
      target,
    ],
    {
      env: { OCI_IMAGE_RETRY_DELAY_MS: "20", DOCKER_CONFIG: dockerConfig, REGISTRY_AUTH_FILE: "" },
      input: registry!.password!,
    },
  );
  return { ...result, layout: target };
}

const blobPath = (digest: string) => new RegExp(`/blobs/${digest}$`);
const anyBlob = /\/blobs\/sha256:/;
const manifests = /\/manifests\//;

test("blob redirects to another host are followed without the registry's Authorization", async (t) => {
  if (!registry) return t.skip("no registry");
  const result = await fetchVia(
    t,
    [{ method: "GET", path: anyBlob, fault: { kind: "redirect" } }],
    ["HOST/test/app:oci"],
  );
  assert.equal(result.status, 0, result.stderr);
  const cdn = proxy.requests.filter((request) => request.server === "cdn");
  assert.equal(cdn.length, 4, "config and three layers came from the other host");
  assert.deepEqual(
    cdn.map((request) => request.headers.authorization),
    [undefined, undefined, undefined, undefined],
  );
  const toRegistry = proxy.requests.filter((request) => request.server === "proxy" && anyBlob.test(request.path));
  assert.ok(
    toRegistry.every((request) => request.headers.authorization?.startsWith("Basic ")),
    "the registry itself got the credentials",
  );
  await checkWithPeers(t, result.layout, "oci");
});

test("429 with Retry-After and rate-limit headers: waits, says why, succeeds", async (t) => {
  if (!registry) return t.skip("no registry");
  const limited = {
    kind: "status" as const,
    status: 429,
    headers: { "retry-after": "1", "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600" },
    body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit"}]}',
  };
  const started = Date.now();
  const result = await fetchVia(
    t,
    [{ method: "GET", path: manifests, fault: limited, times: 2 }],
    ["HOST/test/app:oci"],
  );
  assert.equal(result.status, 0, result.stderr);
  assert.ok(Date.now() - started >= 2000, "Retry-After was honoured twice");
  assert.match(
    result.stderr,
    /429 Too Many Requests \(rate limit: ratelimit-remaining 0 of ratelimit-limit 100 per 6 h; log in to raise the limit\); retrying in 1 s \(1\/3\)/,
  );

  const exhausted = await fetchVia(
    t,
    [{ method: "GET", path: manifests, fault: limited }],
    ["--retries", "1", "HOST/test/app:oci"],
  );
  assert.equal(exhausted.status, 1);
  assert.match(
    exhausted.stderr,
    /oci-image: fetching manifest .*test\/app:oci.*429 Too Many Requests \(TOOMANYREQUESTS: You have reached your pull rate limit; rate limit: ratelimit-remaining 0 of ratelimit-limit 100.*after 2 attempts/,
  );

  const tooLong = await fetchVia(
    t,
    [{ method: "GET", path: manifests, fault: { ...limited, headers: { ...limited.headers, "retry-after": "3600" } } }],
    ["HOST/test/app:oci"],
  );
  assert.equal(tooLong.status, 1);
  assert.match(tooLong.stderr, /retry after 60 min/);
  assert.equal(
    proxy.requests.filter((request) => manifests.test(request.path)).length,
    1,
    "no waiting an hour: failed at once",
  );
});

test("5xx on blobs and an HTML error body: retried, then a clear error", async (t) => {
  if (!registry) return t.skip("no registry");
  const html = {
    kind: "status" as const,
    status: 502,
    headers: { "content-type": "text/html" },
    body: "<html><body><h1>502 Bad Gateway</h1>upstream died</body></html>",
  };
  const result = await fetchVia(t, [{ method: "GET", path: anyBlob, fault: html, times: 3 }], ["HOST/test/app:oci"]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /502 Bad Gateway; retrying/);
  const failed = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(bigLayer), fault: html }],
    ["--retries", "0", "HOST/test/app:oci"],
  );
  assert.equal(failed.status, 1);
  assert.match(
    failed.stderr,
    new RegExp(`fetching blob ${bigLayer} of .*test/app:oci.*502 Bad Gateway \\(502 Bad Gateway upstream died\\)`),
  );
  assert.ok(!hasStackTrace(failed.stderr));
  const noChallenge = await fetchVia(
    t,
    [{ method: "GET", path: manifests, fault: { kind: "status", status: 401 } }],
    ["HOST/test/app:oci"],
  );
  assert.equal(noChallenge.status, 1);
  assert.match(noChallenge.stderr, /401 Unauthorized without a WWW-Authenticate challenge/);
});

test("a connection reset mid-blob resumes with Range and the whole blob is verified", async (t) => {
  if (!registry) return t.skip("no registry");
  const result = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(bigLayer), fault: { kind: "reset", afterBytes: 100_000 }, times: 1 }],
    ["HOST/test/app:oci"],
  );
  assert.equal(result.status, 0, result.stderr);
  const at = Number(/at byte (\d+) of \d+; resuming/.exec(result.stderr)?.[1]);
  assert.ok(at > 0 && at <= 100_000, result.stderr);
  const asked = proxy.requests
    .filter((request) => blobPath(bigLayer).test(request.path))
    .map((request) => request.headers.range);
  assert.deepEqual(asked, [undefined, `bytes=${at}-`]);
  await checkWithPeers(t, result.layout, "oci");
});

test("a server without Range support: the blob is read again from the start", async (t) => {
  if (!registry) return t.skip("no registry");
  const rules: FaultRule[] = [
    { method: "GET", path: blobPath(bigLayer), fault: { kind: "reset", afterBytes: 150_000 }, times: 1 },
    { method: "GET", path: blobPath(bigLayer), fault: { kind: "ignore-range" }, times: 1 },
  ];
  const result = await fetchVia(t, rules, ["HOST/test/app:oci"]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(
    proxy.requests.filter((request) => blobPath(bigLayer).test(request.path)).map((request) => request.fault),
    ["reset", "ignore-range"],
  );
  await checkWithPeers(t, result.layout, "oci");
});

test("wrong bytes: downloaded again; refused after the retries, nothing of it kept", async (t) => {
  if (!registry) return t.skip("no registry");
  const once = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(bigLayer), fault: { kind: "corrupt" }, times: 1 }],
    ["HOST/test/app:oci"],
  );
  assert.equal(once.status, 0, once.stderr);
  assert.match(once.stderr, /content digest is sha256:[0-9a-f]+, but its descriptor says .*downloading it again/);

  const layout = join(await tempDir(t), "images");
  await fetchVia(t, [], ["HOST/test/app:index"], layout);
  const before = await snapshotTree(layout);
  const always = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(bigLayer), fault: { kind: "corrupt" } }],
    ["--retries", "2", "HOST/test/app:oci"],
    layout,
  );
  assert.equal(always.status, 1);
  assert.match(
    always.stderr,
    new RegExp(`oci-image: fetching blob ${bigLayer}.*content digest is .*\\(3 attempts\\); nothing of it was kept`),
  );
  assert.equal(proxy.requests.filter((request) => blobPath(bigLayer).test(request.path)).length, 3);
  assert.ok(!(await listBlobs(layout)).includes(`sha256/${bigLayer.slice(7)}`));
  const after = await snapshotTree(layout);
  assert.deepEqual(after.get("index.json"), before.get("index.json"), "index.json untouched");
  assert.deepEqual(
    (await readdir(layout)).filter((name) => name.startsWith(".oci-image-tmp-")),
    [],
  );
});

test("a stalled response times out and resumes; with no retries it fails naming the wait", async (t) => {
  if (!registry) return t.skip("no registry");
  const result = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(bigLayer), fault: { kind: "stall", afterBytes: 50_000 }, times: 1 }],
    ["HOST/test/app:oci"],
  );
  assert.equal(result.status, 0, result.stderr);
  const at = /no data for 1 s at byte (\d+)/.exec(result.stderr)?.[1];
  assert.ok(at && Number(at) > 0, result.stderr);
  assert.equal(
    proxy.requests.filter((request) => blobPath(bigLayer).test(request.path))[1]?.headers.range,
    `bytes=${at}-`,
  );
  const stalledHeaders = await fetchVia(
    t,
    [{ method: "GET", path: manifests, fault: { kind: "stall" } }],
    ["--retries", "0", "HOST/test/app:oci"],
  );
  assert.equal(stalledHeaders.status, 1);
  assert.match(stalledHeaders.stderr, /fetching manifest .*test\/app:oci.*(no answer within 1 s|no data for 1 s)/);
});

test("a manifest over 4 MiB is refused", async (t) => {
  if (!registry) return t.skip("no registry");
  const huge = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[],"config":{},"x":"${"a".repeat(5 * 1024 * 1024)}"}`;
  const result = await fetchVia(
    t,
    [
      {
        method: "GET",
        path: manifests,
        fault: {
          kind: "status",
          status: 200,
          headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
          body: huge,
        },
      },
    ],
    ["HOST/test/app:oci"],
  );
  assert.equal(result.status, 1);
  assert.match(result.stderr, /over the 4194304-byte limit/);
});

test("Ctrl-C in the middle of a download exits 130 and leaves a valid layout", async (t) => {
  if (!registry) return t.skip("no registry");
  const layout = join(await tempDir(t), "images");
  await fetchVia(t, [], ["HOST/test/app:index"], layout);
  const indexBefore = await readFile(join(layout, "index.json"), "utf8");
  proxy.reset([{ method: "GET", path: blobPath(bigLayer), fault: { kind: "stall", afterBytes: 60_000 } }]);
  const child = spawn(
    process.execPath,
    [BIN, "fetch", "-u", registry.username!, "--password-stdin", `${proxy.host}/test/app:oci`, layout],
    { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, REGISTRY_AUTH_FILE: "" } },
  );
  child.stdin.end(registry.password);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  // Wait until the stalled blob has started flowing.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !proxy.requests.some((request) => blobPath(bigLayer).test(request.path)))
    await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill("SIGINT");
  const status = await exited;
  assert.equal(status, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.equal(await readFile(join(layout, "index.json"), "utf8"), indexBefore);
  assert.deepEqual(
    (await readdir(layout)).filter((name) => name.startsWith(".oci-image-tmp-") || name.endsWith(".lock")),
    [],
  );
  assert.ok(!(await listBlobs(layout)).includes(`sha256/${bigLayer.slice(7)}`));
  await checkWithPeers(t, layout, "index", { index: true });
});

test("a redirect from HTTPS to plain HTTP is refused", async (t) => {
  const dir = await tempDir(t);
  const { keyPath, certPath } = selfSignedCertificate(dir, "https", "/CN=127.0.0.1");
  const server = createHttpsServer(
    { key: await readFile(keyPath), cert: await readFile(certPath) },
    (_request, response) => {
      response.writeHead(307, { location: "http://127.0.0.1:9/blob" }).end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => closeServer(server));
  const port = (server.address() as AddressInfo).port;
  const client = new RegistryClient({ registry: `127.0.0.1:${port}`, plainHttp: false, insecure: true, retries: 0 });
  t.after(() => client.close());
  await assert.rejects(
    client.get(`/v2/x/blobs/sha256:${"a".repeat(64)}`, "x", "fetching blob"),
    (error: Error & { code?: string }) =>
      error.code === "REDIRECT_INSECURE" && /redirected from HTTPS to plain HTTP/.test(error.message),
  );
  // Without --insecure the self-signed certificate is refused.
  const strict = new RegistryClient({ registry: `127.0.0.1:${port}`, plainHttp: false, retries: 0 });
  t.after(() => strict.close());
  await assert.rejects(strict.get("/v2/", "x", "pinging"), /certificate|self[- ]signed/i);
});
