/** fetch against registries with htpasswd Basic auth and with token auth (a test token server). */
import assert from "node:assert/strict";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { pushTestImages, snapshotTree } from "./fixtures.js";
import { checkWithPeers } from "./peers.js";

let basic: StartedRegistry | undefined;
let token: StartedRegistry | undefined;

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo") || !toolPath("htpasswd") || !toolPath("openssl")) {
    if (inCI()) throw new Error("docker-registry, skopeo, htpasswd (apache2-utils) and openssl are needed in CI");
    process.stderr.write("\n*** SKIPPING fetch auth tests: docker-registry, skopeo, htpasswd or openssl missing ***\n");
    return;
  }
  [basic, token] = await Promise.all([
    startRegistry({ auth: "htpasswd" }),
    startRegistry({ auth: "token", refreshTokens: { "test-identity-token": "tester" } }),
  ]);
  await Promise.all([
    pushTestImages(basic, "test/app", `${basic.username}:${basic.password}`),
    pushTestImages(token, "test/app", `${token.username}:${token.password}`),
  ]);
});

after(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
});

/** An environment with no credentials of the machine's own. */
async function cleanEnv(t: TestContext, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const dockerConfig = await tempDir(t, "oci-image-docker-config-");
  return { DOCKER_CONFIG: dockerConfig, REGISTRY_AUTH_FILE: "", ...extra };
}

test("htpasswd: anonymous is refused, -u with --password-stdin works, a wrong password is refused", async (t) => {
  if (!basic) return t.skip("no registry");
  const env = await cleanEnv(t);
  const layout = join(await tempDir(t), "images");
  const image = `${basic.host}/test/app:oci`;
  const anonymous = await runOciImage(["fetch", image, layout], { env });
  assert.equal(anonymous.status, 1);
  assert.match(anonymous.stderr, /test\/app:oci.*401 Unauthorized.*authentication required/);
  const ok = await runOciImage(["fetch", "-u", basic.username!, "--password-stdin", image, layout], {
    env,
    input: `${basic.password}\n`,
  });
  assert.equal(ok.status, 0, ok.stderr);
  await checkWithPeers(t, layout, "oci");
  const before = await snapshotTree(layout);
  const wrong = await runOciImage(
    ["fetch", "-u", basic.username!, "--password-stdin", `${basic.host}/test/app:docker`, layout],
    { env, input: "not-the-password" },
  );
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /test\/app:docker.*401 Unauthorized.*refused/);
  assert.ok(!hasStackTrace(wrong.stderr));
  assert.ok(!wrong.stderr.includes("not-the-password"), "the password is never printed");
  assert.deepEqual(await snapshotTree(layout), before);
  const usage = await runOciImage(["fetch", "--password-stdin", image, layout], { env });
  assert.equal(usage.status, 2);
});

test("htpasswd: credentials from config.json auths, from a credential helper, from $REGISTRY_AUTH_FILE", async (t) => {
  if (!basic) return t.skip("no registry");
  const auth = Buffer.from(`${basic.username}:${basic.password}`).toString("base64");
  const configDir = await tempDir(t, "oci-image-docker-config-");
  await writeFile(join(configDir, "config.json"), JSON.stringify({ auths: { [`https://${basic.host}`]: { auth } } }));
  const fromAuths = await runOciImage(["fetch", `${basic.host}/test/app:oci`, join(await tempDir(t), "a")], {
    env: { DOCKER_CONFIG: configDir },
  });
  assert.equal(fromAuths.status, 0, fromAuths.stderr);

  const bin = await tempDir(t, "oci-image-helper-");
  const helper = join(bin, "docker-credential-testhelper");
  await writeFile(
    helper,
    `#!/bin/sh\nread -r server\n[ "$server" = "${basic.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\nprintf '{"ServerURL":"%s","Username":"${basic.username}","Secret":"${basic.password}"}' "$server"\n`,
  );
  await chmod(helper, 0o755);
  const helperConfig = await tempDir(t, "oci-image-docker-config-");
  await writeFile(join(helperConfig, "config.json"), JSON.stringify({ credHelpers: { [basic.host]: "testhelper" } }));
  const fromHelper = await runOciImage(["fetch", `${basic.host}/test/app:docker`, join(await tempDir(t), "b")], {
    env: { DOCKER_CONFIG: helperConfig, PATH: `${bin}:${process.env.PATH}` },
  });
  assert.equal(fromHelper.status, 0, fromHelper.stderr);

  const authFile = join(await tempDir(t), "auth.json");
  await writeFile(authFile, JSON.stringify({ auths: { [basic.host]: { auth } } }));
  const fromAuthFile = await runOciImage(["fetch", `${basic.host}/test/app:oci`, join(await tempDir(t), "c")], {
    env: await cleanEnv(t, { REGISTRY_AUTH_FILE: authFile }),
  });
  assert.equal(fromAuthFile.status, 0, fromAuthFile.stderr);
});

test("token auth: anonymous pull gets a token once per scope, reused for every blob", async (t) => {
  if (!token) return t.skip("no registry");
  const layout = join(await tempDir(t), "images");
  token.tokenServer!.requests.length = 0;
  const result = await runOciImage(["fetch", "--json", "-p", "all", `${token.host}/test/app:list`, layout], {
    env: await cleanEnv(t),
  });
  assert.equal(result.status, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as { blobs: { fetched: number } };
  assert.equal(parsed.blobs.fetched, 4);
  const requests = token.tokenServer!.requests;
  assert.equal(requests.length, 1, `one token for everything: ${JSON.stringify(requests)}`);
  assert.deepEqual(requests[0]!.scope, ["repository:test/app:pull"]);
  assert.equal(requests[0]!.service, "oci-image-test-registry");
  assert.equal(requests[0]!.user, undefined);
  await checkWithPeers(t, layout, "list", { index: true });
});

test("token auth: credentials go to the token server; wrong ones are refused with a clear error", async (t) => {
  if (!token) return t.skip("no registry");
  const layout = join(await tempDir(t), "images");
  token.tokenServer!.requests.length = 0;
  const env = await cleanEnv(t);
  const ok = await runOciImage(
    ["fetch", "-u", token.username!, "--password-stdin", `${token.host}/test/app:docker`, layout],
    { env, input: token.password! },
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(token.tokenServer!.requests[0]!.user, token.username);
  const wrong = await runOciImage(
    ["fetch", "-u", token.username!, "--password-stdin", `${token.host}/test/app:oci`, layout],
    { env, input: "wrong" },
  );
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /test\/app:oci.*token.*401 Unauthorized.*refused the credentials of user "tester"/);
  assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
});

test("token auth: an identity token from config.json is exchanged by an OAuth2 POST; a stale one is refused clearly", async (t) => {
  if (!token) return t.skip("no registry");
  const layout = join(await tempDir(t), "images");
  const env = await cleanEnv(t);
  // What `docker login` writes for such registries: a placeholder user, no password, the token.
  const config = (identitytoken: string) =>
    JSON.stringify({
      auths: {
        [token!.host]: { auth: Buffer.from("00000000-0000-0000-0000-000000000000:").toString("base64"), identitytoken },
      },
    });
  await writeFile(join(env.DOCKER_CONFIG!, "config.json"), config("test-identity-token"));
  token.tokenServer!.requests.length = 0;
  const ok = await runOciImage(["fetch", `${token.host}/test/app:oci`, layout], { env });
  assert.equal(ok.status, 0, ok.stderr);
  const [request] = token.tokenServer!.requests;
  assert.deepEqual(
    {
      method: request!.method,
      grant: request!.grant,
      user: request!.user,
      scope: request!.scope,
      service: request!.service,
    },
    {
      method: "POST",
      grant: "refresh_token",
      user: "tester",
      scope: ["repository:test/app:pull"],
      service: "oci-image-test-registry",
    },
  );
  await checkWithPeers(t, layout, "oci");

  await writeFile(join(env.DOCKER_CONFIG!, "config.json"), config("stale-identity-token"));
  const stale = await runOciImage(["fetch", `${token.host}/test/app:docker`, layout], { env });
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /test\/app:docker.*401 Unauthorized.*refused the identity token.*docker login/);
  assert.ok(!stale.stderr.includes("stale-identity-token"), "the token is never printed");
  assert.equal(stale.stderr.trim().split("\n").length, 1, stale.stderr);
});
