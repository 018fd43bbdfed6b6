/**
 * Fetching a manifest or index: the four Accept types, a 4 MiB cap enforced
 * while reading, the body checked against `Docker-Content-Digest` and against
 * the digest asked for, and its media type checked three ways (its own
 * `mediaType`, the Content-Type, its shape) so that one document can't pass as
 * both a manifest and an index (CVE-2021-41190).
 */
import { DigestMismatchError, InvalidContentError, RegistryError } from "../errors.js";
import { digestOf, digestProblem, parseDigest } from "../image/digest.js";
import { MAX_DOCUMENT_SIZE, parseJsonDocument } from "../image/json.js";
import { MediaType, isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import { readLimitedBytes, type RegistryClient } from "./client.js";
import { headerValue } from "./http-errors.js";
import { unreadableManifest } from "./manifest-clues.js";

export const MANIFEST_ACCEPT = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
].join(", ");

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  /** The resolved media type (one of the four manifest/index types). */
  mediaType: string;
  kind: "manifest" | "index";
  document: Record<string, unknown>;
}

export interface ManifestRequest {
  repository: string;
  /** A tag or a digest. */
  reference: string;
  /** What the referring descriptor says, when fetched through one. */
  expected?: { digest: string; size?: number; mediaType?: string };
  /** Text naming the image for messages (`127.0.0.1:5000/repo:tag`). */
  name: string;
}

export async function fetchManifest(client: RegistryClient, request: ManifestRequest): Promise<FetchedManifest> {
  const what = `fetching manifest ${request.name} from ${client.host}`;
  const path = `/v2/${request.repository}/manifests/${request.reference}`;
  const answer = { accept: MANIFEST_ACCEPT };
  const fetched = await client.request(
    { path, repository: request.repository, headers: answer, what },
    async (response) => {
      const declared = Number(headerValue(response.headers, "content-length"));
      if (Number.isFinite(declared) && declared > MAX_DOCUMENT_SIZE) {
        response.body.destroy();
        throw new RegistryError(
          "DOCUMENT_TOO_LARGE",
          `${what}: the manifest is ${declared} bytes, over the ${MAX_DOCUMENT_SIZE}-byte limit`,
        );
      }
      const bytes = await readLimitedBytes(response.body, MAX_DOCUMENT_SIZE, what, client.timeoutMs);
      return { bytes, headers: response.headers };
    },
  );
  return checkManifest(fetched.bytes, {
    contentType: headerValue(fetched.headers, "content-type")?.split(";")[0]?.trim().toLowerCase(),
    contentEncoding: headerValue(fetched.headers, "content-encoding")?.trim().toLowerCase(),
    headerDigest: headerValue(fetched.headers, "docker-content-digest")?.trim(),
    expected: request.expected,
    askedDigest: isDigest(request.reference) ? request.reference : undefined,
    where: request.name,
    source: client.host,
  });
}

function isDigest(reference: string): boolean {
  return reference.includes(":");
}

export interface ManifestFacts {
  contentType?: string;
  contentEncoding?: string;
  /** The host it came from, for messages. */
  source?: string;
  headerDigest?: string;
  askedDigest?: string;
  expected?: { digest: string; size?: number; mediaType?: string };
  where: string;
}

type Mismatch = (message: string) => InvalidContentError;
type Shape = "manifest" | "index";

/** The pure checks on a fetched manifest's bytes; exported for unit tests. */
export function checkManifest(bytes: Buffer, facts: ManifestFacts): FetchedManifest {
  const { where } = facts;
  const mismatch = (message: string) => new InvalidContentError("MANIFEST_INVALID", `${where}: ${message}`, { where });
  const digest = checkDigests(bytes, facts, mismatch);
  const doc = parseManifest(bytes, facts, mismatch);
  const shape = shapeOf(doc, mismatch);
  const mediaType = resolveMediaType(doc, shape, facts, mismatch);
  if (shape === "index" && !Array.isArray(doc.manifests)) throw mismatch(`"manifests" is not an array`);
  if (shape === "manifest" && (typeof doc.config !== "object" || doc.config === null || !Array.isArray(doc.layers)))
    throw mismatch(`"config" must be an object and "layers" an array`);
  return { bytes, digest, mediaType, kind: shape, document: doc };
}

/** The digest of the bytes, checked against the descriptor, the digest asked for and Docker-Content-Digest. */
function checkDigests(bytes: Buffer, facts: ManifestFacts, mismatch: Mismatch): string {
  const { where } = facts;
  const expectedDigest = facts.askedDigest ?? facts.expected?.digest;
  const algorithm = expectedDigest ? parseDigest(expectedDigest, where).algorithm : "sha256";
  const digest = digestOf(bytes, algorithm);
  const declared = facts.expected?.size;
  if (declared !== undefined && bytes.length !== declared)
    throw new DigestMismatchError(
      `${where}: the manifest is ${bytes.length} bytes, but its descriptor declares ${declared}`,
      { where },
    );
  if (expectedDigest && digest !== expectedDigest)
    throw new DigestMismatchError(
      `${where}: the registry sent a manifest whose digest is ${digest}, not the ${expectedDigest} asked for`,
      { where },
    );
  const header = facts.headerDigest;
  if (header) {
    if (digestProblem(header)) throw mismatch(`Docker-Content-Digest "${header.slice(0, 100)}" is not a valid digest`);
    const actual = digestOf(bytes, parseDigest(header, where).algorithm);
    if (actual !== header)
      throw new DigestMismatchError(
        `${where}: the manifest's digest is ${actual}, but the registry's Docker-Content-Digest says ${header}`,
        { where },
      );
  }
  return digest;
}

/** Strict JSON, an object, schema 2. */
function parseManifest(bytes: Buffer, facts: ManifestFacts, mismatch: Mismatch): Record<string, unknown> {
  const { where } = facts;
  let document: unknown;
  try {
    document = parseJsonDocument(bytes, where);
  } catch (error) {
    throw unreadableManifest(error, bytes, facts);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document))
    throw mismatch("the manifest is not a JSON object");
  const doc = document as Record<string, unknown>;
  const own = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  if (doc.schemaVersion === 1 || isSchema1(own) || isSchema1(facts.contentType))
    throw new InvalidContentError(
      "MANIFEST_SCHEMA1",
      `${where}: this is a Docker schema 1 manifest, which is deprecated and not supported; ` +
        `push the image again with a current Docker or registry (schema 2 or OCI)`,
      { where },
    );
  if (doc.schemaVersion !== 2) throw mismatch(`schemaVersion is ${JSON.stringify(doc.schemaVersion)}, not 2`);
  return doc;
}

/** An index has `manifests`, a manifest `config`/`layers`; never both (CVE-2021-41190). */
function shapeOf(doc: Record<string, unknown>, mismatch: Mismatch): Shape {
  const hasManifests = "manifests" in doc;
  const hasImageParts = "config" in doc || "layers" in doc;
  if (hasManifests && hasImageParts)
    throw mismatch(
      `the document has both "manifests" (an index) and "config"/"layers" (a manifest); refused as ambiguous`,
    );
  if (!hasManifests && !hasImageParts)
    throw mismatch(`the document is neither a manifest (config, layers) nor an index (manifests)`);
  return hasManifests ? "index" : "manifest";
}

/** Its own mediaType, the Content-Type and the descriptor's must agree with each other and with the shape. */
function resolveMediaType(doc: Record<string, unknown>, shape: Shape, facts: ManifestFacts, mismatch: Mismatch) {
  const own = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  const knownType = (type: string | undefined) =>
    isManifestMediaType(type) || isIndexMediaType(type) ? type : undefined;
  const headerType = knownType(facts.contentType);
  if (own !== undefined && !knownType(own))
    throw mismatch(`mediaType "${own}" is not a manifest or index type this tool reads`);
  if (own && headerType && own !== headerType)
    throw mismatch(`its mediaType is ${own}, but the registry's Content-Type says ${headerType}`);
  const descriptorType = knownType(facts.expected?.mediaType);
  const mediaType =
    own ?? headerType ?? descriptorType ?? (shape === "index" ? MediaType.ociIndex : MediaType.ociManifest);
  if (descriptorType && descriptorType !== mediaType)
    throw mismatch(`its mediaType is ${mediaType}, but the descriptor pointing at it says ${descriptorType}`);
  const typeShape: Shape = isIndexMediaType(mediaType) ? "index" : "manifest";
  const article = (kind: Shape) => (kind === "index" ? "an index" : "a manifest");
  if (typeShape !== shape)
    throw mismatch(
      `its media type ${mediaType} says ${article(typeShape)}, but the document is shaped as ${article(shape)}`,
    );
  return mediaType;
}

function isSchema1(type: string | undefined): boolean {
  return type === MediaType.dockerManifestV1 || type === MediaType.dockerManifestV1Signed;
}
