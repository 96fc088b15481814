/**
 * Repositories that the user named in an image reference, such as
 * `127.0.0.1:5000/team/app` in `regdav cat 127.0.0.1:5000/team/app:v1:/etc/hostname`.
 * The tree opens their folders, and the folders above them, without looking
 * the names up in the catalog. That saves a catalog request, which can be
 * large, and a repository that does not exist fails on its manifest request.
 */
export class NamedRepositories {
  /** `registry/a`, `registry/a/b`, ... for each named `registry/a/b`. */
  private readonly folderPaths = new Set<string>();

  /** Adds a repository by its folder segments, the registry first. */
  add(segments: readonly string[]): void {
    for (let length = 2; length <= segments.length; length++) {
      this.folderPaths.add(segments.slice(0, length).join("/"));
    }
  }

  /** Tests whether a folder below a registry is a named repository or a folder above one. */
  covers(registry: string, components: readonly string[]): boolean {
    return this.folderPaths.has([registry, ...components].join("/"));
  }
}
