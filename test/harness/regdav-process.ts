import { access } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";

import { respondsToHttp, startService } from "./service.js";
import { makeTempDir, repoRoot, retryOnPortInUse, type TempDir } from "./tools.js";

export interface RegdavProcess {
  /** `http://127.0.0.1:PORT/` (`https://` with `RegdavOptions.https`), the root of the share. */
  readonly url: string;
  /** The process id of the node process running regdav. */
  readonly pid: number;
  /** Resolves when the process has exited, with its exit code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal, such as SIGKILL to simulate a crash. stop() still cleans up afterwards. */
  kill(signal: NodeJS.Signals): void;
  /** The folder passed as `--cache-dir`: a fresh one unless `RegdavOptions.cacheDir` was given. */
  readonly cacheDir: string;
  /** Everything regdav wrote to stdout and stderr so far. */
  output(): string;
  /**
   * Stops regdav (SIGTERM, then SIGKILL after 5 s) and deletes its cache
   * folder, unless the caller passed that folder as `RegdavOptions.cacheDir`.
   */
  stop(): Promise<void>;
}

const regdavBin = join(repoRoot, "bin", "regdav");

export interface RegdavOptions {
  /** Variables added to this process's environment, such as REGDAV_LOG_LEVEL. */
  env?: Record<string, string>;
  /** The script run by node instead of bin/regdav; the harness self-test passes a stand-in. */
  launcher?: string;
  /**
   * An existing cache folder to pass as `--cache-dir`, so that a restarted
   * regdav finds what an earlier one cached. The caller owns and deletes it.
   */
  cacheDir?: string;
  /** The address to listen on (default 127.0.0.1). The url names 127.0.0.1 either way. */
  listenHost?: string;
  /**
   * Set when `args` include `--tls-cert` and `--tls-key`: the url is then
   * https, and the readiness check accepts the server's certificate unverified.
   */
  https?: boolean;
}

/**
 * Runs `node bin/regdav serve --listen 127.0.0.1:<free port> --cache-dir
 * <fresh temp folder, or options.cacheDir> ...args` from the repository
 * root, and resolves once `OPTIONS /` gets a response. bin/regdav runs the
 * compiled dist/, which must be built first (test/harness/global-setup.ts
 * does that).
 */
export async function startRegdav(
  args: readonly string[] = [],
  options: RegdavOptions = {},
): Promise<RegdavProcess> {
  const launcher = options.launcher ?? regdavBin;
  await access(launcher).catch(() => {
    throw new Error(`${launcher} not found: the end-to-end tests run regdav through it`);
  });
  const cacheDir: TempDir =
    options.cacheDir === undefined
      ? await makeTempDir("regdav-cache")
      : { path: options.cacheDir, remove: async () => {} };

  try {
    return await retryOnPortInUse(async (port) => {
      const url = `${options.https ? "https" : "http"}://127.0.0.1:${port}/`;
      const listen = `${options.listenHost ?? "127.0.0.1"}:${port}`;
      const fullArgs = [launcher, "serve", "--listen", listen];
      fullArgs.push("--cache-dir", cacheDir.path, ...args);
      const service = await startService({
        name: "regdav",
        command: process.execPath,
        args: fullArgs,
        cwd: repoRoot,
        env: { ...process.env, ...options.env },
        isReady: () => (options.https ? respondsToHttps(url) : respondsToHttp(url, "OPTIONS")),
      });
      const child = service.process;
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve({ code: child.exitCode, signal: child.signalCode });
          }
          child.once("exit", (code, signal) => resolve({ code, signal }));
        },
      );

      return {
        url,
        pid: child.pid ?? -1,
        exited,
        kill: (signal) => void child.kill(signal),
        cacheDir: cacheDir.path,
        output: () => service.output(),
        stop: async () => {
          await service.stop();
          await cacheDir.remove();
        },
      };
    });
  } catch (error) {
    await cacheDir.remove();
    throw error;
  }
}

/** Returns true when an HTTPS OPTIONS request to `url` gets any response, certificate unchecked. */
function respondsToHttps(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request(url, { method: "OPTIONS", rejectUnauthorized: false, timeout: 2_000 });
    probe.on("response", (response) => {
      response.resume();
      resolve(true);
    });
    probe.on("timeout", () => probe.destroy());
    probe.on("error", () => resolve(false));
    probe.end();
  });
}
