/**
 * Bearer tokens from a registry's token realm (distribution's token spec):
 * GET with Basic credentials, or an OAuth2 POST exchanging an identity token.
 * Credentials travel only over HTTPS or to this machine.
 */
import { RegistryError } from "../../errors.js";
import { withAdvice } from "../advice.js";
import type { Credentials } from "../credentials.js";
import { httpError, readErrorBody } from "../http-errors.js";
import { isLoopbackHost } from "../reference.js";
import { readLimited } from "./body.js";
import { isRetryableStatus, RetryableStatus, withRetries, type RetryPolicy } from "./retry.js";
import type { Send, TransportRequest } from "./types.js";

export interface Token {
  token: string;
  expiresAt: number;
}

export interface TokenRealm {
  realm: string;
  service?: string;
}

/** Tokens are renewed this long before the registry would refuse them. */
const TOKEN_MARGIN_MS = 10_000;

export async function requestToken(
  send: Send,
  policy: RetryPolicy,
  { realm, service }: TokenRealm,
  scope: string,
  credentials: Credentials | undefined,
): Promise<Token> {
  const url = realmUrl(realm);
  const what = `getting a token for ${scope} from ${url.host}`;
  const safe = url.protocol === "https:" || isLoopbackHost(url.host);
  const identityToken = safe ? credentials?.identityToken : undefined;
  const request = tokenRequest(url, what, scope, service, safe ? credentials : undefined);
  const response = await withRetries(policy, what, async () => {
    const answer = await send(request);
    if (answer.status === 429 || (answer.status !== 200 && isRetryableStatus(answer.status)))
      throw new RetryableStatus(answer.status, answer.headers, await readErrorBody(answer.body));
    return answer;
  });
  if (response.status !== 200) {
    const error = httpError(what, response.status, await readErrorBody(response.body), response.headers);
    let hint = "";
    let needsLogin = false;
    if (response.status === 401 || response.status === 403) {
      if (credentials && !safe)
        hint = ": credentials were not sent because the token realm is plain HTTP on another host";
      else if (identityToken)
        hint = ": the token server refused the identity token from the Docker config (log in again: docker login)";
      else if (credentials) hint = `: the token server refused the credentials of user "${credentials.username}"`;
      else [hint, needsLogin] = [": authentication required", true];
    }
    const failure = new RegistryError("UNAUTHORIZED", `${error.message}${hint}`, {
      status: response.status,
      where: realm,
    });
    throw needsLogin ? withAdvice(failure, "log-in") : failure;
  }
  return parseToken(await readLimited(response.body, 1024 * 1024, what, policy.timeoutMs), what, realm);
}

function realmUrl(realm: string): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryError("AUTH_REALM_INVALID", `the registry's token realm "${realm}" is not a URL`, {
      where: realm,
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new RegistryError("AUTH_REALM_INVALID", `the registry's token realm "${realm}" is not http(s)`, {
      where: realm,
    });
  return url;
}

function tokenRequest(
  url: URL,
  what: string,
  scope: string,
  service: string | undefined,
  credentials: Credentials | undefined,
): TransportRequest {
  if (credentials?.identityToken) {
    // OAuth2: the refresh token is exchanged by POST, never put in a URL.
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: credentials.identityToken,
      client_id: "oci-image",
      scope,
    });
    if (service) form.set("service", service);
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    return { method: "POST", url, headers, body: form.toString(), what };
  }
  const target = new URL(url);
  if (service) target.searchParams.set("service", service);
  // Several scopes (a mount needs pull on the source too) are several parameters.
  for (const one of scope.split(" ")) target.searchParams.append("scope", one);
  const headers: Record<string, string> = {};
  if (credentials) headers.authorization = basicAuthorization(credentials);
  return { method: "GET", url: target, headers, what };
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

function parseToken(text: string, what: string, realm: string): Token {
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new RegistryError("AUTH_TOKEN_INVALID", `${what}: the answer is not JSON`, { where: realm });
  }
  const token =
    typeof body?.token === "string" && body.token
      ? body.token
      : typeof body?.access_token === "string"
        ? body.access_token
        : undefined;
  if (!token) throw new RegistryError("AUTH_TOKEN_INVALID", `${what}: the answer holds no token`, { where: realm });
  const lifetime = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in * 1000 : 60_000;
  return { token, expiresAt: Date.now() + Math.max(lifetime - TOKEN_MARGIN_MS, lifetime / 2) };
}
