/**
 * Image references in Docker's grammar (distribution/reference), normalised as
 * Docker does: `alpine` = `docker.io/library/alpine:latest`.
 */
import { UsageError } from "../errors.js";
import { digestProblem, isRegisteredAlgorithm } from "../image/digest.js";

export const DOCKER_HUB = "docker.io";
/** Where Docker Hub's registry API is actually served. */
export const DOCKER_HUB_ENDPOINT = "registry-1.docker.io";
const MAX_NAME_LENGTH = 255;

export interface ImageReference {
  /** Registry host[:port], normalised (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path, e.g. `library/alpine`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

/** Whether `tag` is a registry tag (letters, digits, _ . -; at most 128; not starting with . or -). */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** `https://host/x` is a URL, not a reference: say so rather than fail on a port. */
function refuseScheme(text: string, fail: (why: string) => never): void {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  if (scheme) fail(`references take no scheme: write "${text.slice(scheme[0].length)}", not "${scheme[1]}://…"`);
}

/**
 * Parses and normalises a reference; malformed ones are usage errors (exit 2).
 * Without tag and digest the tag is "latest", unless `defaultTag` is false.
 */
export function parseReference(text: string, { defaultTag = true }: { defaultTag?: boolean } = {}): ImageReference {
  const fail = (why: string): never => {
    throw new UsageError(`invalid image reference "${text}": ${why}`, { where: text });
  };
  if (text.length === 0) fail("it is empty");
  if (/\s/.test(text)) fail("it contains white space");
  refuseScheme(text, fail);

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem) fail(problem);
    if (!isRegisteredAlgorithm(digest))
      fail(`digest algorithm "${digest.split(":")[0]}" is not supported (sha256, sha512)`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag))
      fail(`"${tag}" is not a valid tag (letters, digits, _ . -; at most 128; not starting with . or -)`);
  }
  if (rest.length === 0) fail("the repository name is missing");

  let registry = DOCKER_HUB;
  let path = rest;
  const firstSlash = rest.indexOf("/");
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    // Docker's rule: a first component is a registry when it looks like a host.
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      registry = first;
      path = rest.slice(firstSlash + 1);
      checkDomain(registry, fail);
    }
  }
  if (path.length === 0) fail("the repository name is missing");
  for (const component of path.split("/")) {
    if (component !== component.toLowerCase() && PATH_COMPONENT.test(component.toLowerCase()))
      fail("repository names must be lower case");
    if (!PATH_COMPONENT.test(component))
      fail(
        `"${component}" is not a valid repository name component ` +
          "(lower-case letters and digits, separated by . _ __ or -)",
      );
  }
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH)
    fail(`the name is longer than ${MAX_NAME_LENGTH} characters`);
  if (!tag && !digest && defaultTag) tag = "latest";
  return { registry, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

function checkDomain(domain: string, fail: (why: string) => never): void {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith("[")) {
    const close = domain.indexOf("]");
    if (close < 0) fail(`"${domain}" is not a valid registry host`);
    const inside = domain.slice(1, close);
    if (!/^[0-9a-fA-F:.]+$/.test(inside) || !inside.includes(":")) fail(`"${domain}" is not a valid IPv6 address`);
    const after = domain.slice(close + 1);
    if (after) {
      if (!after.startsWith(":")) fail(`"${domain}" is not a valid registry host`);
      port = after.slice(1);
    }
    host = "";
  } else {
    const colon = domain.indexOf(":");
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) fail(`"${port}" is not a valid port`);
  if (host && !host.split(".").every((part) => DOMAIN_COMPONENT.test(part)))
    fail(`"${domain}" is not a valid registry host`);
}

/** The repository with its registry, without tag or digest: `docker.io/library/alpine`. */
export function formatName(reference: ImageReference): string {
  return `${reference.registry}/${reference.repository}`;
}

/** The full normalised reference: `docker.io/library/alpine:3.20`, `ghcr.io/x/y@sha256:…`. */
export function formatReference(reference: ImageReference): string {
  const tag = reference.tag ? `:${reference.tag}` : "";
  return `${formatName(reference)}${tag}${reference.digest ? `@${reference.digest}` : ""}`;
}

/** The host[:port] to talk to: Docker Hub's API lives on registry-1.docker.io. */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : registry;
}

/** The host part of `host[:port]` (IPv6 keeps its brackets). */
export function hostOf(hostPort: string): string {
  if (hostPort.startsWith("[")) return hostPort.slice(0, hostPort.indexOf("]") + 1);
  const colon = hostPort.indexOf(":");
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

/** localhost, 127.0.0.0/8 and [::1]: plain HTTP by default, and safe for credentials. */
export function isLoopbackHost(hostPort: string): boolean {
  const host = hostOf(hostPort).toLowerCase();
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host);
}
