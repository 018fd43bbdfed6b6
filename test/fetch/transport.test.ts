/**
 * The registry transport's steps at unit level (undici's MockAgent standing in
 * for hosts that aren't on this machine): the throughput floor, the retry
 * budget, general requests through authentication, the host named in messages.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { MockAgent } from "undici";
import { RegistryClient } from "../../src/registry/client.js";
import { fetchManifest } from "../../src/registry/manifest-fetch.js";
import { RetryableStatus, withRetries, type RetryPolicy } from "../../src/registry/transport/retry.js";
import { guardedChunks, STALL_CODE } from "../../src/registry/transport/stall.js";

function trickle(bytes: number, everyMs: number): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < bytes; i++) {
        await sleep(everyMs);
        yield Buffer.from("x");
      }
    })(),
  );
}

async function drain(source: AsyncIterable<Buffer>, perChunkMs = 0): Promise<number> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (perChunkMs) await sleep(perChunkMs);
  }
  return size;
}

test("the throughput floor: a trickle fails as a stall, a slow reader does not", async () => {
  const started = Date.now();
  await assert.rejects(
    drain(guardedChunks(trickle(1000, 20), 300)),
    (error: Error & { code?: string }) => error.code === STALL_CODE,
  );
  assert.ok(Date.now() - started < 1500, "failed after one window, not at the end");
  // Five small chunks at once, read slowly: by the clock 10 bytes per 100 ms window, far under the floor.
  async function* ready() {
    for (let i = 0; i < 5; i++) yield Buffer.alloc(10);
  }
  const body = { [Symbol.asyncIterator]: ready, destroy: () => {} };
  assert.equal(await drain(guardedChunks(body, 100), 150), 50, "time spent reading does not count");
});

const policy = (messages: string[], retries = 2): RetryPolicy => ({
  retries,
  delayMs: 1,
  maxRetryAfterMs: 5_000,
  timeoutMs: 1_000,
  where: "https://registry.example.com",
  onRetry: (message) => messages.push(message),
});

test("the retry budget: Retry-After is honoured and named; the last failure counts the attempts", async () => {
  const messages: string[] = [];
  let calls = 0;
  const started = Date.now();
  const value = await withRetries(policy(messages), "fetching x", async () => {
    if (++calls === 1) throw new RetryableStatus(429, { "retry-after": "1" }, "");
    return "done";
  });
  assert.equal(value, "done");
  assert.ok(Date.now() - started >= 1000);
  assert.deepEqual(messages, ["fetching x: 429 Too Many Requests; retrying in 1 s (1/2)"]);

  await assert.rejects(
    withRetries(policy([]), "fetching y", async () => {
      throw new RetryableStatus(503, {}, "");
    }),
    /fetching y: 503 Service Unavailable after 3 attempts$/,
  );
  await assert.rejects(
    withRetries(policy([]), "fetching z", async () => {
      throw new RetryableStatus(429, { "retry-after": "3600" }, "");
    }),
    /fetching z: 429 Too Many Requests; the registry asks to retry after 60 min/,
  );
});

test("a PUT with a body goes through a Basic challenge, its body sent again; 201 is the expected answer", async () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const registry = agent.get("https://registry.example.com");
  const seen: { authorization?: string; body: string }[] = [];
  registry
    .intercept({ path: "/v2/a/manifests/v1", method: "PUT" })
    .reply((options) => {
      const headers = options.headers as Record<string, string>;
      seen.push({ authorization: headers.authorization, body: String(options.body) });
      return headers.authorization
        ? { statusCode: 201, data: "" }
        : { statusCode: 401, data: "", responseOptions: { headers: { "www-authenticate": 'Basic realm="r"' } } };
    })
    .times(2);
  const client = new RegistryClient({
    registry: "registry.example.com",
    dispatcher: agent,
    credentials: async () => ({ username: "user", password: "pw" }),
  });
  const status = await client.request(
    {
      method: "PUT",
      path: "/v2/a/manifests/v1",
      repository: "a",
      actions: "pull,push",
      body: "{}",
      expect: [201],
      what: "pushing",
    },
    async (response) => response.status,
  );
  assert.equal(status, 201);
  assert.deepEqual(
    seen.map((request) => [request.authorization?.split(" ")[0], request.body]),
    [
      [undefined, "{}"],
      ["Basic", "{}"],
    ],
  );
  await agent.close();
});

test("a streamed upload body is opened afresh for each send (here: after a Basic challenge)", async (t) => {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    if (!request.headers.authorization) {
      request.resume();
      response.writeHead(401, { "www-authenticate": 'Basic realm="r"' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      bodies.push(Buffer.concat(chunks).toString());
      response.writeHead(201, { location: "/v2/a/blobs/x" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = new RegistryClient({
    registry: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: async () => ({ username: "user", password: "pw" }),
  });
  t.after(() => client.close());
  let opened = 0;
  const request = {
    method: "PUT" as const,
    path: "/v2/a/blobs/uploads/1?digest=sha256:x",
    repository: "a",
    actions: "pull,push",
    body: () => {
      opened++;
      return Readable.from([Buffer.from("layer "), Buffer.from("bytes")]);
    },
    expect: [201],
    what: "uploading",
  };
  const location = await client.request(request, async (response) => response.headers.location);
  assert.equal(location, "/v2/a/blobs/x");
  assert.equal(opened, 2, "once for the challenge, once with credentials");
  assert.deepEqual(bodies, ["layer bytes"]);
});

test("Docker Hub's failures name the host contacted, registry-1.docker.io", async () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const client = new RegistryClient({ registry: "docker.io", dispatcher: agent, retries: 0 });
  await assert.rejects(
    fetchManifest(client, {
      repository: "library/alpine",
      reference: "latest",
      name: "docker.io/library/alpine:latest",
    }),
    /^.*fetching manifest docker\.io\/library\/alpine:latest from registry-1\.docker\.io: /,
  );
  await agent.close();
});
