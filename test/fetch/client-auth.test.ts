/**
 * Where credentials may travel (unit level, undici's MockAgent standing in for
 * hosts that aren't on this machine): only to the registry and to an HTTPS or
 * loopback token realm; tokens are reused per scope and renewed after a 401.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MockAgent } from "undici";
import { RegistryClient } from "../../src/registry/client.js";

const creds = { username: "user", password: "pw" };
const basic = `Basic ${Buffer.from("user:pw").toString("base64")}`;

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[]>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key ? record[key] : undefined;
  return Array.isArray(value) ? value[0] : value;
}

function setup(realm: string) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const registry = agent.get("https://registry.example.com");
  const realmUrl = new URL(realm);
  const auth = agent.get(realmUrl.origin);
  const seen: { tokenAuthorization: (string | undefined)[]; registryAuthorization: (string | undefined)[] } = {
    tokenAuthorization: [],
    registryAuthorization: [],
  };
  return { agent, registry, auth, seen };
}

test("a token realm on plain HTTP on another host never gets the credentials", async () => {
  const { agent, registry, auth, seen } = setup("http://auth.example.com/token");
  registry
    .intercept({ path: "/v2/a/b/manifests/v1", method: "GET" })
    .reply(401, "", { headers: { "www-authenticate": 'Bearer realm="http://auth.example.com/token",service="reg"' } });
  auth.intercept({ path: /^\/token\?/, method: "GET" }).reply((options) => {
    seen.tokenAuthorization.push(headerOf(options.headers, "authorization"));
    return { statusCode: 401, data: "{}" };
  });
  const client = new RegistryClient({
    registry: "registry.example.com",
    credentials: async () => creds,
    dispatcher: agent,
    retries: 0,
  });
  await assert.rejects(
    client.get("/v2/a/b/manifests/v1", "a/b", "fetching manifest a/b:v1"),
    /fetching manifest a\/b:v1: .*credentials were not sent because the token realm is plain HTTP/,
  );
  assert.deepEqual(seen.tokenAuthorization, [undefined]);
  await agent.close();
});

test("an HTTPS realm gets Basic credentials; the token is reused per scope and renewed after a 401", async () => {
  const { agent, registry, auth, seen } = setup("https://auth.example.com/token");
  let issued = 0;
  const challenge = {
    headers: {
      "www-authenticate": 'Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a/b:pull"',
    },
  };
  registry.intercept({ path: "/v2/a/b/manifests/v1", method: "GET" }).reply(401, "", challenge);
  auth
    .intercept({ path: /^\/token\?/, method: "GET" })
    .reply((options) => {
      seen.tokenAuthorization.push(headerOf(options.headers, "authorization"));
      assert.match(options.path, /service=reg/);
      assert.match(options.path, /scope=repository%3Aa%2Fb%3Apull/);
      return { statusCode: 200, data: JSON.stringify({ token: `t${++issued}`, expires_in: 300 }) };
    })
    .times(2);
  const answer = (options: { headers?: unknown }) => {
    seen.registryAuthorization.push(headerOf(options.headers, "authorization"));
    return { statusCode: 200, data: "ok" };
  };
  registry.intercept({ path: "/v2/a/b/manifests/v1", method: "GET" }).reply(answer);
  registry.intercept({ path: "/v2/a/b/blobs/x", method: "GET" }).reply(answer);
  // The registry stops accepting t1: a fresh token is fetched once, then used.
  registry.intercept({ path: "/v2/a/b/blobs/y", method: "GET" }).reply(401, "", challenge);
  registry.intercept({ path: "/v2/a/b/blobs/y", method: "GET" }).reply(answer);
  const client = new RegistryClient({
    registry: "registry.example.com",
    credentials: async () => creds,
    dispatcher: agent,
    retries: 0,
  });
  for (const path of ["/v2/a/b/manifests/v1", "/v2/a/b/blobs/x", "/v2/a/b/blobs/y"]) {
    const response = await client.get(path, "a/b", `GET ${path}`);
    assert.equal(response.status, 200);
    await response.body.text();
  }
  assert.deepEqual(seen.tokenAuthorization, [basic, basic]);
  assert.deepEqual(seen.registryAuthorization, ["Bearer t1", "Bearer t1", "Bearer t2"]);
  await agent.close();
});

test("Basic auth: credentials sent to the registry only after it asks; not to a redirect's other host", async () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const registry = agent.get("https://registry.example.com");
  const cdn = agent.get("https://cdn.example.com");
  const seen: (string | undefined)[] = [];
  registry
    .intercept({ path: "/v2/a/blobs/z", method: "GET" })
    .reply(401, "", { headers: { "www-authenticate": 'Basic realm="r"' } });
  registry.intercept({ path: "/v2/a/blobs/z", method: "GET" }).reply((options) => {
    seen.push(headerOf(options.headers, "authorization"));
    return {
      statusCode: 307,
      data: "",
      responseOptions: { headers: { location: "https://cdn.example.com/signed/z?sig=1" } },
    };
  });
  cdn.intercept({ path: "/signed/z?sig=1", method: "GET" }).reply((options) => {
    seen.push(headerOf(options.headers, "authorization"));
    return { statusCode: 200, data: "blob" };
  });
  const client = new RegistryClient({
    registry: "registry.example.com",
    credentials: async () => creds,
    dispatcher: agent,
    retries: 0,
  });
  const response = await client.get("/v2/a/blobs/z", "a", "fetching blob z");
  assert.equal(await response.body.text(), "blob");
  assert.deepEqual(seen, [basic, undefined]);
  await agent.close();
});

test("an expired token is renewed before the next request", async () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const registry = agent.get("https://registry.example.com");
  const auth = agent.get("https://auth.example.com");
  let issued = 0;
  registry
    .intercept({ path: "/v2/a/blobs/1", method: "GET" })
    .reply(401, "", { headers: { "www-authenticate": 'Bearer realm="https://auth.example.com/token",service="reg"' } });
  auth
    .intercept({ path: /^\/token\?/, method: "GET" })
    .reply(() => ({ statusCode: 200, data: JSON.stringify({ access_token: `t${++issued}`, expires_in: 1 }) }))
    .times(2);
  const seen: (string | undefined)[] = [];
  for (const path of ["/v2/a/blobs/1", "/v2/a/blobs/2"]) {
    registry.intercept({ path, method: "GET" }).reply((options) => {
      seen.push(headerOf(options.headers, "authorization"));
      return { statusCode: 200, data: "ok" };
    });
  }
  const client = new RegistryClient({ registry: "registry.example.com", dispatcher: agent, retries: 0 });
  await (await client.get("/v2/a/blobs/1", "a", "first")).body.text();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await (await client.get("/v2/a/blobs/2", "a", "second")).body.text();
  assert.deepEqual(seen, ["Bearer t1", "Bearer t2"]);
  assert.equal(issued, 2);
  await agent.close();
});
