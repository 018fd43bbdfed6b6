/** The small rules of an upload session: the registry's Range, and the query a session's next request carries. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RegistryError } from "../../src/errors.js";
import { rangeEnd, withQuery } from "../../src/registry/upload-session.js";

test("a session's Range says how many bytes it holds", () => {
  assert.equal(rangeEnd(undefined, "d"), 0);
  assert.equal(rangeEnd("0-0", "d"), 0, "distribution's answer for an empty session");
  assert.equal(rangeEnd("0-262143", "d"), 262144);
  assert.equal(rangeEnd("bytes=0-9", "d"), 10);
  assert.throws(
    () => rangeEnd("5-9", "d"),
    (error) => error instanceof RegistryError && error.code === "UPLOAD_INVALID",
  );
});

test("the digest is added to a session's query, which is kept", () => {
  const session = { location: "/v2/a/b/blobs/uploads/u?_state=ab%2Bc%3D" };
  const path = withQuery(session, "digest", "sha256:00");
  const url = new URL(path, "http://registry");
  assert.equal(url.pathname, "/v2/a/b/blobs/uploads/u");
  assert.equal(url.searchParams.get("_state"), "ab+c=");
  assert.equal(url.searchParams.get("digest"), "sha256:00");
});
