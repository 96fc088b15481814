// Reads after eviction: regdav has indexed an image, then its cache lost the
// layer blobs (as `--cache-size` eviction deletes them) but kept the
// indexes. Each read should then cost one Range request for one span of the
// compressed layer, not a download of the layer.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

import { startCountingProxy } from "./counting-proxy.mjs";
import { rootfsUrl } from "./first-cat.mjs";
import { startRegdav } from "./regdav.mjs";
import { timedGet, timedPropfind } from "./webdav-client.mjs";

/** A file read first after the restart, so the timed reads find the manifest and indexes loaded. */
const warmUpFile = "/etc/debian_version";

/**
 * Per run: indexes the image in one regdav, deletes the cached blobs,
 * starts a second regdav on the same cache folder, reads `warmUpFile`, then
 * times a GET of each of `paths` and counts what it fetched from the
 * registry. Returns per path the times, the bytes and requests fetched, and
 * the times of a plain download of the whole layer that contains the file.
 */
export async function evictedReadRun(ctx, image, paths) {
  const dir = await mkdtemp(join(ctx.scratch, "evicted-"));
  const cacheDir = join(dir, "cache");
  const proxy = await startCountingProxy(ctx.registry.host);
  try {
    const first = await startRegdav(ctx.regdavRoot, ctx.scratch, proxy.host, { cacheDir });
    try {
      await timedPropfind(rootfsUrl(first, proxy.host, image, "/"));
    } finally {
      await first.stop();
    }
    const evicted = await deleteCachedBlobs(cacheDir, image.layers);
    if (evicted !== image.layers.length) {
      throw new Error(`expected ${image.layers.length} cached layer blobs in ${cacheDir}, found ${evicted}`);
    }

    const second = await startRegdav(ctx.regdavRoot, ctx.scratch, proxy.host, { cacheDir });
    try {
      await timedGet(rootfsUrl(second, proxy.host, image, warmUpFile));
      const reads = {};
      for (const path of paths) {
        proxy.reset();
        const { ms, body } = await timedGet(rootfsUrl(second, proxy.host, image, path));
        const { bytes, requests, list } = proxy.counts();
        const wholeBlob = list.some((record) => record.url.includes("/blobs/") && record.status === 200);
        if (wholeBlob) ctx.notice(`the read of ${path} after eviction downloaded a whole blob`);
        reads[path] = { ms, bytes, requests, body };
      }
      ctx.notice(second.output());
      return reads;
    } finally {
      await second.stop();
    }
  } finally {
    await proxy.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deletes the cache's copies of the given blobs, leaving every index; returns how many it deleted. */
async function deleteCachedBlobs(cacheDir, digests) {
  let deleted = 0;
  for (const digest of digests) {
    const [algorithm, hex] = digest.split(":");
    const folder = join(cacheDir, "blobs", algorithm);
    const names = await readdir(folder).catch(() => []);
    if (!names.includes(hex)) continue;
    await rm(join(folder, hex));
    deleted++;
  }
  return deleted;
}

/** Times a GET of a whole layer blob from the registry, the cost of a read without random access. */
export async function wholeLayerDownload(ctx, image, digest) {
  const url = `${ctx.registry.url}/v2/${image.repository}/blobs/${digest}`;
  const { ms, body } = await timedGet(url);
  return { ms, bytes: body.length };
}
