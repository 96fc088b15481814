// regdav's memory while it indexes an image for the first time, and while
// it lists every folder of an image indexed before.
import { rootfsUrl } from "./first-cat.mjs";
import { flushDisk } from "./process.mjs";
import { peakRss, startRegdav } from "./regdav.mjs";
import { timedPropfind, walkFolders } from "./webdav-client.mjs";

/**
 * Starts a regdav with an empty cache, lists the image's rootfs/ (PROPFIND
 * Depth 1), which indexes every layer, and then reads the process's peak
 * resident set size. Returns the listing time, the peak RSS in bytes, and
 * the RSS regdav had before the request.
 */
export async function firstListingMemory(ctx, image) {
  const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, ctx.registry.host);
  try {
    await flushDisk();
    const idleRss = await peakRss(regdav.pid);
    const { ms } = await timedPropfind(rootfsUrl(regdav, ctx.registry.host, image, "/"));
    const rss = await peakRss(regdav.pid);
    ctx.notice(regdav.output());
    return { ms, rss, idleRss };
  } finally {
    await regdav.stop();
  }
}

/**
 * Lists every folder of the image's rootfs/ with PROPFIND Depth 1, from a
 * regdav started on a cache where the image's layers were indexed by an
 * earlier regdav, as a server that restarted serves them. Returns the time
 * the walk took, the folders and entries it listed, and the peak RSS of the
 * second regdav.
 */
export async function walkMemory(ctx, image, cacheDir) {
  const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, ctx.registry.host, { cacheDir });
  try {
    const idleRss = await peakRss(regdav.pid);
    const started = performance.now();
    const { folders, entries } = await walkFolders(rootfsUrl(regdav, ctx.registry.host, image, "/"));
    const ms = performance.now() - started;
    const rss = await peakRss(regdav.pid);
    ctx.notice(regdav.output());
    return { ms, rss, idleRss, folders, entries };
  } finally {
    await regdav.stop();
  }
}

/** Indexes the image's layers into `cacheDir` with a regdav that then stops. */
export async function indexInto(ctx, image, cacheDir) {
  const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, ctx.registry.host, { cacheDir });
  try {
    await timedPropfind(rootfsUrl(regdav, ctx.registry.host, image, "/"));
  } finally {
    await regdav.stop();
  }
}
