/** `oci-image push` to registries that ask for credentials: htpasswd (Basic) and token auth granting push. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { buildPushLayouts, pushJson, type PushLayouts } from "./fixtures.js";

let basic: StartedRegistry | undefined;
let token: StartedRegistry | undefined;
let layouts: PushLayouts;
let fixtureDir: string;
/** No Docker config of the machine's user gets in the way. */
const ENV = { DOCKER_CONFIG: "/nonexistent", REGISTRY_AUTH_FILE: "" };

before(async () => {
  if (!toolPath("docker-registry")) {
    if (inCI()) throw new Error("docker-registry is needed in CI");
    process.stderr.write("\n*** SKIPPING push auth tests: docker-registry missing ***\n");
    return;
  }
  [basic, token] = await Promise.all([
    startRegistry({ auth: "htpasswd" }),
    startRegistry({ auth: "token", refreshTokens: { "push-identity-token": "tester" } }),
  ]);
  fixtureDir = await mkdtemp(join(tmpdir(), "oci-image-push-auth-"));
  layouts = await buildPushLayouts(fixtureDir);
});

after(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
  if (fixtureDir) await rm(fixtureDir, { recursive: true, force: true });
});

function push(args: string[], input?: string) {
  return runOciImage(["push", ...args], { input, env: ENV });
}

test("Basic auth: -u and --password-stdin push; a wrong password is one line, exit 1", async (t) => {
  if (!basic) return t.skip("no registry");
  const ok = await push(
    ["-u", basic.username!, "--password-stdin", layouts.single, `${basic.host}/auth/app:1`],
    basic.password,
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, `${basic.host}/auth/app@${layouts.singleDigest}\n`);
  const wrong = await push(
    ["-u", basic.username!, "--password-stdin", layouts.single, `${basic.host}/auth/wrong:1`],
    "nope",
  );
  assert.equal(wrong.status, 1);
  assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
  assert.match(wrong.stderr, /refused (these|the) credentials/);
  assert.ok(!hasStackTrace(wrong.stderr));
  const anonymous = await push([layouts.single, `${basic.host}/auth/anonymous:1`]);
  assert.equal(anonymous.status, 1);
  assert.match(anonymous.stderr, /authentication required.*--password-stdin/);
});

test("token auth: the token asks for push,pull on the repository, and pull on the --from repository", async (t) => {
  if (!token) return t.skip("no registry");
  const login = ["-u", token.username!, "--password-stdin"];
  await pushJson([...login, layouts.single, `${token.host}/auth/source:1`], token.password);
  const scopes = token.tokenServer!.requests.flatMap((request) => request.scope);
  assert.ok(scopes.includes("repository:auth/source:pull,push"), scopes.join(" "));
  token.tokenServer!.requests.length = 0;
  const mounted = await pushJson(
    [...login, "--from", "auth/source", layouts.single, `${token.host}/auth/copy:1`],
    token.password,
  );
  assert.equal(mounted.blobs.mounted, 4, JSON.stringify(mounted.blobs));
  const mountRequest = token.tokenServer!.requests.find((request) => request.scope.length === 2);
  assert.deepEqual(mountRequest?.scope, ["repository:auth/copy:pull,push", "repository:auth/source:pull"]);
  const anonymous = await push([layouts.single, `${token.host}/auth/anonymous:1`]);
  assert.equal(anonymous.status, 1);
  assert.match(anonymous.stderr.trim().split("\n").at(-1)!, /^oci-image: .*401 Unauthorized.*--password-stdin$/);
});

test("Docker's config.json: a stored login and an identity token push without -u", async (t) => {
  if (!basic || !token) return t.skip("no registry");
  const dir = await mkdtemp(join(tmpdir(), "oci-image-push-docker-config-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const auth = (text: string) => Buffer.from(text).toString("base64");
  const auths = {
    [basic.host]: { auth: auth(`${basic.username}:${basic.password}`) },
    [token.host]: { auth: auth("00000000-0000-0000-0000-000000000000:"), identitytoken: "push-identity-token" },
  };
  await writeFile(join(dir, "config.json"), JSON.stringify({ auths }));
  const env = { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: "" };
  for (const host of [basic.host, token.host]) {
    const result = await runOciImage(["push", layouts.zstd, `${host}/auth/config:1`], { env });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${host}/auth/config@${layouts.zstdDigest}\n`);
  }
  assert.ok(token.tokenServer!.requests.some((request) => request.grant === "refresh_token" && request.authorized));
});
