/**
 * The one retry policy of the registry transport: network failures, stalls,
 * 408, 429 and 5xx are tried again after a backoff that doubles (or the
 * `Retry-After` the registry asks for), at most `retries` times; every retry is
 * reported with its reason, and the last failure names the attempts made.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { IncomingHttpHeaders } from "node:http";
import { OciImageError, RegistryError } from "../../errors.js";
import { withAdvice } from "../advice.js";
import {
  describeNetworkError,
  describeRateLimit,
  formatDuration,
  httpError,
  isRetryableNetworkError,
  retryAfterMs,
  statusLine,
} from "../http-errors.js";

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First backoff delay; doubles each attempt. */
  delayMs: number;
  /** A `Retry-After` longer than this fails at once instead of waiting. */
  maxRetryAfterMs: number;
  /** The idle timeout, named in messages about it. */
  timeoutMs: number;
  /** The registry's origin, the `where` of network failures. */
  where: string;
  signal?: AbortSignal;
  onRetry?: (message: string) => void;
}

/** An answer worth another attempt (408, 429, 5xx), carried out of an attempt. */
export class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly text: string,
  ) {
    super(statusLine(status));
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** What to do about one failure: `retry` or not, why, after how long, and the error when giving up. */
export interface Verdict {
  retry: boolean;
  reason: string;
  /** Asked for by the registry; otherwise the backoff. */
  delayMs?: number;
  /** "retrying", "resuming", "downloading it again". */
  action?: string;
  fail(attempts: number): Error;
}

/** Judges a failure; undefined means "not ours: throw it as it is". */
export type Classifier = (error: unknown) => Verdict | undefined;

/** The budget of one operation: counts failures, waits between attempts, ends with the last error. */
export class RetryBudget {
  private failures = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly what: string,
    private readonly classify: Classifier = (error) => classifyFailure(error, what, policy),
  ) {}

  /** Resolves when another attempt is due; throws the error to give up with otherwise. */
  async afterFailure(error: unknown): Promise<void> {
    if (this.policy.signal?.aborted) throw error;
    const verdict = this.classify(error);
    if (!verdict) throw error;
    const attempt = this.failures++;
    const delay = verdict.delayMs ?? backoff(this.policy.delayMs, attempt);
    if (!verdict.retry) throw verdict.fail(1);
    if (attempt >= this.policy.retries || delay > this.policy.maxRetryAfterMs) throw verdict.fail(attempt + 1);
    const wait = delay > 0 ? ` in ${formatDuration(delay)}` : "";
    this.policy.onRetry?.(
      `${this.what}: ${verdict.reason}; ${verdict.action ?? "retrying"}${wait} (${attempt + 1}/${this.policy.retries})`,
    );
    if (delay > 0) await sleep(delay, undefined, { signal: this.policy.signal });
  }
}

/** Runs `attempt` until it succeeds or the budget is spent. */
export async function withRetries<T>(
  policy: RetryPolicy,
  what: string,
  attempt: () => Promise<T>,
  classify?: Classifier,
): Promise<T> {
  const budget = new RetryBudget(policy, what, classify);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      await budget.afterFailure(error);
    }
  }
}

function backoff(base: number, attempt: number): number {
  return Math.round(base * 2 ** attempt * (0.8 + Math.random() * 0.4));
}

/** Network failures, stalls and retryable statuses; errors of this tool pass through unchanged. */
export function classifyFailure(error: unknown, what: string, policy: RetryPolicy): Verdict | undefined {
  if (error instanceof RetryableStatus) return statusVerdict(error, what);
  if (error instanceof OciImageError) return undefined;
  return {
    retry: isRetryableNetworkError(error),
    reason: describeNetworkError(error, policy.timeoutMs),
    fail: (attempts) => networkFailure(what, error, policy, attempts),
  };
}

export function networkFailure(what: string, error: unknown, policy: RetryPolicy, attempts = 1): RegistryError {
  const tries = attempts > 1 ? ` (after ${attempts} attempts)` : "";
  const reason = describeNetworkError(error, policy.timeoutMs);
  const failure = new RegistryError("REGISTRY_UNREACHABLE", `${what}: ${reason}${tries}`, {
    where: policy.where,
    cause: error,
  });
  return reason.startsWith("TLS certificate problem") ? withAdvice(failure, "skip-tls-check") : failure;
}

function statusVerdict(answer: RetryableStatus, what: string): Verdict {
  const asked = retryAfterMs(answer.headers);
  const limit = answer.status === 429 ? describeRateLimit(answer.headers) : undefined;
  return {
    retry: true,
    reason: `${statusLine(answer.status)}${limit ? ` (${limit})` : ""}`,
    delayMs: asked,
    fail(attempts) {
      const error = httpError(what, answer.status, answer.text, answer.headers);
      const wait = asked !== undefined ? `; the registry asks to retry after ${formatDuration(asked)}` : "";
      const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
      return new RegistryError(error.code, `${error.message}${tries}${wait}`, { status: answer.status });
    },
  };
}
