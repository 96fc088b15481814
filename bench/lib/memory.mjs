// regdav's memory while it indexes an image for the first time.
import { rootfsUrl } from "./first-cat.mjs";
import { flushDisk } from "./process.mjs";
import { peakRss, startRegdav } from "./regdav.mjs";
import { timedPropfind } from "./webdav-client.mjs";

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
