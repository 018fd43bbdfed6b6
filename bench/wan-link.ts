/**
 * A WAN-like link on loopback: an HTTP proxy in front of the registry that
 * holds every request for one round trip before forwarding it, and paces
 * every answer to a rate per connection and to a rate for all connections
 * together (a long path's TCP window, and the link itself). Answers are cut
 * into slices; each slice waits for its turn on both rates.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { Transform, type TransformCallback } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

export interface LinkShape {
  /** Added to every request (one round trip). */
  roundTripMs: number;
  perConnectionBytesPerSecond: number;
  totalBytesPerSecond: number;
}

export const WAN_LINK: LinkShape = {
  roundTripMs: 40,
  perConnectionBytesPerSecond: 8_000_000,
  totalBytesPerSecond: 80_000_000,
};

const SLICE_BYTES = 32 * 1024;

/** A rate: reserves the time at which the next bytes may go. */
class Pace {
  private next = 0;
  constructor(private readonly bytesPerSecond: number) {}

  /** When `bytes` may start, not before `earliest` (ms, performance clock); the rate is taken until they are through. */
  reserve(bytes: number, earliest: number): number {
    const start = Math.max(earliest, this.next);
    this.next = start + (bytes * 1000) / this.bytesPerSecond;
    return start;
  }

  get free(): number {
    return this.next;
  }
}

/** Passes bytes on no faster than both paces allow. */
class Throttle extends Transform {
  constructor(
    private readonly connection: Pace,
    private readonly total: Pace,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pass(chunk).then(() => callback(), callback);
  }

  private async pass(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
      const slice = chunk.subarray(at, at + SLICE_BYTES);
      const earliest = Math.max(performance.now(), this.connection.free, this.total.free);
      const start = this.total.reserve(slice.length, this.connection.reserve(slice.length, earliest));
      const wait = start - performance.now();
      if (wait >= 1) await sleep(wait);
      this.push(slice);
    }
  }
}

export interface RunningLink {
  host: string;
  stop(): Promise<void>;
}

export async function startWanLink(upstreamUrl: string, shape: LinkShape = WAN_LINK): Promise<RunningLink> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true });
  const total = new Pace(shape.totalBytesPerSecond);
  const paces = new WeakMap<Socket, Pace>();
  const paceOf = (socket: Socket) => {
    let pace = paces.get(socket);
    if (!pace) paces.set(socket, (pace = new Pace(shape.perConnectionBytesPerSecond)));
    return pace;
  };
  const server = createServer((request, response) => {
    void sleep(shape.roundTripMs).then(() =>
      forward(upstream, agent, request, response, new Throttle(paceOf(request.socket), total)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function forward(
  upstream: URL,
  agent: Agent,
  request: IncomingMessage,
  response: ServerResponse,
  throttle: Throttle,
): void {
  const outgoing = httpRequest(
    {
      hostname: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: request.url,
      headers: { ...request.headers, host: upstream.host },
      agent,
    },
    (answer) => {
      const { connection: _c, "keep-alive": _k, "transfer-encoding": _t, ...headers } = answer.headers;
      response.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(throttle).pipe(response);
    },
  );
  outgoing.on("error", () => response.destroy());
  // A client that went away mid-answer: stop asking upstream (a finished answer's socket is the agent's again).
  response.on("close", () => {
    if (!response.writableFinished) outgoing.destroy();
  });
  request.pipe(outgoing);
}
