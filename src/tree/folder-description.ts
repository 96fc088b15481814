/**
 * The summary of an image folder that heads its browser page. Every string
 * comes from a registry or an image, so renderers must escape it.
 */
export interface FolderDescription {
  /** The manifest kind behind the folder. */
  kind: "image" | "index" | "artifact" | "schema1";
  /** `registry/repository:tag`, or `registry/repository@digest` for a folder opened by digest. */
  reference: string;
  /** The manifest's digest. */
  digest: string;
  /** The manifest's media type. */
  mediaType: string;
  /** `os/architecture[/variant]`, from the config. */
  platform?: string;
  /** Bytes of the config and every layer, compressed, as the registry stores them. */
  totalSize?: number;
  /** The config's `created` time, as written. */
  created?: string;
  /** The config's Entrypoint. */
  entrypoint?: string[];
  /** The config's Cmd. */
  command?: string[];
  /** The config's Env, each entry `NAME=value`. */
  environment: string[];
  workingDir?: string;
  user?: string;
  /** An artifact's `artifactType`. */
  artifactType?: string;
  /** Base layer first, as in the manifest and in `layers/`. */
  layers: LayerSummary[];
  /** An index's entries, in the order of the index. */
  entries: IndexEntrySummary[];
  /** For an index: the image whose files its folder also shows, chosen by `--platform`. */
  platformImage?: FolderDescription;
}

/** One layer of an image folder, with the history line that made it. */
export interface LayerSummary {
  /** The layer's folder in `layers/`, such as `1-82133946481a`; absent for an artifact. */
  folderName?: string;
  /** The raw blob's file in `layers/`, such as `1-82133946481a.tar.gz`. */
  fileName: string;
  digest: string;
  /** Compressed bytes; absent where the manifest gives none (schema 1). */
  size?: number;
  mediaType: string;
  /** The `created_by` of the config's history entry for this layer. */
  createdBy?: string;
  /** Position of that entry in the config's `history` array. */
  historyIndex?: number;
}

/** One entry of an index, with the name of its folder inside the index's folder. */
export interface IndexEntrySummary {
  folderName: string;
  digest: string;
  mediaType: string;
  size: number;
  /** `os/architecture[/variant]`, when the entry names a platform. */
  platform?: string;
}
