/**
 * Redirects followed by hand: the registry's Authorization never goes to
 * another host (blob storage signs its own URLs), https → http is refused, and
 * a request with a body is not redirected (it would be dropped or resent).
 */
import { RegistryError } from "../../errors.js";
import { headerValue, readErrorBody } from "../http-errors.js";
import type { Send } from "./types.js";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export function redirectStep(next: Send): Send {
  return async (request) => {
    let current = request;
    for (let hop = 0; ; hop++) {
      const response = await next(current);
      if (!REDIRECT_STATUSES.has(response.status) || current.body !== undefined) return response;
      await readErrorBody(response.body, 0);
      if (hop >= MAX_REDIRECTS)
        throw new RegistryError("REDIRECT_LOOP", `more than ${MAX_REDIRECTS} redirects from ${request.url.host}`, {
          where: request.url.href,
        });
      const target = redirectTarget(current.url, response.status, headerValue(response.headers, "location"));
      let headers = current.headers;
      if (target.origin !== current.url.origin) {
        // The registry's credentials are for the registry only.
        const { authorization: _dropped, ...rest } = headers;
        headers = rest;
      }
      current = { ...current, url: target, headers };
    }
  };
}

function redirectTarget(url: URL, status: number, location: string | undefined): URL {
  if (!location)
    throw new RegistryError("REDIRECT_INVALID", `${url.host} answered ${status} without a Location`, {
      where: url.href,
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
  if (url.protocol === "https:" && next.protocol === "http:")
    throw new RegistryError(
      "REDIRECT_INSECURE",
      `${url.host} redirected from HTTPS to plain HTTP (${next.host}); refused`,
      {
        where: next.href,
      },
    );
  return next;
}
