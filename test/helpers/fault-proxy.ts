/**
 * A fault-injecting HTTP proxy in front of a real registry, for what Docker Hub
 * does and a local registry doesn't: blob redirects to another host (a "CDN"
 * listening on 127.0.0.2), 429 with Retry-After and rate-limit headers, 5xx,
 * connections reset mid-blob, wrong bytes, stalled or trickling answers, Range
 * ignored or answered with another Content-Range; and answers paced to a rate,
 * as one connection over a long path carries them.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { closeServer } from "./token-server.js";
import type { Readable } from "node:stream";
import { pacer, type Pace } from "./fault-pace.js";
import { cutRequest } from "./fault-upload.js";

export type Fault =
  /** Answer this status (with headers and body) without asking the registry. */
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Forward, but cut the connection after this many body bytes. */
  | { kind: "reset"; afterBytes: number }
  /** Forward, with one byte of the body changed (by default the one in the middle). */
  | { kind: "corrupt"; atByte?: number }
  /** Forward the headers (and `afterBytes` of the body), then send nothing more. */
  | { kind: "stall"; afterBytes?: number }
  /** Forward the headers (and `afterBytes` of the body), then the rest `bytesPerSecond` at a time (default 10/s). */
  | { kind: "trickle"; afterBytes?: number; bytesPerSecond?: number }
  /** Redirect (307) to the CDN host, which serves the same path from the registry. */
  | { kind: "redirect"; status?: number; location?: string }
  /** Forward without the client's Range header (a server without range support). */
  | { kind: "ignore-range" }
  /** Take the request in and never answer (a registry that hangs on an upload). */
  | { kind: "hang" }
  /** Forward this many bytes of the request's body (an upload), then drop both connections. */
  | { kind: "cut-request"; afterBytes: number }
  /** Forward, with the answer's Content-Range start moved one byte on (a range other than the one asked). */
  | { kind: "shift-content-range" };

export interface FaultRule {
  method?: string;
  /** Matched against the request path. */
  path: RegExp;
  fault: Fault;
  /** Matched against the request's Range header ("" when it has none). */
  range?: RegExp;
  /** How many requests it applies to (default: all). */
  times?: number;
  /** How many matching requests pass untouched before it applies (default 0). */
  skip?: number;
}

export interface SeenRequest {
  server: "proxy" | "cdn";
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  fault?: Fault["kind"];
  /** Bytes of the request's body the proxy received (uploads). */
  bodyBytes: number;
}

export interface FaultProxy {
  url: string;
  host: string;
  cdnHost: string;
  requests: SeenRequest[];
  rules: FaultRule[];
  /** Replaces the rules (and the pace) and forgets the requests seen. */
  reset(rules?: FaultRule[], pace?: Pace): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Authorization the CDN adds when it asks the registry (as a signed URL would stand for). */
  cdnUpstreamAuthorization?: string;
  /** Address the CDN listens on (default 127.0.0.2). */
  cdnAddress?: string;
}

export async function startFaultProxy(upstreamUrl: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const requests: SeenRequest[] = [];
  let rules: FaultRule[] = [];
  let pace: Pace | undefined;
  const cdnAddress = options.cdnAddress ?? "127.0.0.2";
  const cdn = createServer((request, response) => {
    requests.push({
      server: "cdn",
      method: request.method ?? "GET",
      path: request.url ?? "/",
      headers: request.headers,
      bodyBytes: 0,
    });
    const path = (request.url ?? "/").replace(/^\/cdn/, "");
    forward(upstream, request, response, path, { authorization: options.cdnUpstreamAuthorization });
  });
  await listen(cdn, cdnAddress);
  const cdnHost = `${cdnAddress}:${(cdn.address() as AddressInfo).port}`;
  const proxy = createServer((request, response) => {
    const path = request.url ?? "/";
    const fault = takeFault(rules, request.method ?? "GET", path, request.headers.range ?? "");
    const seen: SeenRequest = {
      server: "proxy",
      method: request.method ?? "GET",
      path,
      headers: request.headers,
      fault: fault?.kind,
      bodyBytes: 0,
    };
    requests.push(seen);
    request.on("data", (chunk: Buffer) => (seen.bodyBytes += chunk.length));
    if (fault?.kind === "status") {
      response.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
      response.end(fault.body ?? "");
    } else if (fault?.kind === "redirect") {
      response.writeHead(fault.status ?? 307, { location: fault.location ?? `http://${cdnHost}/cdn${path}` });
      response.end();
    } else if (fault?.kind === "hang") {
      request.resume();
    } else if (fault?.kind === "cut-request" && fault.afterBytes === 0) {
      // Nothing reaches the registry: the connection drops once the client is sending the body.
      request.once("data", () => request.socket.destroy());
    } else {
      const paced = pace?.path.test(path) ? pace.bytesPerSecond : undefined;
      forward(upstream, request, response, path, { fault, bytesPerSecond: paced });
    }
  });
  await listen(proxy, "127.0.0.1");
  const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    cdnHost,
    requests,
    get rules() {
      return rules;
    },
    set rules(value) {
      rules = value;
    },
    reset(next = [], nextPace) {
      rules = next;
      pace = nextPace;
      requests.length = 0;
    },
    async stop() {
      await Promise.all([closeServer(proxy), closeServer(cdn)]);
    },
  };
}

/** The fault of the first rule matching the request that has uses left (one use taken). */
function takeFault(rules: FaultRule[], method: string, path: string, range: string): Fault | undefined {
  const rule = rules.find(
    (candidate) =>
      (candidate.method ?? method) === method &&
      candidate.path.test(path) &&
      (candidate.range === undefined || candidate.range.test(range)) &&
      (candidate.times === undefined || candidate.times > 0),
  );
  if (rule?.skip) {
    rule.skip--;
    return undefined;
  }
  if (rule && rule.times !== undefined) rule.times--;
  return rule?.fault;
}

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, () => resolve());
  });
}

function forward(
  upstream: URL,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
  how: { authorization?: string; fault?: Fault; bytesPerSecond?: number },
): void {
  const { authorization, fault } = how;
  const headers = { ...request.headers, host: upstream.host };
  if (authorization) headers.authorization = authorization;
  if (fault?.kind === "ignore-range") delete headers.range;
  const outgoing = httpRequest(
    { hostname: upstream.hostname, port: upstream.port, method: request.method, path, headers },
    (answer) => {
      const status = answer.statusCode ?? 502;
      const isBody = request.method === "GET" && status >= 200 && status < 300;
      const {
        connection: _connection,
        "keep-alive": _keepAlive,
        "transfer-encoding": _encoding,
        ...answerHeaders
      } = answer.headers;
      // As a reverse proxy does: the registry's own URLs (upload locations) point back at the proxy.
      if (answerHeaders.location?.startsWith(upstream.origin))
        answerHeaders.location = `http://${request.headers.host}${answerHeaders.location.slice(upstream.origin.length)}`;
      if (fault?.kind === "shift-content-range" && typeof answerHeaders["content-range"] === "string")
        answerHeaders["content-range"] = answerHeaders["content-range"].replace(
          /^bytes (\d+)/,
          (_, start: string) => `bytes ${Number(start) + 1}`,
        );
      let body: Readable = answer;
      if (isBody && how.bytesPerSecond) {
        body = answer.pipe(pacer(how.bytesPerSecond));
        body.on("close", () => answer.destroy());
      }
      if (!isBody || !fault || fault.kind === "ignore-range" || fault.kind === "shift-content-range") {
        response.writeHead(status, answerHeaders);
        body.pipe(response);
        return;
      }
      if (fault.kind === "trickle") {
        trickle(body, response, status, answerHeaders, fault);
        return;
      }
      if (fault.kind === "corrupt") corrupt(body, response, status, answerHeaders, fault.atByte);
      else if (fault.kind === "reset" || fault.kind === "stall") cut(body, response, status, answerHeaders, fault);
      else body.pipe(response.writeHead(status, answerHeaders));
    },
  );
  outgoing.on("error", () => response.destroy());
  if (fault?.kind === "cut-request") cutRequest(request, outgoing, fault.afterBytes);
  else request.pipe(outgoing);
}

/** The answer with one byte of its body changed, passed on as it comes. */
function corrupt(answer: Readable, response: ServerResponse, status: number, headers: Headers, atByte?: number): void {
  const middle = atByte ?? Math.floor(Number(headers["content-length"] ?? 0) / 2);
  let offset = 0;
  response.writeHead(status, headers);
  answer.on("data", (chunk: Buffer) => {
    if (middle >= offset && middle < offset + chunk.length) {
      chunk = Buffer.from(chunk);
      chunk[middle - offset] ^= 0xff;
    }
    offset += chunk.length;
    response.write(chunk);
  });
  answer.on("end", () => response.end());
}

/** The first bytes of the answer, then a reset connection ("reset") or silence ("stall"). */
function cut(
  answer: Readable,
  response: ServerResponse,
  status: number,
  headers: Headers,
  fault: { kind: "reset"; afterBytes: number } | { kind: "stall"; afterBytes?: number },
): void {
  const limit = fault.kind === "reset" ? fault.afterBytes : (fault.afterBytes ?? 0);
  response.writeHead(status, headers);
  let sent = 0;
  answer.on("data", (chunk: Buffer) => {
    if (sent >= limit) return;
    const part = chunk.subarray(0, limit - sent);
    sent += part.length;
    if (sent >= limit) {
      answer.destroy();
      // "reset": cut once the bytes are out; "stall": keep the connection open and silent.
      response.write(part, () => {
        if (fault.kind === "reset") response.socket?.destroy();
      });
    } else {
      response.write(part);
    }
  });
  answer.on("end", () => {
    if (sent < limit) response.end();
  });
}

type Headers = IncomingMessage["headers"];

/** The whole answer read from upstream, then dripped to the client until it is sent or the client goes. */
function trickle(
  answer: Readable,
  response: ServerResponse,
  status: number,
  headers: IncomingMessage["headers"],
  fault: { afterBytes?: number; bytesPerSecond?: number },
): void {
  const chunks: Buffer[] = [];
  answer.on("data", (chunk: Buffer) => chunks.push(chunk));
  answer.on("end", () => {
    const body = Buffer.concat(chunks);
    let sent = Math.min(fault.afterBytes ?? 0, body.length);
    response.writeHead(status, headers);
    response.write(body.subarray(0, sent));
    const timer = setInterval(
      () => {
        if (sent >= body.length) {
          clearInterval(timer);
          response.end();
          return;
        }
        response.write(body.subarray(sent, sent + 1));
        sent++;
      },
      1000 / (fault.bytesPerSecond ?? 10),
    );
    response.on("close", () => clearInterval(timer));
  });
}
