/**
 * The steps of a blob upload (distribution-spec "push"): whether the registry
 * has a blob (HEAD), opening an upload session (POST, or a cross-repository
 * mount), and asking a session how far it got (GET, its `Range`). Each
 * session step moves to the `Location` the registry answers with, which must
 * stay on the registry's origin: its credentials go nowhere else.
 */
import { RegistryError } from "../errors.js";
import type { RegistryClient, RegistryResponse } from "./client.js";
import { headerValue, readErrorBody } from "./http-errors.js";

/** Where the target repository is, for every request of a push. */
export interface UploadTarget {
  client: RegistryClient;
  repository: string;
  /** `host/repository`, for messages. */
  name: string;
}

/** An open upload: the path (with query) of its next request. */
export interface UploadSession {
  location: string;
}

export const PUSH_ACTIONS = "pull,push";

export function blobsPath(repository: string, digest: string): string {
  return `/v2/${repository}/blobs/${digest}`;
}

/** Whether the repository holds the blob (HEAD; 200 yes, 404 no). */
export async function blobExists(target: UploadTarget, digest: string): Promise<boolean> {
  const { client, repository, name } = target;
  return client.request(
    {
      method: "HEAD",
      path: blobsPath(repository, digest),
      repository,
      actions: PUSH_ACTIONS,
      expect: [200, 404],
      what: `checking for blob ${digest} in ${name}`,
    },
    async (response) => {
      await readErrorBody(response.body, 0);
      return response.status === 200;
    },
  );
}

/** Opens an upload session, one attempt (the caller's retries start the whole upload again). */
export async function startUpload(target: UploadTarget, digest: string): Promise<UploadSession> {
  const { client, repository, name } = target;
  return client.attempt(
    {
      method: "POST",
      path: `/v2/${repository}/blobs/uploads/`,
      repository,
      actions: PUSH_ACTIONS,
      headers: { "content-length": "0" },
      expect: [202],
      what: `starting the upload of blob ${digest} to ${name}`,
    },
    async (response) => sessionOf(target, response),
  );
}

/**
 * Asks the registry to mount the blob from repository `from`: true when it did
 * (201); otherwise the upload session it opened instead (202).
 */
export async function mountBlob(
  target: UploadTarget,
  digest: string,
  from: string,
): Promise<{ mounted: true } | { mounted: false; session: UploadSession }> {
  const { client, repository, name } = target;
  const query = new URLSearchParams({ mount: digest, from });
  return client.request(
    {
      method: "POST",
      path: `/v2/${repository}/blobs/uploads/?${query.toString()}`,
      repository,
      actions: PUSH_ACTIONS,
      extraScopes: [`repository:${from}:pull`],
      headers: { "content-length": "0" },
      expect: [201, 202],
      what: `mounting blob ${digest} from ${from} into ${name}`,
    },
    async (response) => {
      if (response.status === 201) {
        await readErrorBody(response.body, 0);
        return { mounted: true as const };
      }
      return { mounted: false as const, session: await sessionOf(target, response) };
    },
  );
}

/** Cancels an upload session (DELETE), so that the registry drops what it holds; a failure to is not reported. */
export async function cancelUpload(target: UploadTarget, session: UploadSession, digest: string): Promise<void> {
  const { client, repository, name } = target;
  await client
    .attempt(
      {
        method: "DELETE",
        path: session.location,
        repository,
        actions: PUSH_ACTIONS,
        expect: [204, 404],
        what: `cancelling the upload of blob ${digest} to ${name}`,
      },
      async (response) => {
        await readErrorBody(response.body, 0);
      },
    )
    .catch(() => undefined);
}

/** How many bytes the session holds (its `Range: 0-<last>`), and where it continues; undefined when it is gone. */
export async function uploadOffset(
  target: UploadTarget,
  session: UploadSession,
  digest: string,
): Promise<{ offset: number; session: UploadSession } | undefined> {
  const { client, repository, name } = target;
  return client.request(
    {
      method: "GET",
      path: session.location,
      repository,
      actions: PUSH_ACTIONS,
      expect: [204, 404],
      what: `asking how much of blob ${digest} reached ${name}`,
    },
    async (response) => {
      if (response.status === 404) {
        await readErrorBody(response.body, 0);
        return undefined;
      }
      const next = headerValue(response.headers, "location") ? await sessionOf(target, response) : session;
      await readErrorBody(response.body, 0);
      return { offset: rangeEnd(headerValue(response.headers, "range"), digest), session: next };
    },
  );
}

/** The bytes a session holds, from `Range: 0-<last>` (none: 0). */
export function rangeEnd(range: string | undefined, digest: string): number {
  if (range === undefined || range.trim() === "") return 0;
  const match = /^(?:bytes=)?0-(\d+)$/.exec(range.trim());
  if (!match)
    throw new RegistryError(
      "UPLOAD_INVALID",
      `the registry reported an unreadable Range "${range}" for blob ${digest}`,
    );
  // distribution answers "0-0" for an empty session too: taken as empty (at worst one byte goes again).
  return match[1] === "0" ? 0 : Number(match[1]) + 1;
}

/** The session an answer moves to: its Location, on the registry's origin. */
export async function sessionOf(target: UploadTarget, response: RegistryResponse): Promise<UploadSession> {
  const location = headerValue(response.headers, "location");
  await readErrorBody(response.body, 0);
  if (!location)
    throw new RegistryError("UPLOAD_INVALID", `${target.name}: the registry answered an upload without a Location`);
  let url: URL;
  try {
    url = new URL(location, response.url);
  } catch {
    throw new RegistryError("UPLOAD_INVALID", `${target.name}: the upload Location "${location}" is not a URL`);
  }
  if (url.origin !== target.client.origin)
    throw new RegistryError(
      "UPLOAD_INVALID",
      `${target.name}: the registry moved the upload to another host (${url.host}); refused, its credentials stay with it`,
      { where: url.origin },
    );
  return { location: `${url.pathname}${url.search}` };
}

/** The session's path with `name=value` added to its query. */
export function withQuery(session: UploadSession, name: string, value: string): string {
  const url = new URL(session.location, "http://registry");
  url.searchParams.set(name, value);
  return `${url.pathname}${url.search}`;
}
