import type { ChildProcess } from "node:child_process";
import { readdir, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { isMountPoint } from "../harness/rclone-mount.js";
import { respondsToHttp, startService, type Service } from "../harness/service.js";
import {
  freePort,
  makeTempDir,
  repoRoot,
  runCommand,
  waitUntil,
  type TempDir,
} from "../harness/tools.js";
import {
  APP_REPOSITORY,
  OS_RELEASE,
  startClientFixture,
  type ClientFixture,
} from "./client-fixture.js";

/** `regdav mount DIR`, run as a person would: started, used, then stopped with Ctrl-C. */

const regdavBin = join(repoRoot, "bin", "regdav");

let fixture: ClientFixture;
let cacheDir: TempDir;

beforeAll(async () => {
  fixture = await startClientFixture();
  cacheDir = await makeTempDir("mount-command-cache");
});

afterAll(async () => {
  await cacheDir?.remove();
  await fixture?.stop();
});

function mountArgs(folder: string, ...extra: string[]): string[] {
  return [
    regdavBin,
    "mount",
    folder,
    ...extra,
    "--registry",
    fixture.registryName,
    "--cache-dir",
    cacheDir.path,
  ];
}

/**
 * Starts `regdav mount` and resolves once `folder` is mounted and regdav has
 * logged so, which it does after it has set up its signal handlers.
 */
async function startMount(folder: string, extra: string[] = []): Promise<Service> {
  const target = await realpath(folder);
  const service = await startService({
    name: "regdav mount",
    command: process.execPath,
    args: mountArgs(folder, ...extra),
    cwd: repoRoot,
    isReady: () => isMountPoint(target),
    readyTimeoutMs: 60_000,
  });
  await waitUntil("regdav mount to log the mount", async () =>
    service.output().includes("mounted the share"),
  );
  return service;
}

/** Sends a signal as Ctrl-C would and returns the exit code. */
async function interrupt(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGINT",
): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  child.kill(signal);
  return exited;
}

for (const client of ["rclone", "davfs2"] as const) {
  describe(`regdav mount --with ${client}`, () => {
    let folder: TempDir;
    let service: Service;
    let exitCode: number | null;

    beforeAll(async () => {
      folder = await makeTempDir(`mount-${client}`);
      service = await startMount(folder.path, ["--with", client]);
    });

    afterAll(async () => {
      await service?.stop();
      await folder?.remove();
    });

    it("ls lists the tags", async () => {
      const names = await readdir(join(folder.path, fixture.registryName, APP_REPOSITORY, "_tags"));
      expect(names).toEqual(["v1"]);
    });

    it("cat reads a rootfs file", async () => {
      const path = join(
        folder.path,
        fixture.registryName,
        APP_REPOSITORY,
        "_tags/v1/rootfs/etc/os-release",
      );
      expect(await readFile(path, "utf8")).toBe(OS_RELEASE);
    });

    it("Ctrl-C unmounts and exits 0", async () => {
      exitCode = await interrupt(service.process);
      expect(exitCode).toBe(0);
      expect(await isMountPoint(await realpath(folder.path))).toBe(false);
      expect(service.output()).toContain(`client=${client}`);
    });
  });
}

describe("regdav mount without a client", () => {
  let folder: TempDir;
  let emptyPath: TempDir;
  let service: Service;
  let url: string;

  beforeAll(async () => {
    folder = await makeTempDir("mount-none");
    // A PATH with no programs at all, so that neither rclone nor mount.davfs is found.
    emptyPath = await makeTempDir("empty-path");
    url = `http://127.0.0.1:${await freePort()}/`;
    service = await startService({
      name: "regdav mount",
      command: process.execPath,
      args: mountArgs(folder.path, "--listen", new URL(url).host),
      cwd: repoRoot,
      env: { ...process.env, PATH: emptyPath.path },
      isReady: () => respondsToHttp(url, "OPTIONS"),
    });
  });

  afterAll(async () => {
    await service?.stop();
    await folder?.remove();
    await emptyPath?.remove();
  });

  it("prints both manual commands", async () => {
    await waitUntil("the manual commands", async () => service.output().includes("Press Ctrl-C"));
    expect(service.output()).toContain(
      `rclone mount :webdav: "${await realpath(folder.path)}" --webdav-url ${url}`,
    );
    expect(service.output()).toContain(`sudo mount -t davfs -o ro ${url}`);
  });

  it("keeps serving the share", async () => {
    const response = await fetch(url, { method: "OPTIONS" });
    expect(response.headers.get("dav")).toBe("1");
  });

  it("SIGTERM exits 0", async () => {
    expect(await interrupt(service.process, "SIGTERM")).toBe(0);
  });
});

describe("regdav mount usage", () => {
  it("missing folder is exit code 2", async () => {
    const error = await runCommand(process.execPath, [regdavBin, "mount"]).catch(
      (failure: Error) => failure,
    );
    expect(String(error)).toContain("exit code 2");
    expect(String(error)).toContain("needs a folder");
  });

  it("folder that is a file is exit code 2", async () => {
    const error = await runCommand(process.execPath, [
      regdavBin,
      "mount",
      join(repoRoot, "README.md"),
    ]).catch((failure: Error) => failure);
    expect(String(error)).toContain("exit code 2");
    expect(String(error)).toContain("is not a folder");
  });

  it("unknown client is exit code 2", async () => {
    const error = await runCommand(process.execPath, [
      regdavBin,
      "mount",
      repoRoot,
      "--with",
      "finder",
    ]).catch((failure: Error) => failure);
    expect(String(error)).toContain("exit code 2");
  });

  it("unmounting the folder stops regdav", async () => {
    const folder = await makeTempDir("mount-umount");
    try {
      const service = await startMount(folder.path, ["--with", "rclone"]);
      const exited = new Promise<number | null>((resolve) => service.process.once("exit", resolve));
      await runCommand("fusermount3", ["-u", await realpath(folder.path)]);
      await waitUntil("regdav mount to exit", async () => service.process.exitCode !== null, {
        timeoutMs: 20_000,
      });
      expect(await exited, service.output()).toBe(0);
    } finally {
      await folder.remove();
    }
  });
});
