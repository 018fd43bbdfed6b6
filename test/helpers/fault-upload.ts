/** The fault proxy's faults on a request's body (an upload): the connection cut part-way. */
import type { IncomingMessage, ClientRequest } from "node:http";

/**
 * The first `limit` bytes of a request's body go upstream; then both connections drop, as a network cut.
 * (distribution 2.8 refuses to resume a session that a cut request reached: the proxy's limit 0 keeps it out.)
 */
export function cutRequest(request: IncomingMessage, outgoing: ClientRequest, limit: number): void {
  const drop = () => {
    outgoing.destroy();
    request.socket.destroy();
  };
  let sent = 0;
  request.on("data", (chunk: Buffer) => {
    if (sent >= limit) return;
    const part = chunk.subarray(0, limit - sent);
    sent += part.length;
    outgoing.write(part, () => {
      if (sent < limit) return;
      // Give the registry a moment to take in what arrived, as a real cut would.
      setTimeout(drop, 100);
    });
  });
}
