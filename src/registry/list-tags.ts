/** A repository's tags, every page: `/v2/<name>/tags/list`, following `Link: <…>; rel="next"`. */
import { MAX_DOCUMENT_SIZE } from "../image/json.js";
import { RegistryError } from "../errors.js";
import { readLimitedBytes, type RegistryClient } from "./client.js";
import { headerValue } from "./http-errors.js";

/** Tags asked for per page; the registry may answer with fewer. */
const PAGE_SIZE = 100;
/** A registry that keeps sending "next" past this many pages is looping. */
const MAX_PAGES = 10_000;

export async function listTags(client: RegistryClient, repository: string): Promise<string[]> {
  const what = `listing the tags of ${client.registry}/${repository}`;
  const tags: string[] = [];
  let path: string | undefined = `/v2/${repository}/tags/list?n=${PAGE_SIZE}`;
  for (let page = 0; path !== undefined; page++) {
    if (page >= MAX_PAGES) throw new RegistryError("TAG_LIST_INVALID", `${what}: over ${MAX_PAGES} pages of tags`);
    const current: string = path;
    const answer = await client.request({ path: current, repository, what }, async (response) => ({
      bytes: await readLimitedBytes(response.body, MAX_DOCUMENT_SIZE, what, client.timeoutMs),
      link: headerValue(response.headers, "link"),
    }));
    tags.push(...tagsOf(answer.bytes, what));
    path = nextPage(answer.link, client.origin, current);
  }
  return tags;
}

function tagsOf(bytes: Buffer, what: string): string[] {
  let body: { tags?: unknown };
  try {
    body = JSON.parse(bytes.toString("utf8")) as { tags?: unknown };
  } catch {
    throw new RegistryError("TAG_LIST_INVALID", `${what}: the registry's answer is not JSON`);
  }
  // A repository without tags may answer `"tags": null`.
  if (body?.tags === null || body?.tags === undefined) return [];
  if (!Array.isArray(body.tags) || !body.tags.every((tag) => typeof tag === "string"))
    throw new RegistryError("TAG_LIST_INVALID", `${what}: "tags" is not a list of strings`);
  return body.tags as string[];
}

/** The next page's path from `Link: </v2/…?n=100&last=x>; rel="next"`; only paths on the same registry. */
function nextPage(link: string | undefined, origin: string, current: string): string | undefined {
  const match = link ? /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link) : null;
  if (!match) return undefined;
  const url = new URL(match[1]!, origin);
  if (url.origin !== origin || !url.pathname.startsWith("/v2/")) return undefined;
  const next = url.pathname + url.search;
  return next === current ? undefined : next;
}
