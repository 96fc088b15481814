import { RegdavError } from "../errors.js";
import { readBoundedBody } from "./body.js";
import { nextPageUrl } from "./pagination.js";
import type { RegistryClient } from "./registry-client.js";

/**
 * Listing of the catalog and of tags over all pages. Each page is bounded in
 * size, and a registry that links back to a page it sent, or pages on past
 * the limit, fails instead of looping.
 */
export interface ListingRequest {
  /** Registry name as shown, for messages. */
  registry: string;
  /** Path of the first page, such as `/v2/_catalog?n=1000`. */
  first: string;
  scope: string;
  /** The repository whose credentials apply; undefined for the catalog. */
  repository?: string;
}

/** Maximum size of one page of the catalog or a tag list. */
const maxListPageBytes = 8 * 1024 * 1024;
/** Maximum number of pages read for one listing, a guard against registries that page forever. */
const maxListPages = 10_000;

/** Reads every page by following `Link: <...>; rel="next"`, and returns the names in order. */
export async function listAllPages(
  client: RegistryClient,
  request: ListingRequest,
  field: "repositories" | "tags",
): Promise<string[]> {
  const { registry, first, scope, repository } = request;
  const names: string[] = [];
  const visited = new Set<string>();
  let target: string | URL | undefined = first;
  while (target !== undefined) {
    const response = await client.request({
      method: "GET",
      target,
      scope,
      ...(repository !== undefined && { repository }),
    });
    checkNextPage(registry, response.url, visited);

    const body = await readBoundedBody(response, maxListPageBytes, (size) => {
      return new RegdavError("REGISTRY_ERROR", `registry ${registry} sent a list page of ${size}`);
    });
    names.push(...namesOf(body, field, registry, response.url));
    target = nextPageUrl(response.headers, response.url);
  }
  return [...new Set(names)];
}

function checkNextPage(registry: string, url: URL, visited: Set<string>): void {
  if (visited.has(url.href)) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} linked back to page ${url.pathname}${url.search}`,
    );
  }
  if (visited.size >= maxListPages) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent more than ${maxListPages} pages`,
    );
  }
  visited.add(url.href);
}

/** Reads `repositories` or `tags` from a page. A `null` list, sent for no tags, gives none. */
function namesOf(body: Buffer, field: string, registry: string, url: URL): string[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent invalid JSON for ${url.pathname}`,
    );
  }

  const list = (json as Record<string, unknown> | null)?.[field];
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list) || list.some((name) => typeof name !== "string")) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent a ${field} field that is not a list of names`,
    );
  }
  return list as string[];
}
