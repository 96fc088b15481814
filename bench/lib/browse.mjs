// Warm browsing: reads and listings from a regdav that has indexed the image,
// side by side with rclone serving the same image unpacked on disk.
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";

import { rootfsUrl } from "./first-cat.mjs";
import { runCommand } from "./process.mjs";
import { startRcloneWebdav } from "./rclone.mjs";
import { startRegdav } from "./regdav.mjs";
import { encodePath, timedGet, timedPropfind } from "./webdav-client.mjs";

/**
 * Starts a regdav and opens the image's rootfs/ once, so that its layers are
 * indexed, and starts `rclone serve webdav` over the image unpacked from the
 * local OCI layout. Returns a URL function for each server, and `stop()`.
 */
export async function startBrowseServers(ctx, image) {
  const dir = await mkdtemp(join(ctx.scratch, "browse-"));
  const bundle = join(dir, "bundle");
  await runCommand("umoci", ["unpack", "--image", `${ctx.layout}:${image.layoutTag}`, bundle]);
  const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, ctx.registry.host);
  const rclone = await startRcloneWebdav(join(bundle, "rootfs"), dir).catch(async (error) => {
    await regdav.stop();
    throw error;
  });
  const servers = {
    regdav: (path) => rootfsUrl(regdav, ctx.registry.host, image, path),
    rclone: (path) => rclone.url + encodePath(path),
    regdavOutput: regdav.output,
    stop: async () => {
      await regdav.stop();
      await rclone.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await timedPropfind(servers.regdav("/"));
  } catch (error) {
    await servers.stop();
    throw error;
  }
  return servers;
}

/** Untimed requests to each server before the timed ones, so both run warmed-up code. */
const warmUpRequests = 3;

/**
 * Times `runs` GETs of a file from each server, after `warmUpRequests`
 * untimed GETs each. Returns the samples per server and whether both sent
 * the same bytes.
 */
export async function warmCat(servers, path, runs) {
  const regdavFirst = await timedGet(servers.regdav(path));
  const rcloneFirst = await timedGet(servers.rclone(path));
  for (let i = 1; i < warmUpRequests; i++) {
    await timedGet(servers.regdav(path));
    await timedGet(servers.rclone(path));
  }
  const samples = { regdav: [], rclone: [] };
  for (let i = 0; i < runs; i++) {
    samples.regdav.push((await timedGet(servers.regdav(path))).ms);
    samples.rclone.push((await timedGet(servers.rclone(path))).ms);
  }
  return { ...samples, sameBytes: regdavFirst.body.equals(rcloneFirst.body) };
}

/**
 * Times `runs` PROPFIND Depth 1 requests for a folder on each server, after
 * `warmUpRequests` untimed requests each. Returns the samples and each
 * server's entry count.
 */
export async function warmPropfind(servers, path, runs) {
  const regdavFirst = await timedPropfind(servers.regdav(path));
  const rcloneFirst = await timedPropfind(servers.rclone(path));
  for (let i = 1; i < warmUpRequests; i++) {
    await timedPropfind(servers.regdav(path));
    await timedPropfind(servers.rclone(path));
  }
  const samples = { regdav: [], rclone: [] };
  for (let i = 0; i < runs; i++) {
    samples.regdav.push((await timedPropfind(servers.regdav(path))).ms);
    samples.rclone.push((await timedPropfind(servers.rclone(path))).ms);
  }
  return { ...samples, entries: { regdav: regdavFirst.entries, rclone: rcloneFirst.entries } };
}
