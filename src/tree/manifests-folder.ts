import type { SourceCache } from "../cache/source-cache.js";
import { openImageFolder } from "./image-folder.js";
import { parseDigestSegment } from "./digest-segment.js";
import { folderInfo, LazyFolder, type FolderNode, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";

/**
 * `_manifests/`: image folders by digest, as `_manifests/sha256/<hex>/`. A
 * registry cannot list its manifests, so the listing shows the digests seen
 * so far, while any digest can be opened. `_manifests/sha256:<hex>/` works
 * too.
 */
export class ManifestsFolder implements FolderNode {
  readonly info = folderInfo("_manifests");

  constructor(
    private readonly context: TreeContext,
    private readonly source: SourceCache,
    private readonly repository: string,
  ) {}

  async child(name: string): Promise<TreeNode | undefined> {
    if (name === "sha256" || name === "sha512") return this.algorithmFolder(name);
    const digest = parseDigestSegment(name);
    return digest ? this.open(digest, name) : undefined;
  }

  async children(): Promise<TreeNode[]> {
    return [this.algorithmFolder("sha256")];
  }

  private algorithmFolder(algorithm: string): FolderNode {
    return {
      info: folderInfo(algorithm),
      child: async (hex) => {
        const digest = parseDigestSegment(`${algorithm}:${hex}`);
        return digest ? this.open(digest, hex) : undefined;
      },
      children: async () => {
        const digests = this.source.manifestsSeen(this.repository);
        const matching = digests.filter((digest) => digest.startsWith(algorithm + ":"));
        return matching.map((digest) => {
          const hex = digest.slice(algorithm.length + 1);
          return new LazyFolder(hex, () => this.open(digest, hex));
        });
      },
    };
  }

  private open(digest: string, name: string): Promise<TreeNode | undefined> {
    return openImageFolder(this.context, this.source, this.repository, digest, name);
  }
}
