import { RegdavError } from "../errors.js";
import {
  expectArray,
  expectObject,
  ManifestShapeError,
  readIndexEntry,
} from "../manifest/fields.js";
import type { Descriptor } from "../manifest/manifest-types.js";
import { MediaType } from "../manifest/media-types.js";
import { readBoundedBody } from "./body.js";
import { nextPageUrl } from "./pagination.js";
import type { RegistryClient } from "./registry-client.js";
import { RegistryResponseError } from "./registry-errors.js";

/**
 * The referrers API of distribution-spec 1.1: `GET /v2/<name>/referrers/<digest>`
 * returns an OCI image index whose `manifests` are the manifests with that
 * subject, possibly over several pages linked with `Link: <...>; rel="next"`.
 * A registry that has the API never responds 404 to it, so a 404 means the
 * API is missing, as with distribution 2.8.
 */
export interface ReferrersRequest {
  /** Registry name as shown, for messages. */
  registry: string;
  repository: string;
  /** The subject's digest, already validated. */
  digest: string;
  scope: string;
}

/** Maximum size of one page of referrers: the manifest limit of the distribution registry. */
const maxPageBytes = 4 * 1024 * 1024;
/** Maximum pages read for one subject, a guard against a registry that pages forever. */
const maxPages = 1000;

/** Returns every referrer of the subject, or undefined when the registry has no referrers API. */
export async function fetchReferrers(
  client: RegistryClient,
  request: ReferrersRequest,
): Promise<Descriptor[] | undefined> {
  const descriptors: Descriptor[] = [];
  const visited = new Set<string>();
  let target: string | URL | undefined = `/v2/${request.repository}/referrers/${request.digest}`;

  while (target !== undefined) {
    const response = await requestPage(client, request, target, visited.size === 0);
    if (response === undefined) return undefined;
    checkPage(request, response.url, visited);

    const body = await readBoundedBody(response, maxPageBytes, (size) => {
      return new RegdavError("REGISTRY_ERROR", `${describe(request)}: page too large (${size})`);
    });
    descriptors.push(...parseReferrersPage(body, request));
    target = nextPageUrl(response.headers, response.url);
  }
  return descriptors;
}

/** Sends one page request; a 404 on the first page means the API is missing and gives undefined. */
async function requestPage(
  client: RegistryClient,
  request: ReferrersRequest,
  target: string | URL,
  first: boolean,
) {
  try {
    return await client.request({
      method: "GET",
      target,
      scope: request.scope,
      repository: request.repository,
      accept: [MediaType.ociIndex],
    });
  } catch (error) {
    if (first && error instanceof RegistryResponseError && error.status === 404) return undefined;
    throw error;
  }
}

function checkPage(request: ReferrersRequest, url: URL, visited: Set<string>): void {
  if (visited.has(url.href)) {
    throw new RegdavError("REGISTRY_ERROR", `${describe(request)}: linked back to ${url.pathname}`);
  }
  if (visited.size >= maxPages) {
    throw new RegdavError("REGISTRY_ERROR", `${describe(request)}: more than ${maxPages} pages`);
  }
  visited.add(url.href);
}

/** Reads the `manifests` of one page, each checked as a descriptor. */
export function parseReferrersPage(body: Buffer, request: ReferrersRequest): Descriptor[] {
  try {
    const index = expectObject(JSON.parse(body.toString("utf8")), "the document");
    return expectArray(index.manifests, "manifests").map((entry, position) =>
      readIndexEntry(entry, `manifests[${position}]`),
    );
  } catch (error) {
    const reason =
      error instanceof ManifestShapeError || error instanceof SyntaxError
        ? error.message
        : String(error);
    throw new RegdavError(
      "REGISTRY_ERROR",
      `${describe(request)}: invalid referrers index: ${reason}`,
    );
  }
}

function describe(request: ReferrersRequest): string {
  return `referrers of ${request.digest} in ${request.registry}/${request.repository}`;
}
