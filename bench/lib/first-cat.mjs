// The first read of a file in an image never seen before: through a fresh
// regdav, by pulling and unpacking the image, and the time one streaming pass
// over its layers takes at best.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";

import { flushDisk, runCommand, runShell } from "./process.mjs";
import { diskUsage, startRegdav } from "./regdav.mjs";
import { skopeoCopy } from "./skopeo.mjs";
import { encodePath, timedGet } from "./webdav-client.mjs";

/** Builds the WebDAV URL of a file in an image's rootfs/ folder. */
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
  const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, ctx.registry.host);
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
 * registry into a new OCI layout, then unpack it twice, with `umoci unpack`
 * and with `tar -xzf` of each layer in order, and `cat` each path from both.
 * Every step is timed on its own.
 *
 * Returns, per path, the bytes cat printed and the copy + unpack + cat time
 * for each unpacker. Also returns the step times alone and the bytes that
 * the layout and umoci's bundle take on disk.
 */
export async function firstCatPullUnpack(ctx, image, paths) {
  const dir = await mkdtemp(join(ctx.scratch, "pull-"));
  try {
    await flushDisk();
    const source = `docker://${ctx.registry.host}/${image.repository}:${image.tag}`;
    const copy = await skopeoCopy(ctx.skopeo, source, `oci:${dir}/oci:${image.tag}`);
    await flushDisk();
    const bundle = join(dir, "bundle");
    const unpack = await runCommand("umoci", ["unpack", "--image", `${dir}/oci:${image.tag}`, bundle]);
    await flushDisk();
    const untarMs = await extractLayers(join(dir, "oci"), image.layers, join(dir, "tar-rootfs"));

    const files = {};
    for (const path of paths) {
      const umociCat = await runCommand("cat", [join(bundle, "rootfs", path)]);
      const tarCat = await runCommand("cat", [join(dir, "tar-rootfs", path)]);
      files[path] = {
        body: umociCat.stdout,
        umociMs: copy.ms + unpack.ms + umociCat.ms,
        tarMs: copy.ms + untarMs + tarCat.ms,
      };
    }
    const diskBytes = await diskUsage(join(dir, "oci"), bundle);
    return { files, copyMs: copy.ms, unpackMs: unpack.ms, untarMs, diskBytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Extracts each layer blob of an OCI layout into `target` with `tar -xzf`,
 * base layer first, and returns the total time in milliseconds.
 *
 * NOTE: tar does not apply whiteouts (`.wh.` files). The benchmark images
 * have none, so the result equals the image's root filesystem, but for other
 * images this shortcut would keep files that upper layers delete.
 */
async function extractLayers(layoutDir, layers, target) {
  await mkdir(target);
  let ms = 0;
  for (const digest of layers) {
    const blob = join(layoutDir, "blobs", ...digest.split(":"));
    ms += (await runCommand("tar", ["-xzf", blob, "-C", target])).ms;
  }
  return ms;
}

/**
 * Times `curl -s BLOB | gunzip | tar t > /dev/null` (`zstd -dc` in place of
 * gunzip for a zstd image) over every layer, with
 * `parallel` layers at a time: a download, a decompression and a tar
 * parse, which any tool that reads an image's files in one pass per layer
 * has to do. Returns the time in milliseconds.
 */
export async function streamBound(ctx, image, parallel) {
  const blobUrl = `${ctx.registry.url}/v2/${image.repository}/blobs`;
  const decompress = image.compression === "zstd" ? "zstd -dc" : "gunzip";
  const pass = `curl -sf --noproxy '*' "${blobUrl}/$0" | ${decompress} | tar t > /dev/null`;
  const script =
    `printf '%s\\n' ${image.layers.join(" ")} | ` +
    `xargs -P ${parallel} -n 1 bash -o pipefail -c '${pass.replaceAll("'", "'\\''")}'`;
  await flushDisk();
  const { ms } = await runShell(script);
  return ms;
}
