import type { SourceCache } from "../cache/source-cache.js";
import { BlobFile, blobFileByDigest } from "./blob-file.js";
import { parseDigestSegment } from "./digest-segment.js";
import { folderInfo, type FolderNode, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";

/**
 * `_blobs/`: any blob of the repository by digest, as `_blobs/sha256/<hex>`
 * or `_blobs/sha256:<hex>`. The listing shows the blobs named by manifests
 * seen so far, since a registry cannot list blobs.
 */
export class BlobsFolder implements FolderNode {
  readonly info = folderInfo("_blobs");

  constructor(
    private readonly context: TreeContext,
    private readonly source: SourceCache,
    private readonly repository: string,
  ) {}

  async child(name: string): Promise<TreeNode | undefined> {
    if (name === "sha256" || name === "sha512") return this.algorithmFolder(name);
    const digest = parseDigestSegment(name);
    return digest ? blobFileByDigest(this.context, this.source, this.repository, digest, name) : undefined;
  }

  async children(): Promise<TreeNode[]> {
    return [this.algorithmFolder("sha256")];
  }

  private algorithmFolder(algorithm: string): FolderNode {
    const { context, source, repository } = this;
    return {
      info: folderInfo(algorithm),
      child: async (hex) => {
        const digest = parseDigestSegment(`${algorithm}:${hex}`);
        return digest ? blobFileByDigest(context, source, repository, digest, hex) : undefined;
      },
      children: async () =>
        source
          .blobsSeen(repository)
          .filter((blob) => blob.digest.startsWith(algorithm + ":") && blob.size !== undefined)
          .map((blob) => {
            const hex = blob.digest.slice(algorithm.length + 1);
            return new BlobFile(hex, context, source, repository, { ...blob, size: blob.size! });
          }),
    };
  }
}
