// The first read of a file in an image never seen before: through a fresh
// regdav, by pulling and unpacking the image, and the time one streaming pass
// over its layers takes at best.
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";

import { flushDisk, runCommand, runShell } from "./process.mjs";
import { diskUsage, startRegdav } from "./regdav.mjs";
import { skopeoCopy } from "./skopeo.mjs";
import { encodePath, timedGet } from "./webdav-client.mjs";

/** The WebDAV URL of a file in an image's rootfs/ folder. */
export function rootfsUrl(regdav, registryHost, image, path) {
  const folder = `/${registryHost}/${image.repository}/_tags/${image.tag}/rootfs`;
  return regdav.url + encodePath(folder + path);
}

/**
 * Starts a regdav with an empty cache, then times one GET of `path` in the
 * image's rootfs/. Starting regdav is not timed. Returns the time, the body
 * and the bytes the cache folder takes afterwards.
 */
export async function firstCatRegdav(ctx, image, path) {
  const regdav = await startRegdav(ctx.repoRoot, ctx.scratch, ctx.registry.host);
  try {
    await flushDisk();
    const { ms, body } = await timedGet(rootfsUrl(regdav, ctx.registry.host, image, path));
    ctx.notice(regdav.output());
    return { ms, body, diskBytes: await diskUsage(regdav.cacheDir) };
  } finally {
    await regdav.stop();
  }
}

/**
 * Times what a user does without regdav: `skopeo copy` the image from the
 * registry into a new OCI layout, `umoci unpack` it, and `cat` each path.
 * Returns, per path, the copy and unpack time plus that path's cat time and
 * the bytes cat printed. Also returns the copy and unpack times alone, and
 * the bytes the layout and bundle take on disk.
 */
export async function firstCatPullUnpack(ctx, image, paths) {
  const dir = await mkdtemp(join(ctx.scratch, "pull-"));
  try {
    await flushDisk();
    const source = `docker://${ctx.registry.host}/${image.repository}:${image.tag}`;
    const copy = await skopeoCopy(ctx.skopeo, source, `oci:${dir}/oci:${image.tag}`);
    const unpack = await runCommand("umoci", [
      "unpack",
      "--image",
      `${dir}/oci:${image.tag}`,
      `${dir}/bundle`,
    ]);
    const results = {};
    for (const path of paths) {
      const cat = await runCommand("cat", [join(dir, "bundle", "rootfs", path)]);
      results[path] = { ms: copy.ms + unpack.ms + cat.ms, body: cat.stdout };
    }
    const diskBytes = await diskUsage(dir);
    return { files: results, copyMs: copy.ms, unpackMs: unpack.ms, diskBytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Times `curl -s BLOB | gunzip | tar t > /dev/null` over every layer, with
 * `parallel` layers at a time: a download, a decompression and a tar
 * parse, which any tool that reads an image's files in one pass per layer
 * has to do. Returns the time in milliseconds.
 */
export async function streamBound(ctx, image, parallel) {
  const blobUrl = `${ctx.registry.url}/v2/${image.repository}/blobs`;
  const pass = `curl -sf --noproxy '*' "${blobUrl}/$0" | gunzip | tar t > /dev/null`;
  const script =
    `printf '%s\\n' ${image.layers.join(" ")} | ` +
    `xargs -P ${parallel} -n 1 bash -o pipefail -c '${pass.replaceAll("'", "'\\''")}'`;
  await flushDisk();
  const { ms } = await runShell(script);
  return ms;
}
