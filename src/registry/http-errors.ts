/** Turning registry answers and network failures into messages that say what was asked. */
import type { IncomingHttpHeaders } from "node:http";
import { RegistryError, type RegistryCode } from "../errors.js";
import { FLOOR_BYTES_PER_SECOND, STALL_CODE } from "./transport/stall.js";

/** distribution-spec error codes worth a stable code of their own. */
const KNOWN_CODES: ReadonlySet<string> = new Set<RegistryCode>([
  "MANIFEST_UNKNOWN",
  "NAME_UNKNOWN",
  "BLOB_UNKNOWN",
  "UNAUTHORIZED",
  "DENIED",
  "TOOMANYREQUESTS",
  "NAME_INVALID",
  "TAG_INVALID",
  "MANIFEST_INVALID",
  "UNSUPPORTED",
]);

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export function statusLine(status: number): string {
  return `${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ""}`;
}

/** Reads at most `limit` bytes of an error body, then discards the rest. */
export async function readErrorBody(
  body: AsyncIterable<Buffer> & { destroy?: () => void },
  limit = 64 * 1024,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } catch {
    // A broken error body still leaves the status to report.
  } finally {
    body.destroy?.();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8");
}

/** `{"errors":[{code,message,detail}]}` → its first code and a short text; anything else → a one-line excerpt. */
export function describeErrorBody(text: string): { code?: string; detail?: string } {
  const trimmed = text.trim();
  if (!trimmed) return {};
  try {
    const parsed = JSON.parse(trimmed) as {
      errors?: { code?: unknown; message?: unknown; detail?: unknown }[];
      details?: unknown;
      error?: unknown;
    };
    const first = Array.isArray(parsed?.errors) ? parsed.errors[0] : undefined;
    if (first && typeof first === "object") {
      const code = typeof first.code === "string" ? first.code : undefined;
      const message = typeof first.message === "string" ? first.message : undefined;
      return { code, detail: [code, message].filter(Boolean).join(": ") || undefined };
    }
    if (typeof parsed?.details === "string") return { detail: oneLine(parsed.details) };
    if (typeof parsed?.error === "string") return { detail: oneLine(parsed.error) };
  } catch {
    // Not JSON: HTML or text.
  }
  const text1 = oneLine(trimmed.replace(/<[^>]*>/g, " "));
  return text1 ? { detail: text1 } : {};
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** The error for a final non-success status; `what` says what was being fetched. */
export function httpError(what: string, status: number, bodyText: string, headers: IncomingHttpHeaders): RegistryError {
  const { code, detail } = describeErrorBody(bodyText);
  const limit = describeRateLimit(headers);
  const parts = [detail, limit].filter(Boolean).join("; ");
  const message = `${what}: ${statusLine(status)}${parts ? ` (${parts})` : ""}`;
  let stable: RegistryCode = code && KNOWN_CODES.has(code) ? (code as RegistryCode) : `HTTP_${status}`;
  if (status === 429) stable = "TOOMANYREQUESTS";
  return new RegistryError(stable, message, { status });
}

/** Docker Hub's `ratelimit-limit: 100;w=21600` / `ratelimit-remaining: 0;w=21600`, when present. */
export function describeRateLimit(headers: IncomingHttpHeaders): string | undefined {
  const limit = headerValue(headers, "ratelimit-limit");
  const remaining = headerValue(headers, "ratelimit-remaining");
  if (!limit && !remaining) return undefined;
  const [count, window] = (limit ?? "").split(";");
  const seconds = /w=(\d+)/.exec(window ?? "")?.[1];
  const left = remaining?.split(";")[0];
  const per = seconds ? ` per ${formatDuration(Number(seconds) * 1000)}` : "";
  const counts = `ratelimit-remaining ${left ?? "?"} of ratelimit-limit ${count || "?"}${per}`;
  return `rate limit: ${counts}; log in to raise the limit`;
}

/** `Retry-After` as milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const value = headerValue(headers, "retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 120) return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

const RETRYABLE_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ECONNABORTED",
  "ENETDOWN",
  STALL_CODE,
]);

/** Whether a thrown network error is worth another attempt. */
export function isRetryableNetworkError(error: unknown): boolean {
  const code = networkCode(error);
  if (!code) return false;
  if (RETRYABLE_NETWORK_CODES.has(code)) return true;
  return (
    code.startsWith("UND_ERR_") &&
    code !== "UND_ERR_ABORTED" &&
    code !== "UND_ERR_INVALID_ARG" &&
    code !== "UND_ERR_NOT_SUPPORTED"
  );
}

export function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A one-line reason for a network failure: "connection refused", "no answer within 30 s"... */
export function describeNetworkError(error: unknown, timeoutMs: number): string {
  const code = networkCode(error);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "ENOTFOUND":
      return "host not found";
    case "EAI_AGAIN":
      return "host name lookup failed";
    case "UND_ERR_HEADERS_TIMEOUT":
      return `no answer within ${formatDuration(timeoutMs)}`;
    case "UND_ERR_BODY_TIMEOUT":
      return `no data for ${formatDuration(timeoutMs)}`;
    case STALL_CODE: {
      const { bytes, windowMs } = error as { bytes: number; windowMs: number };
      const floor = `${FLOOR_BYTES_PER_SECOND / 1024} KiB/s`;
      return `transfer slower than ${floor} (${bytes} bytes in ${formatDuration(windowMs)})`;
    }
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connection timed out";
    case "UND_ERR_SOCKET":
      return "connection closed by the other side";
    case "UND_ERR_RES_CONTENT_LENGTH_MISMATCH":
      return "response shorter than its Content-Length";
    default: {
      const message = (error as Error)?.message ?? String(error);
      if (/self[- ]signed|certificate|CERT_|UNABLE_TO_VERIFY/i.test(message + (code ?? "")))
        return `TLS certificate problem: ${message}`;
      return code ? `${message} (${code})` : message;
    }
  }
}
