import type { BlobStore } from "../cache/blob-store.js";
import type { LayerStore } from "../cache/layer-store.js";
import type { SourceCache } from "../cache/source-cache.js";
import type { Platform } from "../manifest/platform.js";
import type { NamedRepositories } from "./named-repositories.js";

/** The services every folder of the tree uses, made once at start-up. */
export interface TreeContext {
  /** Registries shown at the root, in the order given. */
  readonly shownSources: readonly string[];
  /**
   * Returns the source for a root folder name, creating it on first use, or
   * undefined when the name cannot be a registry.
   */
  sourceFor(name: string): SourceCache | undefined;
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  /** The platform whose image an index's own folder shows, as `docker pull` picks. */
  readonly platform: Platform;
  /** Repositories opened without the catalog, because the command line named them. */
  readonly namedRepositories: NamedRepositories;
}
