/**
 * One registry, over undici: authentication (Basic, or bearer tokens cached per
 * scope), redirects followed by hand (no `Authorization` to another host, never
 * https → http), retries with backoff on network failures, 408, 429 and 5xx
 * (honouring `Retry-After`), and an idle timeout on every request.
 */
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher } from "undici";
import { OciImageError, RegistryError } from "../errors.js";
import { parseChallenges, type Challenge } from "./challenge.js";
import type { Credentials } from "./credentials.js";
import {
  describeNetworkError,
  describeRateLimit,
  formatDuration,
  headerValue,
  httpError,
  isRetryableNetworkError,
  readErrorBody,
  retryAfterMs,
  statusLine,
} from "./http-errors.js";
import { createAgent, sendRequest } from "./http-agent.js";
import { isLoopbackHost, registryEndpoint } from "./reference.js";

export interface RegistryClientOptions {
  /** Normalised registry name (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Called at most once, when the registry first asks for credentials. */
  credentials?: () => Promise<Credentials | undefined>;
  /** HTTP instead of HTTPS (default: only for loopback hosts). */
  plainHttp?: boolean;
  /** HTTPS without certificate checks. */
  insecure?: boolean;
  /** Attempts after the first, for each request (default 3). */
  retries?: number;
  /** Idle timeout for headers and for gaps in a body (default 30 s). */
  timeoutMs?: number;
  /** First backoff delay; doubles each attempt (default 500 ms). */
  retryDelayMs?: number;
  /** A `Retry-After` longer than this fails at once instead of waiting (default 60 s). */
  maxRetryAfterMs?: number;
  signal?: AbortSignal;
  /** Told why a request is being retried (the command prints it). */
  onRetry?: (message: string) => void;
  /** For tests: a dispatcher to use instead of a fresh Agent. */
  dispatcher?: Dispatcher;
}

export interface RegistryResponse {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
  /** The URL that finally answered (after redirects). */
  url: URL;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** Tokens are renewed this long before the registry would refuse them. */
const TOKEN_MARGIN_MS = 10_000;

export class RegistryClient {
  readonly registry: string;
  readonly origin: string;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  private readonly options: RegistryClientOptions;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private credentialsLoaded = false;
  private credentials?: Credentials;
  private scheme: "none" | "basic" | "bearer" = "none";
  private bearer?: { realm: string; service?: string };
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pendingTokens = new Map<string, Promise<CachedToken>>();

  constructor(options: RegistryClientOptions) {
    this.options = options;
    this.registry = options.registry;
    const endpoint = registryEndpoint(options.registry);
    const plain = options.plainHttp ?? isLoopbackHost(endpoint);
    this.origin = `${plain ? "http" : "https"}://${endpoint}`;
    this.retries = options.retries ?? 3;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.signal = options.signal;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      createAgent({
        connect: { rejectUnauthorized: !options.insecure, timeout: Math.max(this.timeoutMs, 1000) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        keepAliveTimeout: 10_000,
      });
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close().catch(() => {});
  }

  /**
   * GET (or HEAD) a path of the registry's API for `repository`, authenticated,
   * redirects followed, retried; resolves with a 2xx response or throws a
   * RegistryError naming `what`.
   */
  async get(
    path: string,
    repository: string,
    what: string,
    headers: Record<string, string> = {},
    method: "GET" | "HEAD" = "GET",
  ): Promise<RegistryResponse> {
    for (let attempt = 0; ; attempt++) {
      let response: RegistryResponse;
      try {
        response = await this.sendAuthenticated(method, path, repository, headers, what);
      } catch (error) {
        if (this.options.signal?.aborted || error instanceof OciImageError) throw error;
        if (!isRetryableNetworkError(error)) throw this.networkFailure(what, error);
        if (attempt >= this.retries) throw this.networkFailure(what, error, attempt);
        const delay = this.backoff(attempt);
        this.notifyRetry(
          `${what}: ${describeNetworkError(error, this.timeoutMs)}; retrying in ${formatDuration(delay)} (${attempt + 1}/${this.retries})`,
        );
        await sleep(delay, undefined, { signal: this.options.signal });
        continue;
      }
      if (response.status >= 200 && response.status < 300) return response;
      const text = await readErrorBody(response.body);
      const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
      if (!retryable) throw httpError(what, response.status, text, response.headers);
      const asked = retryAfterMs(response.headers);
      const delay = asked ?? this.backoff(attempt);
      const maxWait = this.options.maxRetryAfterMs ?? 60_000;
      if (attempt >= this.retries || delay > maxWait) {
        const error = httpError(what, response.status, text, response.headers);
        const wait = asked !== undefined ? `; the registry asks to retry after ${formatDuration(asked)}` : "";
        const tries = attempt > 0 ? ` after ${attempt + 1} attempts` : "";
        throw new RegistryError(error.code, `${error.message}${tries}${wait}`, { status: response.status });
      }
      const limit = response.status === 429 ? describeRateLimit(response.headers) : undefined;
      this.notifyRetry(
        `${what}: ${statusLine(response.status)}${limit ? ` (${limit})` : ""}; retrying in ${formatDuration(delay)} (${attempt + 1}/${this.retries})`,
      );
      await sleep(delay, undefined, { signal: this.options.signal });
    }
  }

  notifyRetry(message: string): void {
    this.options.onRetry?.(message);
  }

  backoff(attempt: number): number {
    const base = this.options.retryDelayMs ?? 500;
    return Math.round(base * 2 ** attempt * (0.8 + Math.random() * 0.4));
  }

  networkFailure(what: string, error: unknown, attempt = 0): RegistryError {
    const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : "";
    return new RegistryError(
      "REGISTRY_UNREACHABLE",
      `${what}: ${describeNetworkError(error, this.timeoutMs)}${tries}`,
      { where: this.origin, cause: error },
    );
  }

  /** One request, with one authentication round when the registry answers 401. */
  private async sendAuthenticated(
    method: string,
    path: string,
    repository: string,
    headers: Record<string, string>,
    what: string,
  ): Promise<RegistryResponse> {
    const url = new URL(path, this.origin);
    const scope = `repository:${repository}:pull`;
    let authorization = await this.authorize(scope, what);
    let response = await this.follow(method, url, authorization ? { ...headers, authorization } : headers);
    if (response.status !== 401 || response.url.origin !== this.origin) return response;
    const challenges = parseChallenges(response.headers["www-authenticate"]);
    await readErrorBody(response.body);
    if (challenges.length === 0) {
      throw new RegistryError(
        "UNAUTHORIZED",
        `${what}: 401 Unauthorized without a WWW-Authenticate challenge; the registry gave no way to log in`,
        { status: 401 },
      );
    }
    await this.authenticate(challenges, scope, what, authorization !== undefined);
    authorization = await this.authorize(scope, what);
    response = await this.follow(method, url, authorization ? { ...headers, authorization } : headers);
    if (response.status === 401 && response.url.origin === this.origin) {
      const text = await readErrorBody(response.body);
      const error = httpError(what, 401, text, response.headers);
      const hint = this.credentials
        ? "the registry refused these credentials"
        : "authentication required: log in (docker login) or pass -u and --password-stdin";
      throw new RegistryError("UNAUTHORIZED", `${error.message}: ${hint}`, { status: 401 });
    }
    return response;
  }

  private async loadCredentials(): Promise<Credentials | undefined> {
    if (!this.credentialsLoaded) {
      this.credentialsLoaded = true;
      this.credentials = await this.options.credentials?.();
    }
    return this.credentials;
  }

  /** The Authorization header for `scope`; a token failure names what it was for. */
  private async authorize(scope: string, what: string): Promise<string | undefined> {
    try {
      return await this.authorizationFor(scope);
    } catch (error) {
      if (error instanceof RegistryError && !error.message.startsWith(what)) {
        throw new RegistryError(error.code, `${what}: ${error.message}`, {
          status: error.status,
          where: error.where,
          cause: error,
        });
      }
      throw error;
    }
  }

  private async authorizationFor(scope: string): Promise<string | undefined> {
    if (this.scheme === "basic") {
      return this.credentials
        ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`
        : undefined;
    }
    if (this.scheme === "bearer") {
      const cached = this.tokens.get(scope);
      if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
      return `Bearer ${(await this.fetchToken(scope)).token}`;
    }
    return undefined;
  }

  private async authenticate(
    challenges: Challenge[],
    scope: string,
    what: string,
    hadAuthorization: boolean,
  ): Promise<void> {
    const bearer = challenges.find((challenge) => challenge.scheme === "bearer" && challenge.params.realm);
    const basic = challenges.find((challenge) => challenge.scheme === "basic");
    const credentials = await this.loadCredentials();
    if (bearer) {
      this.scheme = "bearer";
      this.bearer = { realm: bearer.params.realm!, service: bearer.params.service };
      // A 401 with a token in hand: it expired or lost its grant; get a fresh one.
      this.tokens.delete(scope);
      return;
    }
    if (basic) {
      if (!credentials) {
        throw new RegistryError(
          "UNAUTHORIZED",
          `${what}: 401 Unauthorized: authentication required: log in (docker login) or pass -u and --password-stdin`,
          { status: 401 },
        );
      }
      if (hadAuthorization && this.scheme === "basic") {
        throw new RegistryError(
          "UNAUTHORIZED",
          `${what}: 401 Unauthorized: the registry refused the credentials of user "${credentials.username}"`,
          { status: 401 },
        );
      }
      this.scheme = "basic";
      return;
    }
    const schemes = challenges.map((challenge) => challenge.scheme).join(", ");
    throw new RegistryError(
      "UNAUTHORIZED",
      `${what}: 401 Unauthorized with an authentication scheme this tool does not speak (${schemes})`,
      { status: 401 },
    );
  }

  /** A bearer token for `scope`; concurrent callers share one request. */
  private fetchToken(scope: string): Promise<CachedToken> {
    const pending = this.pendingTokens.get(scope);
    if (pending) return pending;
    const request = this.requestToken(scope).finally(() => this.pendingTokens.delete(scope));
    this.pendingTokens.set(scope, request);
    return request;
  }

  private async requestToken(scope: string): Promise<CachedToken> {
    const { realm, service } = this.bearer!;
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
    const what = `getting a token for ${scope} from ${url.host}`;
    const credentials = await this.loadCredentials();
    // Credentials travel only over HTTPS, or to this machine.
    const safe = url.protocol === "https:" || isLoopbackHost(url.host);
    const identityToken = safe ? credentials?.identityToken : undefined;
    let send: () => Promise<RegistryResponse>;
    if (identityToken) {
      // OAuth2 (distribution's token spec): the refresh token is exchanged by POST, never put in a URL.
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: identityToken,
        client_id: "oci-image",
        scope,
      });
      if (service) form.set("service", service);
      send = () => this.post(url, form.toString(), { "content-type": "application/x-www-form-urlencoded" });
    } else {
      if (service) url.searchParams.set("service", service);
      url.searchParams.set("scope", scope);
      const headers: Record<string, string> = {};
      if (credentials && safe)
        headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
      send = () => this.follow("GET", url, headers);
    }
    let response: RegistryResponse;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await send();
      } catch (error) {
        if (this.options.signal?.aborted || error instanceof OciImageError) throw error;
        if (!isRetryableNetworkError(error) || attempt >= this.retries) throw this.networkFailure(what, error, attempt);
        await sleep(this.backoff(attempt), undefined, { signal: this.options.signal });
        continue;
      }
      if ((response.status >= 500 || response.status === 429) && attempt < this.retries) {
        await readErrorBody(response.body);
        await sleep(retryAfterMs(response.headers) ?? this.backoff(attempt), undefined, {
          signal: this.options.signal,
        });
        continue;
      }
      break;
    }
    if (response.status !== 200) {
      const text = await readErrorBody(response.body);
      const error = httpError(what, response.status, text, response.headers);
      let hint = "";
      if (response.status === 401 || response.status === 403) {
        if (credentials && !safe)
          hint = ": credentials were not sent because the token realm is plain HTTP on another host";
        else if (identityToken)
          hint = ": the token server refused the identity token from the Docker config (log in again: docker login)";
        else if (credentials) hint = `: the token server refused the credentials of user "${credentials.username}"`;
        else hint = ": authentication required: log in (docker login) or pass -u and --password-stdin";
      }
      throw new RegistryError("UNAUTHORIZED", `${error.message}${hint}`, { status: response.status, where: realm });
    }
    const text = await readLimited(response.body, 1024 * 1024, what);
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
    const cached = { token, expiresAt: Date.now() + Math.max(lifetime - TOKEN_MARGIN_MS, lifetime / 2) };
    this.tokens.set(scope, cached);
    return cached;
  }

  /** A POST of a form to a token realm; a redirect is not followed (it would drop or resend the body). */
  private async post(url: URL, body: string, headers: Record<string, string>): Promise<RegistryResponse> {
    const response = await sendRequest(this.dispatcher, {
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: "POST",
      headers: { "user-agent": "oci-image", ...headers },
      body,
      signal: this.options.signal,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body, url };
  }

  /** One request with redirects followed by hand. */
  private async follow(method: string, start: URL, headers: Record<string, string>): Promise<RegistryResponse> {
    let url = start;
    let current = { "user-agent": "oci-image", ...headers } as Record<string, string>;
    for (let hop = 0; ; hop++) {
      const response = await sendRequest(this.dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as Dispatcher.HttpMethod,
        headers: current,
        signal: this.options.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      if (!REDIRECT_STATUSES.has(response.statusCode))
        return { status: response.statusCode, headers: response.headers, body: response.body, url };
      await readErrorBody(response.body, 0);
      const location = headerValue(response.headers, "location");
      if (!location)
        throw new RegistryError("REDIRECT_INVALID", `${url.host} answered ${response.statusCode} without a Location`, {
          where: url.href,
        });
      if (hop >= MAX_REDIRECTS)
        throw new RegistryError("REDIRECT_LOOP", `more than ${MAX_REDIRECTS} redirects from ${start.host}`, {
          where: start.href,
        });
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new RegistryError("REDIRECT_INVALID", `${url.host} redirected to an invalid URL`, { where: url.href });
      }
      if (next.protocol !== "https:" && next.protocol !== "http:")
        throw new RegistryError("REDIRECT_INVALID", `${url.host} redirected to a ${next.protocol} URL`, {
          where: next.href,
        });
      if (url.protocol === "https:" && next.protocol === "http:") {
        throw new RegistryError(
          "REDIRECT_INSECURE",
          `${url.host} redirected from HTTPS to plain HTTP (${next.host}); refused`,
          { where: next.href },
        );
      }
      if (next.origin !== url.origin) {
        // The registry's credentials are for the registry only.
        const { authorization: _dropped, ...rest } = current;
        current = rest;
      }
      url = next;
    }
  }
}

/** Reads a whole body, refusing it once it passes `limit` bytes (stops reading there). */
export async function readLimited(
  body: Readable | (AsyncIterable<Buffer> & { destroy(): void }),
  limit: number,
  what: string,
): Promise<string> {
  return (await readLimitedBytes(body, limit, what)).toString("utf8");
}

export async function readLimitedBytes(
  body: Readable | (AsyncIterable<Buffer> & { destroy(): void }),
  limit: number,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        throw new RegistryError(
          "DOCUMENT_TOO_LARGE",
          `${what}: the answer is over the ${limit}-byte limit; stopped reading`,
        );
      }
      chunks.push(chunk);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}
