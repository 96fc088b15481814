import { notFound } from "../errors.js";
import { log } from "../log.js";

/**
 * The repositories and tags of a local source, each tag pointing at a
 * target of type T (an index descriptor, a docker-save image). Built once
 * when the source is opened.
 */
export class TagTable<T> {
  private readonly repositories = new Map<string, Map<string, T>>();

  constructor(private readonly sourceName: string) {}

  /** Adds a repository, with no tags unless `add` gives it some. */
  addRepository(repository: string): void {
    if (!this.repositories.has(repository)) this.repositories.set(repository, new Map());
  }

  /** Adds a tag. A second target for the same tag is ignored with a warning, so the first one wins. */
  add(repository: string, tag: string, target: T): void {
    this.addRepository(repository);
    const tags = this.tagsOf(repository);
    if (tags.has(tag)) {
      log.warn("duplicate tag in local source, keeping the first", {
        source: this.sourceName,
        repository,
        tag,
      });
      return;
    }
    tags.set(tag, target);
  }

  listRepositories(): string[] {
    return [...this.repositories.keys()].sort();
  }

  /** Returns the tags of a repository, sorted. Throws NOT_FOUND for an unknown repository. */
  listTags(repository: string): string[] {
    return [...this.tagsOf(repository).keys()].sort();
  }

  /** Returns the target of a tag. Throws NOT_FOUND naming the tag or the repository. */
  resolve(repository: string, tag: string): T {
    const target = this.tagsOf(repository).get(tag);
    if (target !== undefined) return target;
    throw notFound(
      `tag ${JSON.stringify(tag)} not found in repository ${repository} of source ${this.sourceName}`,
    );
  }

  /** Throws NOT_FOUND unless the repository exists, for lookups by digest. */
  requireRepository(repository: string): void {
    this.tagsOf(repository);
  }

  private tagsOf(repository: string): Map<string, T> {
    const tags = this.repositories.get(repository);
    if (tags) return tags;
    throw notFound(
      `repository ${JSON.stringify(repository)} not found in source ${this.sourceName}`,
    );
  }
}
