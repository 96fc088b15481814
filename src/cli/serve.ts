import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import type { Server } from "node:http";
import { LRUCache } from "lru-cache";

import { BlobStore } from "../cache/blob-store.js";
import { CacheBudget } from "../cache/cache-budget.js";
import { openCacheDirectory } from "../cache/cache-directory.js";
import { CacheLayout } from "../cache/cache-layout.js";
import { LayerStore } from "../cache/layer-store.js";
import { SourceCache } from "../cache/source-cache.js";
import { log, setLogLevel } from "../log.js";
import { parsePlatform } from "../manifest/platform.js";
import { openCredentialStore } from "../registry/credential-search.js";
import { httpOptionsFromEnvironment } from "../registry/http.js";
import { registrySourceFactory } from "../registry/registry-sources.js";
import { openLocalSource } from "../source/open-local-source.js";
import { NamedRepositories } from "../tree/named-repositories.js";
import { RegistryTree } from "../tree/registry-tree.js";
import { isRegistryName } from "../tree/repository-names.js";
import type { TreeContext } from "../tree/tree-context.js";
import { createShareServer } from "../webdav/share-server.js";
import type { ServeOptions } from "./serve-options.js";
import { UsageError } from "./usage-error.js";

/** Registries reached by path beyond the shown ones are kept up to this many. */
const MAX_VISITED_REGISTRIES = 100;

/** Builds the tree and the WebDAV server and starts listening. */
export async function serve(options: ServeOptions): Promise<Server> {
  setLogLevel(options.logLevel);
  const tree = new RegistryTree(await createTreeContext(options));
  const server = createShareServer({
    tree,
    auth: await readShareCredentials(options),
    tls: await readTls(options),
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  warnIfExposed(options);
  const scheme = options.tlsCert ? "https" : "http";
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.listen.port;
  const host = isIP(options.listen.host) === 6 ? `[${options.listen.host}]` : options.listen.host;
  log.info("regdav serving", {
    url: `${scheme}://${host}:${port}/`,
    registries: options.registries.join(","),
    sources: options.sources.map((source) => source.name).join(","),
    cache: options.cacheDirectory,
  });
  return server;
}

/** Makes the services the tree uses: caches, the registry sources and the wanted platform. */
export async function createTreeContext(options: ServeOptions): Promise<TreeContext> {
  const layout = new CacheLayout(options.cacheDirectory);
  await openCacheDirectory(options.cacheDirectory);
  const budget = new CacheBudget(options.cacheDirectory, options.cacheSize);
  await budget.scan();
  const blobs = new BlobStore(layout, budget);
  const http = httpOptionsFromEnvironment();
  const credentials = await openCredentialStore({
    env: process.env,
    registries: options.registries,
    ...(options.authFile !== undefined && { authFile: options.authFile }),
  });
  const openRegistry = registrySourceFactory({ ...options, credentials, http });
  const sources = new LRUCache<string, SourceCache>({ max: MAX_VISITED_REGISTRIES });
  const localSources = new Map<string, SourceCache>();
  for (const { name, path } of options.sources) {
    localSources.set(name, new SourceCache(await openLocalSource(name, path)));
  }

  const sourceFor = (name: string): SourceCache | undefined => {
    const local = localSources.get(name);
    if (local) return local;
    if (!isRegistryName(name)) return undefined;
    let source = sources.get(name);
    if (!source) {
      const registry = openRegistry(name);
      source = new SourceCache(registry, { catalog: name !== "docker.io" });
      sources.set(name, source);
    }
    return source;
  };

  const layers = new LayerStore(layout, blobs);
  layers.limits = { maxUncompressedSize: options.maxLayerSize };
  layers.useTocs = !options.ignoreTocs;
  return {
    shownSources: [...localSources.keys(), ...options.registries],
    sourceFor,
    blobs,
    layers,
    platform: parsePlatform(options.platform),
    namedRepositories: new NamedRepositories(),
  };
}

async function readShareCredentials(options: ServeOptions) {
  if (!options.davUser) {
    if (options.davPasswordFile) throw new UsageError("--dav-password-file needs --dav-user");
    return undefined;
  }
  const password = options.davPasswordFile
    ? (await readFile(options.davPasswordFile, "utf8")).replace(/\r?\n$/, "")
    : process.env.REGDAV_DAV_PASSWORD;
  if (!password) {
    throw new UsageError("--dav-user needs a password: use --dav-password-file FILE or set REGDAV_DAV_PASSWORD");
  }
  return { username: options.davUser, password };
}

async function readTls(options: ServeOptions) {
  if (!options.tlsCert || !options.tlsKey) return undefined;
  return { cert: await readFile(options.tlsCert), key: await readFile(options.tlsKey) };
}

function warnIfExposed(options: ServeOptions) {
  const host = options.listen.host;
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  if (loopback || options.davUser) return;
  log.warn(
    `listening on ${host} without --dav-user: anyone who can reach this address can read every image your registry credentials can`,
  );
}
