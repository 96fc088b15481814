import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";

import { readFileRange } from "../cache/blob-store.js";
import type { SourceCache } from "../cache/source-cache.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { fileInfo, type FileNode } from "./tree-node.js";
import type { ByteRange } from "./virtual-tree.js";
import type { TreeContext } from "./tree-context.js";

/**
 * A blob as a file of its raw bytes. The blob is downloaded into the cache
 * and verified before its first byte is served, so a read never returns
 * bytes that fail the digest.
 */
export class BlobFile implements FileNode {
  readonly info;

  constructor(
    name: string,
    private readonly context: TreeContext,
    private readonly source: SourceCache,
    private readonly repository: string,
    private readonly descriptor: BlobDescriptor & { size: number },
    contentType?: string,
  ) {
    this.info = fileInfo(name, descriptor.size, {
      etag: `"${descriptor.digest}"`,
      contentType: contentType ?? "application/octet-stream",
    });
  }

  async open(range: ByteRange | undefined): Promise<Readable> {
    const path = await this.download();
    const end = range ? range.end : this.descriptor.size - 1;
    return readFileRange(path, range?.start ?? 0, end);
  }

  download(): Promise<string> {
    return downloadBlob(this.context, this.source, this.repository, this.descriptor);
  }
}

export function downloadBlob(
  context: TreeContext,
  source: SourceCache,
  repository: string,
  descriptor: BlobDescriptor,
): Promise<string> {
  const label = `${source.name}/${repository}`;
  return context.blobs.ensure(descriptor, () => source.openBlob(repository, descriptor), label);
}

/**
 * Makes the file for a blob known only by digest: its size comes from a
 * manifest that named it or from the source, else from downloading it.
 */
export async function blobFileByDigest(
  context: TreeContext,
  source: SourceCache,
  repository: string,
  digest: string,
  name: string,
): Promise<BlobFile> {
  const descriptor = source.blobSeen(repository, digest) ?? { digest };
  let size = await source.blobSize(repository, digest);
  if (size === undefined) {
    const path = await downloadBlob(context, source, repository, { digest });
    size = (await stat(path)).size;
  }
  return new BlobFile(name, context, source, repository, { ...descriptor, size });
}
