import { RegdavError, isNotFound } from "../errors.js";
import { log } from "../log.js";
import type { SourceCache } from "../cache/source-cache.js";
import { BlobsFolder } from "./blobs-folder.js";
import { ManifestsFolder } from "./manifests-folder.js";
import { TagsFolder } from "./tags-folder.js";
import { isFileManagerProbe, isRepositoryComponent, repositoryFor } from "./repository-names.js";
import { folderInfo, type FolderNode, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";

/**
 * A registry folder or a folder below it. Repository names nest, so one
 * folder can be a repository (it then contains `_tags/`, `_manifests/` and
 * `_blobs/`) and the parent of other repositories at the same time. The
 * children come from the catalog; where a registry has none, as Docker Hub,
 * every valid name is taken to be a repository and the registry decides
 * when its tags are listed.
 */
export class NamespaceFolder implements FolderNode {
  readonly info;
  private readonly repository: string;

  constructor(
    private readonly context: TreeContext,
    private readonly source: SourceCache,
    private readonly components: readonly string[],
  ) {
    this.info = folderInfo(components.at(-1) ?? source.name);
    this.repository = repositoryFor(source.name, components);
  }

  async child(name: string): Promise<TreeNode | undefined> {
    if (name.startsWith("_")) return this.repositoryFolder(name);
    // `desktop.ini` and `thumbs.db` are valid repository names, so without this
    // check each probe would reach the registry.
    if (!isRepositoryComponent(name) || isFileManagerProbe(name)) return undefined;

    const components = [...this.components, name];
    if (this.context.namedRepositories.covers(this.source.name, components)) {
      return new NamespaceFolder(this.context, this.source, components);
    }

    const known = await this.knownNames();
    if (known && !this.isKnownPath(known, components) && !(await this.hasTags(components))) {
      return undefined;
    }
    return new NamespaceFolder(this.context, this.source, components);
  }

  async children(): Promise<TreeNode[]> {
    const known = await this.knownNames();
    const nested = new Set<string>();
    const prefix = this.components.length ? this.repositoryPrefix() : "";
    for (const name of known ?? (await this.source.listRepositories())) {
      if (!name.startsWith(prefix)) continue;
      const next = name.slice(prefix.length).split("/")[0];
      if (next) nested.add(next);
    }

    const folders: TreeNode[] = [...nested].sort().map(
      (name) => new NamespaceFolder(this.context, this.source, [...this.components, name]),
    );
    if (this.components.length && (!known || known.includes(this.repository))) {
      folders.unshift(...this.repositoryFolders());
    }
    return folders;
  }

  private repositoryFolder(name: string): TreeNode | undefined {
    if (!this.components.length) return undefined;
    return this.repositoryFolders().find((folder) => folder.info.name === name);
  }

  private repositoryFolders(): TreeNode[] {
    const { context, source, repository } = this;
    return [
      new TagsFolder(context, source, repository),
      new ManifestsFolder(context, source, repository),
      new BlobsFolder(context, source, repository),
    ];
  }

  /** Returns the repository names from the catalog, or undefined when the registry has no usable catalog. */
  private async knownNames(): Promise<string[] | undefined> {
    if (!this.source.canListRepositories) return undefined;
    try {
      return await this.source.listRepositories();
    } catch (error) {
      if (!(error instanceof RegdavError) || !isCatalogRefusal(error)) throw error;
      log.debug("catalog not available, taking every name as a repository", {
        registry: this.source.name,
        error: error.message,
      });
      return undefined;
    }
  }

  /** Catalog names below this folder start with this; it is the path as written, without `library/`. */
  private repositoryPrefix(): string {
    return this.components.join("/") + "/";
  }

  private isKnownPath(known: string[], components: string[]): boolean {
    const path = components.join("/");
    const repository = repositoryFor(this.source.name, components);
    return known.some(
      (name) => name === repository || name.startsWith(repository + "/") || name.startsWith(path + "/"),
    );
  }

  /** Asks the registry directly, for repositories that the catalog does not show to this user. */
  private async hasTags(components: string[]): Promise<boolean> {
    try {
      await this.source.listTags(repositoryFor(this.source.name, components));
      return true;
    } catch (error) {
      if (isNotFound(error) || isCatalogRefusal(error)) return false;
      throw error;
    }
  }
}

function isCatalogRefusal(error: unknown): boolean {
  if (!(error instanceof RegdavError)) return false;
  return ["NOT_FOUND", "REGISTRY_UNAUTHORIZED", "REGISTRY_DENIED"].includes(error.code);
}
