import { parseArgs, type ParseArgsConfig } from "node:util";

import { defaultCacheDirectory } from "../cache/cache-layout.js";
import { parseLogLevel, type LogLevel } from "../log.js";
import { parseMirrorOption, type MirrorOption } from "../registry/mirror.js";
import { parseSourceOption } from "../source/open-local-source.js";
import { parseByteSize } from "./byte-size.js";
import { isRegistryName } from "../tree/repository-names.js";
import { UsageError } from "./usage-error.js";

export interface ServeOptions {
  listen: { host: string; port: number };
  registries: string[];
  /** Local images from `--source NAME=PATH`, shown at the root before the registries. */
  sources: { name: string; path: string }[];
  insecureRegistries: string[];
  platform: string;
  cacheDirectory: string;
  /** Bytes of raw blobs and layer copies the cache keeps before it evicts the least recently used. */
  cacheSize: number;
  /** Maximum uncompressed bytes of one layer; a larger one fails with INVALID_LAYER. */
  maxLayerSize: number;
  /** List every layer with the full pass, ignoring eStargz, zstd:chunked and SOCI tables of contents. */
  ignoreTocs: boolean;
  logLevel: LogLevel;
  davUser?: string;
  davPasswordFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Registry credentials file from `--auth-file`, read before the default ones. */
  authFile?: string;
  /** Pull-through caches from `--mirror NAME=URL`, in the order given. */
  mirrors: MirrorOption[];
}

export const SERVE_HELP = `Usage: regdav serve [options]

Serves container registries as a read-only WebDAV share.

Options:
  --listen HOST:PORT          address to listen on (default 127.0.0.1:8080)
  --registry NAME             registry shown at the root; repeatable (default docker.io,
                              or none when --source is given).
                              Any other registry is reachable by its name as a path too.
  --source NAME=PATH          show an OCI layout folder, an OCI archive or a docker save
                              archive as the root folder NAME; repeatable
  --insecure-registry NAME    use plain HTTP, or HTTPS without certificate checks, for NAME;
                              repeatable. Loopback registries fall back to HTTP on their own.
  --platform OS/ARCH[/VARIANT]
                              platform that a multi-platform tag's folder shows
                              (default linux/amd64)
  --cache-dir DIR             where blobs and layer indexes are kept
                              (default $XDG_CACHE_HOME/regdav or ~/.cache/regdav)
  --cache-size SIZE           disk space for cached blobs, in bytes or with a unit such as
                              500MiB or 10GiB (default 10GiB); layer indexes are kept beyond it
  --max-layer-size SIZE       maximum uncompressed size of one layer, in bytes or with a
                              unit such as 4GiB (default 64GiB); a larger layer's folder
                              fails, which stops decompression bombs
  --ignore-tocs               list and read every layer from its own tar, with the full
                              pass, even where an eStargz or zstd:chunked TOC or a SOCI
                              zTOC would avoid the download
  --log-level LEVEL           debug, info, warn or error (default info)
  --dav-user NAME             require this user name from WebDAV clients (Basic auth)
  --dav-password-file FILE    file holding the share password; or set REGDAV_DAV_PASSWORD
  --tls-cert FILE             serve HTTPS with this certificate (PEM), with --tls-key
  --tls-key FILE              private key (PEM) for --tls-cert
  --auth-file FILE            registry credentials in docker's config.json or podman's
                              auth.json format, read before the default files
  --mirror NAME=URL           read registry NAME through the pull-through cache at URL
                              first, such as docker.io=http://127.0.0.1:5001; repeatable
  -h, --help                  show this help
`;

/**
 * The option table of `regdav serve`, for node:util parseArgs. The tree
 * commands (`regdav ls`, `cat`, `find`, `cp`) accept these options too,
 * except the ones that configure the WebDAV server.
 */
export const SERVE_PARSE_OPTIONS = {
  listen: { type: "string", default: "127.0.0.1:8080" },
  registry: { type: "string", multiple: true },
  source: { type: "string", multiple: true, default: [] },
  "insecure-registry": { type: "string", multiple: true, default: [] },
  platform: { type: "string", default: "linux/amd64" },
  "cache-dir": { type: "string" },
  "cache-size": { type: "string", default: "10GiB" },
  "max-layer-size": { type: "string", default: "64GiB" },
  "ignore-tocs": { type: "boolean", default: false },
  "log-level": { type: "string", default: "info" },
  "dav-user": { type: "string" },
  "dav-password-file": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "auth-file": { type: "string" },
  mirror: { type: "string", multiple: true, default: [] },
} satisfies NonNullable<ParseArgsConfig["options"]>;

/** Parses `regdav serve` arguments; throws UsageError naming the bad value. */
export function parseServeOptions(args: string[]): ServeOptions {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: SERVE_PARSE_OPTIONS });

  const logLevel = parseLogLevel(values["log-level"]);
  if (!logLevel) throw new UsageError(`invalid --log-level ${JSON.stringify(values["log-level"])}: use debug, info, warn or error`);
  if (!/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9.]+)?$/i.test(values.platform)) {
    throw new UsageError(`invalid --platform ${JSON.stringify(values.platform)}: use OS/ARCH or OS/ARCH/VARIANT, such as linux/arm64/v8`);
  }
  if (Boolean(values["tls-cert"]) !== Boolean(values["tls-key"])) {
    throw new UsageError("--tls-cert and --tls-key must be given together");
  }

  return {
    listen: parseListen(values.listen),
    registries: checkRegistryNames("--registry", values.registry) ?? (values.source.length ? [] : ["docker.io"]),
    sources: values.source.map(parseSourceArgument),
    insecureRegistries: checkRegistryNames("--insecure-registry", values["insecure-registry"]) ?? [],
    platform: values.platform,
    cacheDirectory: checkCacheDirectory(values["cache-dir"]) ?? defaultCacheDirectory(),
    cacheSize: parseByteSize(values["cache-size"], "--cache-size"),
    maxLayerSize: parseByteSize(values["max-layer-size"], "--max-layer-size"),
    ignoreTocs: values["ignore-tocs"],
    logLevel,
    davUser: values["dav-user"],
    davPasswordFile: values["dav-password-file"],
    tlsCert: values["tls-cert"],
    tlsKey: values["tls-key"],
    authFile: values["auth-file"],
    mirrors: values.mirror.map(parseMirrorArgument),
  };
}

function parseMirrorArgument(text: string): MirrorOption {
  try {
    return parseMirrorOption(text);
  } catch (error) {
    throw new UsageError(`invalid --mirror ${JSON.stringify(text)}: ${(error as Error).message}`);
  }
}

/** Rejects names that cannot be a registry host, such as a URL with a scheme or a blank. */
function checkRegistryNames(option: string, names: string[] | undefined): string[] | undefined {
  for (const name of names ?? []) {
    if (!isRegistryName(name)) {
      throw new UsageError(
        `invalid ${option} ${JSON.stringify(name)}: give a host with an optional port, such as ghcr.io or 127.0.0.1:5000, without http://`,
      );
    }
  }
  return names;
}

function checkCacheDirectory(folder: string | undefined): string | undefined {
  if (folder !== undefined && folder.trim() === "") throw new UsageError("invalid --cache-dir \"\": give a folder");
  return folder;
}

function parseSourceArgument(text: string): { name: string; path: string } {
  try {
    return parseSourceOption(text);
  } catch (error) {
    throw new UsageError(`invalid --source ${JSON.stringify(text)}: ${(error as Error).message}`);
  }
}

/** Reads `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (all interfaces). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new UsageError(`invalid --listen ${JSON.stringify(text)}: use HOST:PORT, such as 127.0.0.1:8080`);
  }
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}
