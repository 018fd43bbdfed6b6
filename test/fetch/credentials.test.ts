/** Where credentials come from: -u, $REGISTRY_AUTH_FILE, config.json auths, credHelpers, credsStore. */
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { findCredentials } from "../../src/registry/credentials.js";
import { tempDir } from "../helpers/temp.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A fake `docker-credential-<name>` that logs the server it was asked about and answers from a table. */
async function fakeHelper(
  t: TestContext,
  name: string,
  answers: Record<string, [string, string]>,
): Promise<{ path: string; log: string }> {
  const bin = await tempDir(t, "oci-image-helper-");
  const log = join(bin, "asked.log");
  const cases = Object.entries(answers)
    .map(
      ([server, [user, secret]]) =>
        `  '${server}') printf '{"ServerURL":"%s","Username":"${user}","Secret":"${secret}"}' "$server" ;;`,
    )
    .join("\n");
  const script = `#!/bin/sh\n[ "$1" = get ] || exit 3\nread -r server\necho "$server" >> '${log}'\ncase "$server" in\n${cases}\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n`;
  await writeFile(join(bin, `docker-credential-${name}`), script);
  await chmod(join(bin, `docker-credential-${name}`), 0o755);
  return { path: bin, log };
}

async function dockerConfig(t: TestContext, config: object): Promise<string> {
  const dir = await tempDir(t, "oci-image-docker-config-");
  await writeFile(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

test("-u and --password-stdin win over every file", async (t) => {
  const dir = await dockerConfig(t, { auths: { "r.io": { auth: b64("file:pw") } } });
  const found = await findCredentials("r.io", {
    explicit: { username: "cli", password: "x" },
    env: { DOCKER_CONFIG: dir },
  });
  assert.deepEqual(found, { username: "cli", password: "x" });
});

test("auths: base64 user:password, keys with scheme and path, Docker Hub's legacy key", async (t) => {
  const dir = await dockerConfig(t, {
    auths: {
      "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
      "https://r.io/v2/": { auth: b64("ruser:rpass") },
      "localhost:5000": { username: "plain", password: "pw" },
    },
  });
  const env = { DOCKER_CONFIG: dir };
  assert.deepEqual(await findCredentials("docker.io", { env }), { username: "hubuser", password: "hub:pass" });
  assert.deepEqual(await findCredentials("r.io", { env }), { username: "ruser", password: "rpass" });
  assert.deepEqual(await findCredentials("localhost:5000", { env }), { username: "plain", password: "pw" });
  assert.equal(await findCredentials("other.io", { env }), undefined);
});

test("~/.docker/config.json when DOCKER_CONFIG is not set", async (t) => {
  const home = await tempDir(t, "oci-image-home-");
  await mkdir(join(home, ".docker"));
  await writeFile(
    join(home, ".docker", "config.json"),
    JSON.stringify({ auths: { "r.io": { auth: b64("homeuser:pw") } } }),
  );
  assert.deepEqual(await findCredentials("r.io", { env: {}, home }), { username: "homeuser", password: "pw" });
});

test("credHelpers for one registry, credsStore for the rest; the server goes on stdin", async (t) => {
  const helper = await fakeHelper(t, "fake", {
    "r.io": ["helped", "s1"],
    "https://index.docker.io/v1/": ["hub", "s2"],
    "other.io": ["stored", "s3"],
  });
  const dir = await dockerConfig(t, { credHelpers: { "r.io": "fake" }, credsStore: "fake", auths: { "r.io": {} } });
  const env = { DOCKER_CONFIG: dir, PATH: `${helper.path}:${process.env.PATH}` };
  assert.deepEqual(await findCredentials("r.io", { env }), { username: "helped", password: "s1" });
  assert.deepEqual(await findCredentials("docker.io", { env }), { username: "hub", password: "s2" });
  assert.deepEqual(await findCredentials("other.io", { env }), { username: "stored", password: "s3" });
  assert.equal(await findCredentials("unknown.io", { env }), undefined, "'not found' from the helper means anonymous");
  assert.deepEqual((await readFile(helper.log, "utf8")).trim().split("\n"), [
    "r.io",
    "https://index.docker.io/v1/",
    "other.io",
    "unknown.io",
  ]);
});

test("a helper that is missing or fails is an error that names it", async (t) => {
  const dir = await dockerConfig(t, { credsStore: "nonexistent-helper" });
  await assert.rejects(
    findCredentials("r.io", { env: { DOCKER_CONFIG: dir, PATH: "/nonexistent" } }),
    /docker-credential-nonexistent-helper is not installed/,
  );
  const bad = await dockerConfig(t, { credsStore: "../../bin/sh" });
  await assert.rejects(findCredentials("r.io", { env: { DOCKER_CONFIG: bad } }), /not valid/);
});

test("$REGISTRY_AUTH_FILE is read first; unreadable files are errors", async (t) => {
  const dir = await dockerConfig(t, { auths: { "r.io": { auth: b64("docker:pw") } } });
  const authDir = await tempDir(t);
  const authFile = join(authDir, "auth.json");
  await writeFile(authFile, JSON.stringify({ auths: { "r.io": { auth: b64("podman:pw") } } }));
  assert.deepEqual(await findCredentials("r.io", { env: { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: authFile } }), {
    username: "podman",
    password: "pw",
  });
  assert.deepEqual(
    await findCredentials("s.io", { env: { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: authFile } }),
    undefined,
  );
  await writeFile(authFile, "{not json");
  await assert.rejects(
    findCredentials("r.io", { env: { REGISTRY_AUTH_FILE: authFile } }),
    /not a valid credentials file/,
  );
  await writeFile(authFile, JSON.stringify({ auths: { "r.io": { auth: b64("no-colon") } } }));
  await assert.rejects(
    findCredentials("r.io", { env: { REGISTRY_AUTH_FILE: authFile } }),
    /not base64 of user:password/,
  );
});

test("identity tokens: an auths entry's identitytoken, a helper's <token> user", async (t) => {
  const helper = await fakeHelper(t, "idt", { "r.io": ["<token>", "refresh-from-helper"] });
  const dir = await dockerConfig(t, {
    auths: { "acr.io": { auth: b64("00000000-0000-0000-0000-000000000000:"), identitytoken: "refresh-from-file" } },
    credHelpers: { "r.io": "idt" },
  });
  const env = { DOCKER_CONFIG: dir, PATH: `${helper.path}:${process.env.PATH}` };
  assert.deepEqual(await findCredentials("acr.io", { env }), {
    username: "00000000-0000-0000-0000-000000000000",
    password: "",
    identityToken: "refresh-from-file",
  });
  assert.deepEqual(await findCredentials("r.io", { env }), {
    username: "<token>",
    password: "",
    identityToken: "refresh-from-helper",
  });
});
