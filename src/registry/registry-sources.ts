import type { ImageSource } from "../source/image-source.js";
import type { CredentialStore } from "./credentials.js";
import type { HttpClientOptions } from "./http.js";
import { MirroredSource, type MirrorOption } from "./mirror.js";
import { RegistrySource } from "./registry-source.js";

/**
 * Builds the image source for a registry name, as `regdav serve` needs it:
 * a RegistrySource, wrapped in a MirroredSource when `--mirror` names the
 * registry. Each mirror finds its own credentials under its own host, so a
 * registry's login is never sent to its mirror.
 */
export interface RegistrySourceSettings {
  /** Names given with --insecure-registry; a mirror's host counts too. */
  insecureRegistries: readonly string[];
  mirrors: readonly MirrorOption[];
  credentials: CredentialStore;
  http?: HttpClientOptions;
}

export function registrySourceFactory(settings: RegistrySourceSettings) {
  const insecure = new Set(settings.insecureRegistries);
  const common = {
    credentials: settings.credentials,
    ...(settings.http && { http: settings.http }),
  };

  return (name: string): ImageSource => {
    const origin = new RegistrySource({ name, insecure: insecure.has(name), ...common });
    const mirrors = settings.mirrors
      .filter((mirror) => mirror.registry === name)
      .map(({ url }) => {
        const source = new RegistrySource({
          name: url.host,
          insecure: insecure.has(url.host),
          protocol: url.protocol === "http:" ? "http:" : "https:",
          ...common,
        });
        return { url, source };
      });
    return mirrors.length === 0 ? origin : new MirroredSource(origin, mirrors);
  };
}
