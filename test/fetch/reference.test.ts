/** Image references: Docker's grammar and normalisation, table-driven. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/errors.js";
import { formatReference, isLoopbackHost, parseReference, registryEndpoint } from "../../src/registry/reference.js";

const D = `sha256:${"a".repeat(64)}`;

const valid: [string, string, { registry: string; repository: string; tag?: string; digest?: string }][] = [
  ["alpine", "docker.io/library/alpine:latest", { registry: "docker.io", repository: "library/alpine", tag: "latest" }],
  [
    "alpine:3.20",
    "docker.io/library/alpine:3.20",
    { registry: "docker.io", repository: "library/alpine", tag: "3.20" },
  ],
  [
    "library/alpine:3.20",
    "docker.io/library/alpine:3.20",
    { registry: "docker.io", repository: "library/alpine", tag: "3.20" },
  ],
  [
    "docker.io/alpine",
    "docker.io/library/alpine:latest",
    { registry: "docker.io", repository: "library/alpine", tag: "latest" },
  ],
  [
    "index.docker.io/library/alpine",
    "docker.io/library/alpine:latest",
    { registry: "docker.io", repository: "library/alpine", tag: "latest" },
  ],
  ["bitnami/redis:7", "docker.io/bitnami/redis:7", { registry: "docker.io", repository: "bitnami/redis", tag: "7" }],
  [`ghcr.io/org/x@${D}`, `ghcr.io/org/x@${D}`, { registry: "ghcr.io", repository: "org/x", digest: D }],
  [
    `ghcr.io/org/x:v1@${D}`,
    `ghcr.io/org/x:v1@${D}`,
    { registry: "ghcr.io", repository: "org/x", tag: "v1", digest: D },
  ],
  ["localhost:5000/x", "localhost:5000/x:latest", { registry: "localhost:5000", repository: "x", tag: "latest" }],
  ["localhost/x:1", "localhost/x:1", { registry: "localhost", repository: "x", tag: "1" }],
  ["127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", { registry: "127.0.0.1:5000", repository: "x", tag: "latest" }],
  ["[::1]:5000/a/b:c", "[::1]:5000/a/b:c", { registry: "[::1]:5000", repository: "a/b", tag: "c" }],
  [
    "quay.io/a/b/c/d:tag_1.0-rc",
    "quay.io/a/b/c/d:tag_1.0-rc",
    { registry: "quay.io", repository: "a/b/c/d", tag: "tag_1.0-rc" },
  ],
  [
    "my-registry.example.com:443/team/app__x.y-z",
    "my-registry.example.com:443/team/app__x.y-z:latest",
    { registry: "my-registry.example.com:443", repository: "team/app__x.y-z", tag: "latest" },
  ],
  ["foo/bar", "docker.io/foo/bar:latest", { registry: "docker.io", repository: "foo/bar", tag: "latest" }],
];

for (const [input, formatted, expected] of valid) {
  test(`parses ${input}`, () => {
    const reference = parseReference(input);
    assert.deepEqual(reference, expected);
    assert.equal(formatReference(reference), formatted);
    assert.deepEqual(parseReference(formatted), expected, "the formatted form parses back to the same");
  });
}

const invalid: [string, RegExp][] = [
  ["", /empty/],
  ["Alpine", /lower case/],
  ["docker.io/Library/alpine", /lower case/],
  ["alpine:", /not a valid tag/],
  ["alpine:-x", /not a valid tag/],
  [`alpine:${"t".repeat(129)}`, /not a valid tag/],
  ["alpine@sha256:abc", /64 lower-case hex/],
  [`alpine@sha256:${"A".repeat(64)}`, /64 lower-case hex/],
  ["alpine@sha256:../../etc/passwd", /not a digest/],
  [`alpine@md5:${"a".repeat(32)}`, /not supported/],
  ["a//b", /not a valid repository name component/],
  ["a/b/", /not a valid repository name component/],
  ["-a/b", /not a valid repository name component/],
  ["host:99999/x", /not a valid port/],
  ["host:port/x", /not a valid port/],
  ["ex_ample.com/x", /not a valid registry host/],
  ["localhost:5000/", /repository name is missing/],
  ["a b", /white space/],
  [`r.io/${"a".repeat(260)}`, /longer than 255/],
  ["https://host/x", /references take no scheme: write "host\/x", not "https:\/\/…"/],
  ["http://localhost:5000/a:1", /references take no scheme: write "localhost:5000\/a:1"/],
  ["oci://host/x", /take no scheme/],
];

for (const [input, message] of invalid) {
  test(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
    assert.throws(
      () => parseReference(input),
      (error: unknown) => error instanceof UsageError && error.exitCode === 2 && message.test(error.message),
    );
  });
}

test("Docker Hub is served by registry-1.docker.io; other hosts by themselves", () => {
  assert.equal(registryEndpoint("docker.io"), "registry-1.docker.io");
  assert.equal(registryEndpoint("ghcr.io"), "ghcr.io");
  assert.equal(registryEndpoint("localhost:5000"), "localhost:5000");
});

test("loopback hosts: localhost, 127.0.0.0/8, [::1]", () => {
  for (const host of ["localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"])
    assert.equal(isLoopbackHost(host), true, host);
  for (const host of ["docker.io", "10.0.0.1:5000", "127.example.com", "localhost.example.com"])
    assert.equal(isLoopbackHost(host), false, host);
});
