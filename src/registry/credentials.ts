/**
 * Where registry credentials come from, in this order: the command line,
 * `$REGISTRY_AUTH_FILE`, then Docker's config (`$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json`): `credHelpers` for the registry, an `auths` entry,
 * then `credsStore`. Helpers are `docker-credential-<name> get` with the server
 * on stdin.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { RegistryError } from "../errors.js";
import { parseJsonDocument } from "../image/json.js";
import { DOCKER_HUB } from "./reference.js";

export interface Credentials {
  username: string;
  password: string;
  /**
   * An OAuth2 refresh token (`docker login` stores one as `identitytoken` for
   * registries such as Azure's; a helper answers it with the user `<token>`):
   * exchanged at the token realm instead of sending a password.
   */
  identityToken?: string;
}

/** The user name a credential helper answers with when its secret is an identity token. */
const IDENTITY_TOKEN_USER = "<token>";

export interface CredentialSources {
  /** From `-u` and `--password-stdin`. */
  explicit?: Credentials;
  env: NodeJS.ProcessEnv;
  /** Home directory (default: os.homedir()). */
  home?: string;
  /** How long a credential helper may take (default 30 s). */
  helperTimeoutMs?: number;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Docker Hub's key in config files and helper calls. */
const DOCKER_HUB_SERVER = "https://index.docker.io/v1/";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/** Credentials for `registry` (normalised, e.g. `docker.io`), or undefined for anonymous. */
export async function findCredentials(registry: string, sources: CredentialSources): Promise<Credentials | undefined> {
  if (sources.explicit) return sources.explicit;
  const files: string[] = [];
  if (sources.env.REGISTRY_AUTH_FILE) files.push(sources.env.REGISTRY_AUTH_FILE);
  const dockerDir = sources.env.DOCKER_CONFIG || join(sources.home ?? homedir(), ".docker");
  files.push(join(dockerDir, "config.json"));
  for (const file of files) {
    const config = await readConfig(file);
    if (!config) continue;
    const found = await credentialsFromConfig(registry, config, file, sources);
    if (found) return found;
  }
  return undefined;
}

async function readConfig(path: string): Promise<DockerConfig | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RegistryError("CREDENTIALS_UNREADABLE", `reading credentials from ${path}: ${(error as Error).message}`, {
      where: path,
      cause: error,
    });
  }
  try {
    const config = parseJsonDocument(bytes, path);
    return typeof config === "object" && config !== null ? (config as DockerConfig) : undefined;
  } catch (error) {
    throw new RegistryError(
      "CREDENTIALS_UNREADABLE",
      `${path} is not a valid credentials file: ${(error as Error).message}`,
      { where: path, cause: error },
    );
  }
}

async function credentialsFromConfig(
  registry: string,
  config: DockerConfig,
  file: string,
  sources: CredentialSources,
): Promise<Credentials | undefined> {
  const isHub = DOCKER_HUB_ALIASES.has(registry);
  const helper = findEntry(config.credHelpers, registry);
  if (typeof helper === "string" && helper) return runHelper(helper, isHub ? DOCKER_HUB_SERVER : registry, sources);
  const entry = findEntry(config.auths, registry);
  if (entry && typeof entry === "object") {
    if (typeof entry.identitytoken === "string" && entry.identitytoken) {
      const named =
        typeof entry.auth === "string" && entry.auth ? decodeAuth(entry.auth, file, registry).username : entry.username;
      return { username: named || IDENTITY_TOKEN_USER, password: "", identityToken: entry.identitytoken };
    }
    if (typeof entry.auth === "string" && entry.auth) return decodeAuth(entry.auth, file, registry);
    if (typeof entry.username === "string" && typeof entry.password === "string")
      return { username: entry.username, password: entry.password };
  }
  if (typeof config.credsStore === "string" && config.credsStore)
    return runHelper(config.credsStore, isHub ? DOCKER_HUB_SERVER : registry, sources);
  return undefined;
}

/** The value whose key names this registry: `host`, `https://host`, `https://host/v1/`... */
function findEntry<T>(entries: Record<string, T> | undefined, registry: string): T | undefined {
  if (!entries || typeof entries !== "object") return undefined;
  const isHub = DOCKER_HUB_ALIASES.has(registry) || registry === DOCKER_HUB;
  for (const [key, value] of Object.entries(entries)) {
    const host = key
      .replace(/^[a-z]+:\/\//i, "")
      .replace(/\/.*$/, "")
      .toLowerCase();
    if (host === registry.toLowerCase() || (isHub && DOCKER_HUB_ALIASES.has(host))) return value;
  }
  return undefined;
}

function decodeAuth(auth: string, file: string, registry: string): Credentials {
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0)
    throw new RegistryError(
      "CREDENTIALS_UNREADABLE",
      `the "auth" of ${registry} in ${file} is not base64 of user:password`,
      { where: file },
    );
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Runs `docker-credential-<name> get`; "not found" means no credentials. */
async function runHelper(name: string, server: string, sources: CredentialSources): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    throw new RegistryError("CREDENTIAL_HELPER", `credential helper name "${name}" is not valid`);
  const program = `docker-credential-${name}`;
  const { status, stdout, stderr } = await runWithInput(program, ["get"], server, sources);
  if (status !== 0) {
    if (/not found/i.test(stdout + stderr)) return undefined;
    throw new RegistryError(
      "CREDENTIAL_HELPER",
      `${program} get failed for ${server}: ${(stderr || stdout).trim() || `exit status ${status}`}`,
      { where: server },
    );
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = parseJsonDocument(Buffer.from(stdout), program) as typeof answer;
  } catch {
    throw new RegistryError("CREDENTIAL_HELPER", `${program} get for ${server} did not answer with JSON`, {
      where: server,
    });
  }
  if (typeof answer?.Username !== "string" || typeof answer.Secret !== "string") {
    throw new RegistryError("CREDENTIAL_HELPER", `${program} get for ${server} answered without Username and Secret`, {
      where: server,
    });
  }
  if (answer.Username === IDENTITY_TOKEN_USER)
    return { username: IDENTITY_TOKEN_USER, password: "", identityToken: answer.Secret };
  return { username: answer.Username, password: answer.Secret };
}

function runWithInput(
  program: string,
  args: string[],
  input: string,
  sources: CredentialSources,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: sources.env, stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), sources.helperTimeoutMs ?? 30_000);
    timer.unref();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (stdout.length < 1_000_000) stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString();
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === "ENOENT")
        reject(
          new RegistryError(
            "CREDENTIAL_HELPER",
            `credential helper ${program} is not installed (named in the Docker config)`,
            { cause: error },
          ),
        );
      else reject(new RegistryError("CREDENTIAL_HELPER", `running ${program}: ${error.message}`, { cause: error }));
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}
