// Serves an unpacked root filesystem with `rclone serve webdav`, the
// alternative to regdav for browsing files already on disk.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import { respondsToHttp, freePort, startServer } from "./process.mjs";

/**
 * Starts `rclone serve webdav DIR` read-only on a free loopback port, with an
 * empty configuration file of its own. `--copy-links` follows symlinks, as
 * regdav does, because without it rclone leaves them out (so
 * /etc/os-release, a link in Debian, would be missing).
 *
 * NOTE: rclone resolves an absolute link against this machine's root, not
 * the image's. On a Debian host the six absolute links in the image's
 * /usr/bin exist too, so listings match, but their metadata is the host's.
 */
export async function startRcloneWebdav(dir, scratchDir) {
  const config = join(scratchDir, "rclone.conf");
  await writeFile(config, "");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["serve", "webdav", dir, "--addr", `127.0.0.1:${port}`, "--read-only"];
  args.push("--copy-links", "--config", config, "--quiet");

  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("RCLONE_")),
  );
  const server = await startServer({
    name: "rclone serve webdav",
    command: "rclone",
    args,
    env,
    isReady: () => respondsToHttp(`${url}/`, "OPTIONS"),
  });
  return { url, stop: server.stop };
}
