/**
 * Putting a manifest or index: its bytes exactly as stored, its own media type
 * as Content-Type, under a tag or its digest. The registry's
 * `Docker-Content-Digest` must be the digest of the bytes sent.
 */
import { DigestMismatchError } from "../errors.js";
import { digestOf } from "../image/digest.js";
import { headerValue, readErrorBody } from "./http-errors.js";
import { PUSH_ACTIONS, type UploadTarget } from "./upload-session.js";

export interface ManifestToPush {
  mediaType: string;
  bytes: Buffer;
  /** A tag, or the document's digest. */
  reference: string;
}

/** PUT /v2/<name>/manifests/<reference>; resolves with the digest the registry confirmed. */
export async function putManifest(target: UploadTarget, manifest: ManifestToPush): Promise<string> {
  const { client, repository, name } = target;
  const digest = digestOf(manifest.bytes);
  const separator = manifest.reference.includes(":") ? "@" : ":";
  const what = `pushing manifest ${name}${separator}${manifest.reference}`;
  return client.request(
    {
      method: "PUT",
      path: `/v2/${repository}/manifests/${manifest.reference}`,
      repository,
      actions: PUSH_ACTIONS,
      headers: { "content-type": manifest.mediaType, "content-length": String(manifest.bytes.length) },
      body: manifest.bytes,
      expect: [201],
      what,
    },
    async (response) => {
      const answered = headerValue(response.headers, "docker-content-digest");
      await readErrorBody(response.body, 0);
      if (answered && answered !== digest)
        throw new DigestMismatchError(
          `${what}: the registry stored it as ${answered}, not ${digest}; it changed the bytes it was sent`,
          { where: name },
        );
      return digest;
    },
  );
}
