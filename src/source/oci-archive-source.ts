import { ArchiveStorage } from "./archive-storage.js";
import { OciLayoutSource } from "./layout-source.js";

/**
 * Opens an OCI archive, a tar of an OCI image layout as `skopeo copy ...
 * oci-archive:` or `tar -cf` of a layout folder writes it. The archive is
 * read in place: one scan of its headers finds each member, and blobs are
 * read as byte ranges of the archive. It must be a plain tar, because a
 * compressed one allows no such ranges. Opening a gzip, zstd, xz or bzip2
 * file throws BAD_REQUEST, asking to decompress it first.
 */
export async function openOciArchive(name: string, path: string): Promise<OciLayoutSource> {
  return OciLayoutSource.fromStorage(name, await ArchiveStorage.open(path));
}
