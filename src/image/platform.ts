/** Platforms: parsing `os/arch[/variant]`, containerd-style normalisation, matching. */
import { UsageError } from "../errors.js";
import type { Platform } from "./types.js";

/** A platform reduced to what matching compares, in normal form. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  aarch64: "arm64",
  i386: "386",
  i686: "386",
  armhf: "arm",
  armel: "arm",
};

/**
 * Normal form, as containerd's platforms.Normalize: amd64 without a variant
 * means v1, arm64 without one means v8 (both stored as no variant), arm without
 * one means v7; "8" and "v8" are the same variant.
 */
export function normalizePlatform(platform: PlatformSpec): PlatformSpec {
  const os = platform.os.toLowerCase();
  const rawArch = platform.architecture.toLowerCase();
  let architecture = ARCH_ALIASES[rawArch] ?? rawArch;
  let variant = platform.variant?.toLowerCase() || undefined;
  if (rawArch === "armhf" && !variant) variant = "v7";
  if (rawArch === "armel" && !variant) variant = "v6";
  if (variant && /^\d/.test(variant)) variant = `v${variant}`;
  if (architecture === "amd64" && variant === "v1") variant = undefined;
  if (architecture === "arm64" && (variant === "v8" || variant === "v8.0")) variant = undefined;
  if (architecture === "arm" && !variant) variant = "v7";
  architecture = architecture || rawArch;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Parses `os/arch[/variant]` as given to `--platform`. */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => !/^[A-Za-z0-9._-]+$/.test(part))) {
    throw new UsageError(`invalid platform "${text}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os, architecture, variant });
}

/** The platform of the machine running this process (images are Linux unless on Windows). */
export function hostPlatform(): PlatformSpec {
  const arch: Record<string, string> = { x64: "amd64", ia32: "386", ppc64: "ppc64le" };
  const architecture = arch[process.arch] ?? process.arch;
  const os = process.platform === "win32" ? "windows" : "linux";
  return normalizePlatform({ os, architecture });
}

/** Whether an index entry's platform is the wanted one, after normalising both. */
export function platformMatches(wanted: PlatformSpec, candidate: Platform | PlatformSpec | undefined): boolean {
  if (!candidate || typeof candidate.os !== "string" || typeof candidate.architecture !== "string") return false;
  const a = normalizePlatform(wanted);
  const b = normalizePlatform(candidate);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

export function formatPlatform(platform: PlatformSpec | Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}
