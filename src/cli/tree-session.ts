import type { Readable } from "node:stream";

import { RegdavError, isNotFound } from "../errors.js";
import { setLogLevel, setLogSink } from "../log.js";
import type { NamedRepositories } from "../tree/named-repositories.js";
import { MissingNodeError, RegistryTree } from "../tree/registry-tree.js";
import type { NodeInfo, VirtualTree } from "../tree/virtual-tree.js";
import { EXIT_NOT_FOUND, EXIT_OK, exitCodeOf, messageOf } from "./exit-codes.js";
import { BrokenPipe, Output } from "./output.js";
import { ProgressLine } from "./progress.js";
import { createTreeContext } from "./serve.js";
import type { ServeOptions } from "./serve-options.js";
import { parseTreePath, treePathOf, type TreeLocation } from "./tree-path.js";

/**
 * The context of one tree command: the tree, stdout, and the report of
 * failures that the command goes on after, such as one folder of many that
 * cannot be listed. The exit code is that of the first failure reported.
 */
export class TreeSession {
  private firstFailure: number | undefined;

  constructor(
    readonly tree: VirtualTree,
    readonly output: Output,
    private readonly options: Pick<ServeOptions, "platform" | "sources">,
    private readonly writeError: (line: string) => void,
    private readonly namedRepositories?: NamedRepositories,
  ) {}

  get exitCode(): number {
    return this.firstFailure ?? EXIT_OK;
  }

  /** Parses a PATH argument. An image reference's repository is then opened without the catalog. */
  locate(text: string): TreeLocation {
    const sourceNames = new Set(this.options.sources.map((source) => source.name));
    const location = parseTreePath(text, sourceNames);
    if (location.repository) this.namedRepositories?.add(location.repository);
    return location;
  }

  /** Prints one `regdav: ...` line to stderr and remembers the exit code, unless stdout was closed. */
  report(error: unknown): void {
    if (error instanceof BrokenPipe) throw error;
    this.firstFailure ??= exitCodeOf(error);
    this.writeError(`regdav: ${messageOf(error)}`);
  }

  /** Prints a failure that has no error object, such as a skipped entry, with its exit code. */
  reportMessage(message: string, exitCode: number): void {
    this.firstFailure ??= exitCode;
    this.writeError(`regdav: ${message}`);
  }

  /** Lists a folder's children sorted by name, comparing UTF-16 code units. */
  async list(segments: readonly string[]): Promise<NodeInfo[]> {
    const children = await this.tree.list(segments);
    return children.sort(compareNames);
  }

  /** Describes the node at a location. A missing rootfs/ gets an error that explains why the image has none. */
  async stat(location: TreeLocation): Promise<NodeInfo> {
    try {
      return await this.tree.stat(location.segments);
    } catch (error) {
      throw await this.explain(location, error);
    }
  }

  async read(location: TreeLocation): Promise<Readable> {
    try {
      return await this.tree.read(location.segments);
    } catch (error) {
      throw await this.explain(location, error);
    }
  }

  /**
   * Adds what the message lacks to a failure of PATH itself: the path as
   * given when the tree named only a part of it, for a missing image,
   * whether its repository exists, and for a missing rootfs/, why the image
   * has none.
   */
  private async explain(location: TreeLocation, error: unknown): Promise<unknown> {
    const image = location.image;
    if (!image || !isNotFound(error)) return withPath(location, error);

    // The depth where the walk stopped shows which part is missing, so the
    // manifest is not fetched again. Other NOT_FOUND errors come from below rootfs/.
    const rootfs = [...image.folder, "rootfs"];
    const missingDepth = error instanceof MissingNodeError ? error.missingPath.length : Infinity;
    if (missingDepth <= image.folder.length) return this.explainMissingImage(location, error);
    if (missingDepth > rootfs.length) return withPath(location, error);
    return new RegdavError(
      "NOT_FOUND",
      `${image.reference} has no root filesystem (${treePathOf(rootfs)}): it is an artifact, ` +
        `or a multi-platform image without ${this.options.platform}; list it with regdav ls ${image.reference}`,
    );
  }

  /**
   * Names the repository when the registry does not have it. A manifest's
   * 404 does not say whether the tag or the repository is missing
   * (docker-registry 2.8 sends MANIFEST_UNKNOWN for both), and the catalog
   * was not read, so a request for the repository's tag list decides it.
   */
  private async explainMissingImage(location: TreeLocation, error: unknown): Promise<unknown> {
    if (!location.repository) return withPath(location, error);
    const [registry, ...components] = location.repository;
    const tags = [...location.repository, "_tags"];
    const repositoryExists = await this.tree.list(tags).then(
      () => true,
      (failure: unknown) => !isNotFound(failure),
    );
    if (repositoryExists) return withPath(location, error);

    const message = `repository ${components.join("/")} not found in registry ${registry}`;
    return new RegdavError("NOT_FOUND", `${location.display}: ${message}`, { cause: error });
  }
}

function compareNames(a: NodeInfo, b: NodeInfo): number {
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}

/** Prefixes a not-found or wrong-type message with PATH as given, unless it names the tree path already. */
function withPath(location: TreeLocation, error: unknown): unknown {
  if (!(error instanceof RegdavError) || exitCodeOf(error) !== EXIT_NOT_FOUND) return error;
  if (error.message.includes(treePathOf(location.segments))) return error;
  return new RegdavError(error.code, `${location.display}: ${error.message}`, { cause: error });
}

/**
 * Opens the tree with the same cache, credentials and registries as
 * `regdav serve`, runs a command in it and returns the command's exit code.
 * On a terminal, layer passes draw a progress line on stderr. When the
 * reader of stdout goes away, the command ends quietly with exit code 0.
 */
export async function runInTree(
  options: ServeOptions,
  command: (session: TreeSession) => Promise<number>,
): Promise<number> {
  setLogLevel(options.logLevel);
  const context = await createTreeContext(options);
  const progress = process.stderr.isTTY ? new ProgressLine(process.stderr) : undefined;
  const writeError = (line: string) => {
    progress?.clear();
    process.stderr.write(line + "\n");
  };
  if (progress) {
    context.layers.onPassProgress = progress.update;
    setLogSink(writeError);
  }

  const clearBeforeOutput = progress && process.stdout.isTTY ? progress.clear : undefined;
  const output = new Output(process.stdout, clearBeforeOutput);
  const tree = new RegistryTree(context);
  const session = new TreeSession(tree, output, options, writeError, context.namedRepositories);
  try {
    const code = await command(session);
    await output.flush();
    return code;
  } catch (error) {
    if (error instanceof BrokenPipe) return EXIT_OK;
    throw error;
  } finally {
    progress?.stop();
  }
}
