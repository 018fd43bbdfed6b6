/** WWW-Authenticate parsing: quoted values with commas, several challenges, token68. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseChallenges } from "../../src/registry/challenge.js";

const cases: [string, string | string[] | undefined, ReturnType<typeof parseChallenges>][] = [
  [
    "Docker Hub's bearer",
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    [
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/alpine:pull",
        },
      },
    ],
  ],
  [
    "a scope holding commas",
    'Bearer realm="https://r.io/t",scope="repository:a/b:pull,push",service="r.io"',
    [{ scheme: "bearer", params: { realm: "https://r.io/t", scope: "repository:a/b:pull,push", service: "r.io" } }],
  ],
  ["basic", 'Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
  [
    "spaces, case and unquoted values",
    '  BEARER  Realm = "https://x/t" ,  Service=x.io',
    [{ scheme: "bearer", params: { realm: "https://x/t", service: "x.io" } }],
  ],
  [
    "two challenges in one header",
    'Basic realm="a, b", Bearer realm="https://t/x",service="s"',
    [
      { scheme: "basic", params: { realm: "a, b" } },
      { scheme: "bearer", params: { realm: "https://t/x", service: "s" } },
    ],
  ],
  [
    "escapes inside quotes",
    'Bearer realm="https://t/\\"q\\"",error="insufficient_scope"',
    [{ scheme: "bearer", params: { realm: 'https://t/"q"', error: "insufficient_scope" } }],
  ],
  [
    "token68",
    "Negotiate abc123==, Basic realm=x",
    [
      { scheme: "negotiate", params: {}, token68: "abc123==" },
      { scheme: "basic", params: { realm: "x" } },
    ],
  ],
  ["a scheme alone", "Basic", [{ scheme: "basic", params: {} }]],
  [
    "several headers",
    ['Basic realm="r"', 'Bearer realm="https://t"'],
    [
      { scheme: "basic", params: { realm: "r" } },
      { scheme: "bearer", params: { realm: "https://t" } },
    ],
  ],
  ["nothing", undefined, []],
  ["an unterminated quote", 'Bearer realm="https://t', [{ scheme: "bearer", params: { realm: "https://t" } }]],
];

for (const [name, header, expected] of cases) {
  test(`challenge: ${name}`, () => {
    assert.deepEqual(parseChallenges(header), expected);
  });
}
