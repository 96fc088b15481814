import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { readBoundedBody } from "./body.js";
import { nextPageUrl } from "./pagination.js";
import type { RegistryClient } from "./registry-client.js";
import { RegistryResponseError } from "./registry-errors.js";

/**
 * Listing of the catalog and of tags over all pages. Each page is bounded in
 * size, and a registry that links back to a page it sent, or pages on past
 * the limit, fails instead of looping. A registry that rejects the first
 * page's `n` gets the page again with `n=100`, then without `n`.
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
/** The page size tried after the registry rejected the first one. */
const smallPageSize = 100;

/** Reads every page by following `Link: <...>; rel="next"`, and returns the names in order. */
export async function listAllPages(
  client: RegistryClient,
  request: ListingRequest,
  field: "repositories" | "tags",
): Promise<string[]> {
  const { registry, first } = request;
  const names: string[] = [];
  const visited = new Set<string>();
  let target: string | URL | undefined = first;
  while (target !== undefined) {
    const response =
      target === first
        ? await requestFirstPage(client, request)
        : await requestPage(client, request, target);
    checkNextPage(registry, response.url, visited);

    const body = await readBoundedBody(response, maxListPageBytes, (size) => {
      return new RegdavError("REGISTRY_ERROR", `registry ${registry} sent a list page of ${size}`);
    });
    names.push(...namesOf(body, field, registry, response.url));
    target = nextPageUrl(response.headers, response.url);
  }
  return [...new Set(names)];
}

function requestPage(client: RegistryClient, request: ListingRequest, target: string | URL) {
  const { scope, repository } = request;
  return client.request({
    method: "GET",
    target,
    scope,
    ...(repository !== undefined && { repository }),
    retry: true,
  });
}

/** Requests the first page, with a smaller `n` or none when the registry rejects the size. */
async function requestFirstPage(client: RegistryClient, request: ListingRequest) {
  const targets = firstPageTargets(request.first);
  for (let index = 0; ; index++) {
    try {
      return await requestPage(client, request, targets[index]!);
    } catch (error) {
      const next = targets[index + 1];
      if (next === undefined || !rejectsPageSize(error)) throw error;
      log.info("registry rejected the page size of a list, requesting it again", {
        registry: request.registry,
        status: (error as RegistryResponseError).status,
        path: next,
      });
    }
  }
}

/** Returns the first page's path as given, with `n=100`, and without `n`. */
function firstPageTargets(first: string): string[] {
  const url = new URL(first, "http://registry.invalid");
  if (!url.searchParams.has("n")) return [first];
  const size = Number(url.searchParams.get("n"));

  const targets = [first];
  if (size > smallPageSize) {
    url.searchParams.set("n", String(smallPageSize));
    targets.push(url.pathname + url.search);
  }
  url.searchParams.delete("n");
  targets.push(url.pathname + url.search);
  return targets;
}

/**
 * Tests for a rejected page size: 413, or 400 or 422 whose errors name the
 * pagination (distribution's PAGINATION_NUMBER_INVALID) or the `n` parameter.
 */
function rejectsPageSize(error: unknown): boolean {
  if (!(error instanceof RegistryResponseError)) return false;
  if (error.status === 413) return true;
  if (error.status !== 400 && error.status !== 422) return false;
  return error.errors.some(
    (entry) =>
      /PAGINATION|SIZE|LIMIT/i.test(entry.code) ||
      /\bn\b|page size|pagination|number of (entries|results)/i.test(entry.message),
  );
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
