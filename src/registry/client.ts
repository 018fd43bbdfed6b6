/**
 * One registry, over undici, as a pipeline of small steps (each in
 * `transport/`): retry (backoff, Retry-After) → authentication (Basic, bearer
 * tokens) → redirects (no credentials to another host, never https → http) →
 * HTTP with idle timeouts. Bodies are read under a throughput floor
 * (`transport/stall.ts`). Requests are general (method, headers, body, the
 * statuses expected) so that uploads stand on the same transport.
 *
 * undici's own `interceptors.redirect` and `interceptors.retry` were weighed
 * and left: the redirect handler follows https → http, and the retry handler
 * gives up on a server that answers a Range request with the whole blob (this
 * tool reads it again, skipping what it had), cannot report why it retries,
 * and knows nothing of the throughput floor or of re-downloading wrong bytes.
 */
import { setMaxListeners } from "node:events";
import type { Dispatcher } from "undici";
import { httpError, readErrorBody } from "./http-errors.js";
import { createAgent } from "./http-agent.js";
import { isLoopbackHost, registryEndpoint } from "./reference.js";
import type { Credentials } from "./credentials.js";
import { Authenticator } from "./transport/auth.js";
import { httpStep } from "./transport/http.js";
import { redirectStep } from "./transport/redirect.js";
import {
  isRetryableStatus,
  RetryableStatus,
  RetryBudget,
  withRetries,
  type Classifier,
  type RetryPolicy,
} from "./transport/retry.js";
import type { Method, RequestBody, Send, TransportResponse } from "./transport/types.js";

export { readLimited, readLimitedBytes } from "./transport/body.js";

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
  /** Idle timeout for headers and for gaps in a body, and the stall window (default 30 s). */
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

export interface RegistryRequest {
  method?: Method;
  /** A path of the registry's API (`/v2/…`). */
  path: string;
  /** The repository whose scope authorises the request. */
  repository: string;
  /** Token scope actions (default "pull"; uploads ask for "pull,push"). */
  actions?: string;
  /** More scopes the token must carry (`repository:other:pull` for a cross-repository mount). */
  extraScopes?: string[];
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Statuses that are an answer (default: any 2xx); others are errors, retried when worth it. */
  expect?: number[];
  /** What is being done, for messages. */
  what: string;
}

export type RegistryResponse = TransportResponse;

/** Requests that may listen on the abort signal at once without Node's leak warning. */
const MAX_REQUESTS_LISTENING = 200;

export class RegistryClient {
  readonly registry: string;
  /** The host actually contacted (`registry-1.docker.io` for `docker.io`). */
  readonly host: string;
  readonly origin: string;
  readonly timeoutMs: number;
  readonly policy: RetryPolicy;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly send: Send;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.host = registryEndpoint(options.registry);
    const plain = options.plainHttp ?? isLoopbackHost(this.host);
    this.origin = `${plain ? "http" : "https"}://${this.host}`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.policy = {
      retries: options.retries ?? 3,
      delayMs: options.retryDelayMs ?? 500,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      timeoutMs: this.timeoutMs,
      where: this.origin,
      signal: options.signal,
      onRetry: options.onRetry,
    };
    // Every request in flight listens on the signal; blobs fetched by ranges have many at once.
    if (options.signal) setMaxListeners(MAX_REQUESTS_LISTENING, options.signal);
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      createAgent({
        connect: { rejectUnauthorized: !options.insecure, timeout: Math.max(this.timeoutMs, 1000) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        keepAliveTimeout: 10_000,
      });
    const redirected = redirectStep(httpStep(this.dispatcher, this.timeoutMs, options.signal));
    const auth = new Authenticator({
      origin: this.origin,
      credentials: options.credentials,
      tokenSend: redirected,
      policy: this.policy,
    });
    this.send = auth.step(redirected);
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close().catch(() => {});
  }

  /**
   * One request, retried as a whole with `read` (which consumes the body):
   * resolves with what `read` returns for an expected status, or throws a
   * RegistryError naming `request.what`.
   */
  async request<T>(request: RegistryRequest, read: (response: RegistryResponse) => Promise<T>): Promise<T> {
    return withRetries(this.policy, request.what, async () => read(await this.exchange(request)));
  }

  /** One attempt of `request`, not retried: for an operation whose retries are its own (a resumed upload). */
  async attempt<T>(request: RegistryRequest, read: (response: RegistryResponse) => Promise<T>): Promise<T> {
    return read(await this.exchange(request));
  }

  /** One attempt of `request`, no retry: an expected answer, or a RetryableStatus / RegistryError. */
  private async exchange(request: RegistryRequest): Promise<RegistryResponse> {
    const scope = [
      `repository:${request.repository}:${request.actions ?? "pull"}`,
      ...(request.extraScopes ?? []),
    ].join(" ");
    const response = await this.send({
      method: request.method ?? "GET",
      url: new URL(request.path, this.origin),
      headers: request.headers ?? {},
      body: request.body,
      what: request.what,
      scope,
    });
    const expected = request.expect
      ? request.expect.includes(response.status)
      : response.status >= 200 && response.status < 300;
    if (expected) return response;
    const text = await readErrorBody(response.body);
    if (isRetryableStatus(response.status)) throw new RetryableStatus(response.status, response.headers, text);
    throw httpError(request.what, response.status, text, response.headers);
  }

  /** A budget for an operation that retries by itself (a blob resumed by Range). */
  retryBudget(what: string, classify?: Classifier): RetryBudget {
    return new RetryBudget(this.policy, what, classify);
  }

  /** GET (or HEAD) a path for `repository`; the answer's body is the caller's to read. */
  get(
    path: string,
    repository: string,
    what: string,
    headers: Record<string, string> = {},
    method: "GET" | "HEAD" = "GET",
  ): Promise<RegistryResponse> {
    return this.request({ method, path, repository, headers, what }, async (response) => response);
  }
}
