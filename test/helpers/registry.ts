/**
 * A real distribution registry (Debian's `docker-registry`, 2.8) on a free
 * loopback port, configured from a temp directory: without auth, with htpasswd
 * Basic auth, or with token auth backed by test/helpers/token-server.ts.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startTokenServer, type RunningTokenServer } from "./token-server.js";
import { runProgram } from "./cli.js";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

export interface RunningRegistry {
  host: string /* "127.0.0.1:PORT" */;
  url: string /* "http://127.0.0.1:PORT" */;
  dataDir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  auth?: "none" | "htpasswd" | "token";
  /** Where the registry stores its data (default: a temp dir removed by stop()). */
  dataDir?: string;
  /** user → password for htpasswd or token auth (default: one user "tester"). */
  users?: Record<string, string>;
  /** Token auth: identity (refresh) tokens → user, accepted by the token server's OAuth2 POST. */
  refreshTokens?: Record<string, string>;
}

export type StartedRegistry = RunningRegistry & {
  tokenServer?: RunningTokenServer;
  username?: string;
  password?: string;
};

export async function startRegistry(options: RegistryOptions = {}): Promise<StartedRegistry> {
  const auth = options.auth ?? "none";
  const users = options.users ?? { tester: "s3cret-pass" };
  const [username, password] = Object.entries(users)[0] ?? [];
  const dir = await mkdtemp(join(tmpdir(), "oci-image-registry-"));
  const dataDir = options.dataDir ?? join(dir, "data");
  await mkdir(dataDir, { recursive: true });
  const { authYaml, tokenServer } = await setUpAuth(auth, dir, users, options);
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const configPath = join(dir, "config.yml");
    await writeFile(configPath, registryConfig(dataDir, port, authYaml));
    const child = spawn(REGISTRY_BINARY, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString();
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForRegistry(url, child);
    } catch (error) {
      lastError = new Error(`${(error as Error).message}: ${stderr.trim()}`);
      await killChild(child);
      continue;
    }
    let stopped = false;
    return {
      host: `127.0.0.1:${port}`,
      url,
      dataDir,
      tokenServer,
      username: auth === "none" ? undefined : username,
      password: auth === "none" ? undefined : password,
      async stop() {
        if (stopped) return;
        stopped = true;
        await killChild(child);
        await tokenServer?.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await tokenServer?.stop();
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error("the registry did not start");
}

/** The `auth:` section of the registry's configuration, and the token server it needs. */
async function setUpAuth(
  auth: "none" | "htpasswd" | "token",
  dir: string,
  users: Record<string, string>,
  options: RegistryOptions,
): Promise<{ authYaml: string; tokenServer?: RunningTokenServer }> {
  if (auth === "htpasswd") {
    const lines = Object.entries(users).map(([user, pass]) =>
      execFileSync("htpasswd", ["-nbB", user, pass], { encoding: "utf8" }).trim(),
    );
    await writeFile(join(dir, "htpasswd"), lines.join("\n") + "\n");
    return { authYaml: `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${join(dir, "htpasswd")}\n` };
  }
  if (auth !== "token") return { authYaml: "" };
  const tokenServer = await startTokenServer({
    dir,
    issuer: "oci-image-test-issuer",
    service: "oci-image-test-registry",
    users,
    refreshTokens: options.refreshTokens,
  });
  const authYaml = [
    "auth:",
    "  token:",
    `    realm: ${tokenServer.realm}`,
    "    service: oci-image-test-registry",
    "    issuer: oci-image-test-issuer",
    `    rootcertbundle: ${tokenServer.certPath}`,
    "",
  ].join("\n");
  return { authYaml, tokenServer };
}

function registryConfig(dataDir: string, port: number, authYaml: string): string {
  return [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${dataDir}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  secret: oci-image-test-secret",
    authYaml,
  ].join("\n");
}

async function waitForRegistry(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with status ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/v2/`);
      await response.arrayBuffer();
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error("docker-registry did not answer /v2/ within 15 s");
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface PushOptions {
  /** skopeo's --format (v2s2 makes Docker schema 2 manifests / manifest lists). */
  format?: "oci" | "v2s2";
  /** Copy a whole index (skopeo --all). */
  all?: boolean;
  /** "user:password" for a registry with auth. */
  creds?: string;
}

/**
 * Pushes `source` (e.g. `oci:/path:tag`) to `docker://HOST/repo:tag` with skopeo;
 * returns the digest of the manifest as pushed.
 */
export async function pushImage(
  source: string,
  registry: RunningRegistry,
  destination: string,
  options: PushOptions = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "oci-image-push-"));
  try {
    const digestFile = join(dir, "digest");
    const args = ["copy", "--quiet", "--dest-tls-verify=false", "--digestfile", digestFile];
    if (options.format) args.push("--format", options.format);
    if (options.all) args.push("--all");
    if (options.creds) args.push("--dest-creds", options.creds);
    args.push(source, `docker://${registry.host}/${destination}`);
    const result = await runProgram("skopeo", args, { timeoutMs: 120_000 });
    if (result.status !== 0) throw new Error(`skopeo ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
    const { readFile } = await import("node:fs/promises");
    return (await readFile(digestFile, "utf8")).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RawImage {
  config: Buffer;
  /** Default: the OCI image config type. */
  configMediaType?: string;
  layers: { bytes: Buffer; mediaType: string }[];
}

/**
 * Pushes blobs and an OCI manifest straight through the distribution API (no
 * auth), for images no well-behaved tool would push; returns the manifest digest.
 */
export async function pushRawImage(
  registry: RunningRegistry,
  repository: string,
  tag: string,
  image: RawImage,
): Promise<string> {
  const { createHash } = await import("node:crypto");
  const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const upload = async (bytes: Buffer) => {
    const digest = digestOf(bytes);
    const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: "POST" });
    const location = new URL(started.headers.get("location")!, registry.url);
    location.searchParams.set("digest", digest);
    const done = await fetch(location, { method: "PUT", body: bytes });
    if (done.status !== 201) throw new Error(`blob upload answered ${done.status}: ${await done.text()}`);
    return { digest, size: bytes.length };
  };
  const config = {
    mediaType: image.configMediaType ?? "application/vnd.oci.image.config.v1+json",
    ...(await upload(image.config)),
  };
  const layers = [];
  for (const layer of image.layers) layers.push({ mediaType: layer.mediaType, ...(await upload(layer.bytes)) });
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers }));
  const put = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: manifest,
  });
  if (put.status !== 201) throw new Error(`manifest push answered ${put.status}: ${await put.text()}`);
  return digestOf(manifest);
}
