/** The shapes every step of the registry transport passes along. */
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";

export type Method = "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";

export type RequestBody = string | Buffer | (() => Readable);

export interface TransportRequest {
  method: Method;
  url: URL;
  headers: Record<string, string>;
  /**
   * Bytes, or a function opening a fresh stream of them each time the request
   * is sent (a retry or an authentication round sends it again).
   */
  body?: RequestBody;
  /** The token scope that authorises it (`repository:a/b:pull`); none for requests outside the registry. */
  scope?: string;
  /** What is being done, for messages: `fetching manifest a/b:1 from host`. */
  what: string;
}

export interface TransportResponse {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
  /** The URL that finally answered (after redirects). */
  url: URL;
}

/** One step of the pipeline: sends a request, resolves with whatever status came back. */
export type Send = (request: TransportRequest) => Promise<TransportResponse>;
