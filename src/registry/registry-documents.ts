/** An image's documents in a registry for `inspect`: manifests as served, the config blob; never a layer. */
import { InvalidContentError } from "../errors.js";
import type { DocumentSource } from "../image/inspect.js";
import { MAX_DOCUMENT_SIZE } from "../image/json.js";
import { isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import type { Descriptor } from "../image/types.js";
import { openBlobStream } from "./blob-source.js";
import type { RegistryClient } from "./client.js";
import { fetchManifest } from "./manifest-fetch.js";
import { formatReference, type ImageReference } from "./reference.js";

export function registryDocuments(client: RegistryClient, reference: ImageReference): DocumentSource {
  const { repository } = reference;
  const name = formatReference(reference);
  return {
    async top() {
      const fetched = await fetchManifest(client, {
        repository,
        reference: reference.digest ?? reference.tag ?? "latest",
        name,
      });
      return { bytes: fetched.bytes, digest: fetched.digest, mediaType: fetched.mediaType };
    },
    async read(descriptor: Descriptor) {
      if (isIndexMediaType(descriptor.mediaType) || isManifestMediaType(descriptor.mediaType)) {
        const expected = { digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType };
        return (await fetchManifest(client, { repository, reference: descriptor.digest, expected, name })).bytes;
      }
      return readSmallBlob(client, repository, descriptor, name);
    },
  };
}

/** A config blob, verified as it streams; a document declaring more than the limit is refused unread. */
async function readSmallBlob(
  client: RegistryClient,
  repository: string,
  descriptor: Descriptor,
  name: string,
): Promise<Buffer> {
  if (descriptor.size > MAX_DOCUMENT_SIZE)
    throw new InvalidContentError(
      "DOCUMENT_TOO_LARGE",
      `${descriptor.digest} declares ${descriptor.size} bytes, over the ${MAX_DOCUMENT_SIZE}-byte limit for a document`,
      { where: descriptor.digest },
    );
  const chunks: Buffer[] = [];
  for await (const chunk of openBlobStream(client, {
    digest: descriptor.digest,
    size: descriptor.size,
    repository,
    name,
  }))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
