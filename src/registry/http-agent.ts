/**
 * undici's Agent and its `request` API, imported from their own modules. The
 * package's index also loads fetch, WebSocket, cookies, caches and mocks (and,
 * through them, Node's own bundled undici): about 70 ms of every run, for nothing
 * a registry client uses. undici 7 has no `exports` map, so these files are
 * reachable (their types: undici-modules.d.ts); static imports let the CLI's
 * bundle hold them too. package.json pins undici's exact version and
 * test/fetch/http-agent.test.ts fails when the files move or stop being the
 * public API's.
 */
import type { Agent as UndiciAgent, Dispatcher } from "undici";
import Agent from "undici/lib/dispatcher/agent.js";
import request from "undici/lib/api/api-request.js";

/** The modules in use; for the test that pins them to the public API. */
export function undiciModules(): { Agent: unknown; request: unknown } {
  return { Agent, request };
}

export function createAgent(options: UndiciAgent.Options): Dispatcher {
  return new Agent(options);
}

/** `dispatcher.request(options)`, for any dispatcher (an Agent, or a test's MockAgent). */
export function sendRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
): Promise<Dispatcher.ResponseData> {
  return request.call(dispatcher, options);
}
