/**
 * The cheap checks on an image's config before anything names the image: it
 * parses (strict JSON), it is an image config (os, architecture, rootfs with
 * diff_ids), it has one diff_id per layer, and, when a platform was asked for
 * by name, it is that platform.
 */
import { InvalidContentError, NotFoundError, OciImageError } from "../errors.js";
import { parseJsonDocument } from "../image/json.js";
import { MediaType } from "../image/media-types.js";
import { formatPlatform, platformMatches, type PlatformSpec } from "../image/platform.js";
import type { Descriptor, Platform } from "../image/types.js";
import { withAdvice } from "./advice.js";

export function isImageConfig(config: Descriptor): boolean {
  return config.mediaType === MediaType.ociConfig || config.mediaType === MediaType.dockerConfig;
}

/** The image's `os/arch[/variant]`; throws when the config is unusable or of another platform. */
export function checkImageConfig(
  bytes: Buffer,
  config: Descriptor,
  layerCount: number,
  where: string,
  wanted?: PlatformSpec,
): string {
  const bad = (why: string) =>
    new InvalidContentError("CONFIG_INVALID", `${where}: config ${config.digest} ${why}`, { where: config.digest });
  let parsed: unknown;
  try {
    parsed = parseJsonDocument(bytes, config.digest);
  } catch (error) {
    throw bad(`is not an image config: ${error instanceof OciImageError ? error.message : String(error)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw bad("is not a JSON object");
  const doc = parsed as Partial<Platform> & { rootfs?: { diff_ids?: unknown } };
  if (typeof doc.os !== "string" || typeof doc.architecture !== "string")
    throw bad(`is not an image config: "os" and "architecture" must be strings`);
  const diffIds = doc.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.some((id) => typeof id !== "string"))
    throw bad(`is not an image config: "rootfs.diff_ids" must be an array of digests`);
  if (diffIds.length !== layerCount)
    throw bad(
      `lists ${diffIds.length} diff_ids, but the manifest has ${layerCount} layer${layerCount === 1 ? "" : "s"}`,
    );
  const platform = formatPlatform(doc as Platform);
  if (wanted && !platformMatches(wanted, doc as Platform)) {
    const error = new NotFoundError(
      "PLATFORM_UNKNOWN",
      `${where} is a single-platform image for ${platform}, not ${formatPlatform(wanted)}`,
      { where },
    );
    throw withAdvice(error, "single-platform");
  }
  return platform;
}
