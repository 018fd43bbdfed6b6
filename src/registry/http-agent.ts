/**
 * undici's Agent and its `request` API, loaded from their own modules. The
 * package's index also loads fetch, WebSocket, cookies, caches and mocks (and,
 * through them, Node's own bundled undici): about 70 ms of every run, for nothing
 * a registry client uses. undici 7 has no `exports` map, so these files are
 * reachable. package.json pins undici's exact version and
 * test/fetch/http-agent.test.ts fails when the files move or stop being the
 * public API's; should they move anyway, the public index is used instead.
 */
import { createRequire } from "node:module";
import type { Agent as UndiciAgent, Dispatcher } from "undici";

type RequestFunction = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

interface HttpModules {
  Agent: typeof UndiciAgent;
  request: RequestFunction;
}

let loaded: (HttpModules & { deep: boolean }) | undefined;

function modules(): HttpModules & { deep: boolean } {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = {
      Agent: require("undici/lib/dispatcher/agent.js"),
      request: require("undici/lib/api/api-request.js"),
      deep: true,
    };
  } catch {
    const undici = require("undici") as typeof import("undici");
    loaded = { Agent: undici.Agent, request: undici.Dispatcher.prototype.request as RequestFunction, deep: false };
  }
  return loaded;
}

/** Whether the fast path (undici's own modules) is in use; for the test that pins it. */
export function usesUndiciModules(): boolean {
  return modules().deep;
}

export function createAgent(options: UndiciAgent.Options): Dispatcher {
  return new (modules().Agent)(options);
}

/** `dispatcher.request(options)`, for any dispatcher (an Agent, or a test's MockAgent). */
export function sendRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
): Promise<Dispatcher.ResponseData> {
  return modules().request.call(dispatcher, options);
}
