/** Listing tags from registries that misbehave: pagination that leaves, loops, or answers nonsense. */
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { listTags } from "../../src/registry/list-tags.js";

/** A loopback server answering /v2/ and the tag list with `answer(url)`. */
async function registry(t: TestContext, answer: (url: URL, response: ServerResponse) => void): Promise<string> {
  const server = createServer((request, response) => {
    const url = new URL(request.url!, `http://${request.headers.host}`);
    if (url.pathname === "/v2/") return void response.writeHead(200).end("{}");
    answer(url, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(response: ServerResponse, body: unknown, link?: string): void {
  response.writeHead(200, { "content-type": "application/json", ...(link ? { link } : {}) });
  response.end(JSON.stringify(body));
}

async function tagsOf(host: string): Promise<string[]> {
  const client = new RegistryClient({ registry: host, retries: 0 });
  try {
    return await listTags(client, "repo");
  } finally {
    await client.close();
  }
}

test("pages are followed by Link until there is none", async (t) => {
  const host = await registry(t, (url, response) => {
    const last = url.searchParams.get("last");
    if (!last) return json(response, { tags: ["a", "b"] }, '</v2/repo/tags/list?n=2&last=b>; rel="next"');
    if (last === "b")
      return json(response, { tags: ["c", "d"] }, `<http://${url.host}/v2/repo/tags/list?last=d>; rel=next`);
    json(response, { tags: ["e"] });
  });
  assert.deepEqual(await tagsOf(host), ["a", "b", "c", "d", "e"]);
});

test("a Link to another origin, or back to the same page, is not followed", async (t) => {
  let requests = 0;
  const elsewhere = await registry(t, (_url, response) => {
    requests++;
    json(response, { tags: ["a"] }, '<http://127.0.0.2:1/v2/repo/tags/list?last=a>; rel="next"');
  });
  assert.deepEqual(await tagsOf(elsewhere), ["a"]);
  assert.equal(requests, 1);
  const loop = await registry(t, (url, response) => {
    requests++;
    json(response, { tags: ["x"] }, `<${url.pathname}${url.search}>; rel="next"`);
  });
  assert.deepEqual(await tagsOf(loop), ["x"]);
});

test("no tags is an empty list; tags that are not strings are refused", async (t) => {
  const none = await registry(t, (_url, response) => json(response, { name: "repo", tags: null }));
  assert.deepEqual(await tagsOf(none), []);
  const bad = await registry(t, (_url, response) => json(response, { tags: [1, {}] }));
  await assert.rejects(tagsOf(bad), { code: "TAG_LIST_INVALID" });
  const garbage = await registry(t, (_url, response) => response.writeHead(200).end("<html>"));
  await assert.rejects(tagsOf(garbage), { code: "TAG_LIST_INVALID", message: /not JSON/ });
});
