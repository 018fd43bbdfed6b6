/** The innermost step: one HTTP exchange over an undici dispatcher, with its idle timeouts. */
import type { Dispatcher } from "undici";
import { sendRequest } from "../http-agent.js";
import type { Send } from "./types.js";

export function httpStep(dispatcher: Dispatcher, timeoutMs: number, signal?: AbortSignal): Send {
  return async (request) => {
    const response = await sendRequest(dispatcher, {
      origin: request.url.origin,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method,
      headers: { "user-agent": "oci-image", ...request.headers },
      body: typeof request.body === "function" ? request.body() : request.body,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body, url: request.url };
  };
}
