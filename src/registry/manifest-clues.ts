/**
 * Why a manifest's bytes are not JSON, in words that name what was fetched and
 * from where, with what the answer looks like instead (HTML, gzip).
 */
import { InvalidContentError, OciImageError } from "../errors.js";

export interface ManifestOrigin {
  /** The image asked for (`host/repo:tag`). */
  where: string;
  /** The host that answered. */
  source?: string;
  contentType?: string;
  contentEncoding?: string;
}

export function unreadableManifest(error: unknown, bytes: Buffer, origin: ManifestOrigin): Error {
  if (!(error instanceof OciImageError)) return error as Error;
  const from = origin.source ? ` from ${origin.source}` : "";
  const what = `fetching manifest ${origin.where}${from}`;
  const message = `${what}: the answer is not a manifest: ${error.message}${clue(bytes, origin)}`;
  return new InvalidContentError(error.code, message, { where: origin.where, cause: error });
}

function clue(bytes: Buffer, origin: ManifestOrigin): string {
  const encoding = origin.contentEncoding;
  if (encoding && encoding !== "identity")
    return (
      ` (the registry sent it ${encoding}-encoded, Content-Encoding: ${encoding}, ` +
      "though no encoding was asked for)"
    );
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return " (the bytes are gzip-compressed)";
  const start = bytes.subarray(0, 512).toString("utf8").trimStart().toLowerCase();
  if (origin.contentType === "text/html" || start.startsWith("<!doctype html") || start.startsWith("<html"))
    return ` (the answer is an HTML page, Content-Type: ${origin.contentType ?? "none"}; is this a registry?)`;
  return origin.contentType ? ` (Content-Type: ${origin.contentType})` : "";
}
