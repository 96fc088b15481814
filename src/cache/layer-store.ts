import { createReadStream } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { PassThrough, Transform, type Readable, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { LRUCache } from "lru-cache";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { indexLayer } from "../layer/index-layer.js";
import { LAYER_INDEX_VERSION, type LayerIndex } from "../layer/layer-index.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { AtomicFile, writeFileAtomic } from "./atomic-file.js";
import { createDigestVerifier } from "../reference/digest-verifier.js";
import { logTransfer, type BlobOpener, type BlobStore } from "./blob-store.js";
import type { CacheLayout } from "./cache-layout.js";
import { InFlight } from "./in-flight.js";

/** Rough bytes of memory one index entry takes, for the memory bound. */
const BYTES_PER_ENTRY = 256;

/**
 * Indexes layers and serves the bytes of the files inside them. The first
 * request for a layer runs one streaming pass (download, verify, decompress,
 * parse) that writes the raw blob, the uncompressed tar and the index, each
 * renamed into place only after the blob's digest has been checked. Later
 * requests read the index from memory or disk and file bytes from the tar.
 */
export class LayerStore {
  private readonly passes = new InFlight<LayerIndex>();
  private readonly memory: LRUCache<string, LayerIndex>;

  constructor(
    private readonly layout: CacheLayout,
    private readonly blobs: BlobStore,
    memoryBytes = 256 * 1024 * 1024,
  ) {
    this.memory = new LRUCache({
      maxSize: memoryBytes,
      sizeCalculation: (index) => Math.max(1, index.entries.length * BYTES_PER_ENTRY),
    });
  }

  /**
   * Returns the layer's index, running the indexing pass when no cached one
   * exists. `repository` is named in errors.
   */
  async index(descriptor: BlobDescriptor, open: BlobOpener, repository: string): Promise<LayerIndex> {
    const remembered = this.memory.get(descriptor.digest);
    if (remembered) return remembered;

    const index = await this.passes.run(descriptor.digest, async () => {
      return (await this.loadIndex(descriptor.digest)) ?? (await this.runPass(descriptor, open, repository));
    });
    this.memory.set(descriptor.digest, index);
    return index;
  }

  /** Opens `length` bytes at `offset` of the layer's uncompressed tar. */
  readContent(digest: string, offset: number, length: number): Readable {
    if (length <= 0) return emptyStream();
    return createReadStream(this.layout.layerTar(digest), {
      start: offset,
      end: offset + length - 1,
    });
  }

  private async loadIndex(digest: string): Promise<LayerIndex | undefined> {
    const indexPath = this.layout.layerIndex(digest, LAYER_INDEX_VERSION);
    try {
      await access(this.layout.layerTar(digest));
      const index = JSON.parse(await readFile(indexPath, "utf8")) as LayerIndex;
      return index.version === LAYER_INDEX_VERSION && index.digest === digest ? index : undefined;
    } catch {
      return undefined;
    }
  }

  private async runPass(
    descriptor: BlobDescriptor,
    open: BlobOpener,
    repository: string,
  ): Promise<LayerIndex> {
    const started = Date.now();
    const cachedBlob = await this.blobs.cachedPath(descriptor.digest);
    const blobFile = cachedBlob ? undefined : await AtomicFile.create(this.layout.blob(descriptor.digest));
    const tarFile = await AtomicFile.create(this.layout.layerTar(descriptor.digest));
    try {
      const input = cachedBlob ? createReadStream(cachedBlob) : await open();
      const tee = blobFile ? new CopyToFile(blobFile.stream) : new PassThrough();
      const [index] = await Promise.all([
        indexLayer(tee, { digest: descriptor.digest, writeUncompressed: tarFile.stream }),
        pipeline(input, createDigestVerifier({ ...descriptor, repository }), tee),
      ]);
      await tarFile.commit();
      await blobFile?.commit();
      await writeFileAtomic(this.layout.layerIndex(descriptor.digest, LAYER_INDEX_VERSION), JSON.stringify(index));
      logTransfer("layer indexed", descriptor.digest, index.compressedSize, started);
      log.info("layer contents", { digest: descriptor.digest, entries: index.entries.length, uncompressed: index.uncompressedSize });
      return index;
    } catch (error) {
      await tarFile.abort();
      await blobFile?.abort();
      throw wrapPassError(descriptor.digest, error);
    }
  }
}

function wrapPassError(digest: string, error: unknown): unknown {
  if (error instanceof RegdavError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RegdavError("INVALID_LAYER", `layer ${digest}: indexing failed: ${reason}`, { cause: error });
}

/** Passes bytes on while writing a copy to a file, waiting for the file so memory stays bounded. */
class CopyToFile extends Transform {
  constructor(private readonly file: Writable) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.file.write(chunk, (error) => (error ? callback(error) : callback(null, chunk)));
  }
}

function emptyStream(): Readable {
  const stream = new PassThrough();
  stream.end();
  return stream;
}
