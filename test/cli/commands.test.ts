import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getBytes, encodePath } from "../e2e/dav-client.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { extractSchema1Payload } from "../harness/schema1.js";
import { runSkopeo } from "../harness/skopeo.js";
import { makeTempDir, repoRoot } from "../harness/tools.js";
import { hexOf, regdavBin, runRegdav, startCliFixture, type CliFixture, type RunResult } from "./cli-fixture.js";

const osRelease = "ID=app\nVERSION=1\n";

describe("regdav ls, cat and find", () => {
  let fixture: CliFixture;
  let serve: RegdavProcess;
  let host: string;

  const run = (...args: string[]) => runRegdav([...args, ...fixture.treeArgs]);
  const text = (result: RunResult) => result.stdout.toString("utf8");
  const layerName = (position: number, digest: string) => `${position}-${hexOf(digest).slice(0, 12)}`;

  beforeAll(async () => {
    fixture = await startCliFixture();
    host = fixture.host;
    serve = await startRegdav(["--registry", host]);
  });

  afterAll(async () => {
    await serve?.stop();
    await fixture?.stop();
  });

  function expectSuccess(result: RunResult) {
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  }

  describe("ls", () => {
    it("lists the root and a registry", async () => {
      const root = await run("ls", "/");
      expectSuccess(root);
      expect(text(root)).toBe(`${host}\n`);

      const registry = await run("ls", host);
      expectSuccess(registry);
      expect(text(registry)).toBe("legacy\nteam\n");
    });

    it("lists a repository folder by tree path", async () => {
      const result = await run("ls", `${host}/team/app`);
      expectSuccess(result);
      expect(text(result).split("\n")).toEqual(expect.arrayContaining(["_blobs", "_manifests", "_tags"]));

      const tags = await run("ls", `/${host}/team/app/_tags`);
      expect(text(tags)).toBe("latest\nv1\n");
    });

    it.each([
      ["team/app:v1", ["config.json", "layers", "manifest.json", "rootfs"], []],
      ["team/docker:v1", ["config.json", "layers", "manifest.json", "rootfs"], []],
      ["legacy/app:old", ["config.json", "layers", "manifest.json", "rootfs"], []],
      ["team/multi:v1", ["index.json", "linux-amd64", "linux-arm64-v8", "manifest.json", "rootfs"], []],
      ["team/artifact:v1", ["config.json", "layers", "manifest.json"], ["rootfs"]],
    ])("lists the image folder of %s", async (reference, present, absent) => {
      const result = await run("ls", `${host}/${reference}`);
      expectSuccess(result);
      const names = text(result).trimEnd().split("\n");
      expect(names).toEqual(expect.arrayContaining(present));
      for (const name of absent) expect(names).not.toContain(name);
      expect(names).toEqual([...names].sort());
    });

    it.each([
      ["team/app:v1", ["data", "etc", "usr"]],
      ["team/docker:v1", ["etc"]],
      ["legacy/app:old", ["etc"]],
      ["team/multi:v1", ["etc"]],
    ])("lists the rootfs of %s", async (reference, names) => {
      const result = await run("ls", `${host}/${reference}:/`);
      expectSuccess(result);
      expect(text(result)).toBe(names.map((name) => name + "\n").join(""));
    });

    it("applies whiteouts and opaque folders", async () => {
      const result = await run("ls", `${host}/team/app:v1:/etc`);
      const names = text(result).trimEnd().split("\n");
      expect(names).not.toContain("removed");
      expect(names).not.toContain("dangling");
      expect(names).toContain("space name.conf");
      expect(text(await run("ls", `${host}/team/app:v1:/etc/opaque`))).toBe("new\n");
    });

    it("lines up the columns of -l", async () => {
      const result = await run("ls", "-l", `${host}/team/app:v1:/etc`);
      expectSuccess(result);
      const lines = text(result).trimEnd().split("\n");
      const pattern = /^([d-]) +(\d+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.+)$/;
      for (const line of lines) expect(line).toMatch(pattern);
      const dateColumns = new Set(lines.map((line) => line.search(/\d{4}-\d\d-\d\dT/)));
      expect(dateColumns.size).toBe(1);
      expect(lines).toContain("- 17 2024-06-07T08:09:10Z os-release");
      expect(lines).toContain("d  0 2023-03-04T05:06:07Z ssl");
      expect(lines).toContain("-  6 2023-03-04T05:06:07Z space name.conf");
    });

    it("names a file with -l", async () => {
      const path = `${host}/team/app:v1:/data/big.bin`;
      const result = await run("ls", "-l", path);
      expectSuccess(result);
      expect(text(result)).toBe(`- ${fixture.app.big.length} 2024-06-07T08:09:10Z ${path}\n`);
    });

    it("prints headings with -R", async () => {
      const path = `${host}/team/app:v1:/etc/ssl`;
      const result = await run("ls", "-R", path);
      expectSuccess(result);
      expect(text(result)).toBe(
        `${path}:\ncerts\nlinks\n\n${path}/certs:\nca.pem\n\n${path}/links:\nca.pem\n`,
      );
    });

    it("prints one JSON document", async () => {
      const result = await run("ls", "--json", `${host}/team/app:v1:/etc/ssl`);
      expectSuccess(result);
      const document = JSON.parse(text(result));
      const base = `/${host}/team/app/_tags/v1/rootfs/etc/ssl`;
      expect(document).toEqual({
        path: base,
        name: "ssl",
        type: "directory",
        size: 0,
        modified: "2023-03-04T05:06:07.000Z",
        entries: [
          { path: `${base}/certs`, name: "certs", type: "directory", size: 0, modified: "2023-03-04T05:06:07.000Z" },
          { path: `${base}/links`, name: "links", type: "directory", size: 0, modified: "2023-03-04T05:06:07.000Z" },
        ],
      });
    });

    it("nests entries in JSON with -R", async () => {
      const result = await run("ls", "--json", "-R", `${host}/team/app:v1:/etc/ssl`);
      const document = JSON.parse(text(result));
      expect(document.entries[0].entries).toEqual([
        {
          path: `/${host}/team/app/_tags/v1/rootfs/etc/ssl/certs/ca.pem`,
          name: "ca.pem",
          type: "file",
          size: 28,
          modified: "2023-03-04T05:06:07.000Z",
        },
      ]);
    });

    it("describes a file in JSON", async () => {
      const result = await run("ls", "--json", `${host}/team/app:v1:/etc/os-release`);
      const document = JSON.parse(text(result));
      expect(document.type).toBe("file");
      expect(document.size).toBe(osRelease.length);
      expect(document.entries).toBeUndefined();
    });
  });

  describe("references", () => {
    const spellings = () => {
      const digest = fixture.app.digest;
      return [
        `${host}/team/app:v1:/etc/os-release`,
        `${host}/team/app@${digest}:/etc/os-release`,
        `${host}/team/app:v1@${digest}:/etc/os-release`,
        `${host}/team/app:/etc/os-release`,
        `${host}/team/app:v1:/etc/../etc/./os-release`,
        `/${host}/team/app/_tags/v1/rootfs/etc/os-release`,
        `${host}/team/app/_tags/v1/rootfs/etc/os-release`,
        `${host}/team/app/_manifests/${digest}/rootfs/etc/os-release`,
        `/${host}/team/app/_manifests/sha256/${hexOf(digest)}/rootfs/etc/os-release`,
      ];
    };

    it("reach the same file in every spelling", async () => {
      const results = await Promise.all(spellings().map((path) => run("cat", path)));
      results.forEach((result, position) => {
        expect(result.stderr, spellings()[position]).toBe("");
        expect(text(result), spellings()[position]).toBe(osRelease);
      });
    });

    it("work with ls, find and cp", async () => {
      const folders = spellings().map((path) => path.replace(/\/etc\/(\.\.\/etc\/\.\/)?os-release$/, "/etc/ssl"));
      const scratch = await makeTempDir("cli-spellings");
      try {
        const runs = folders.map(async (path, position) => {
          const target = join(scratch.path, String(position));
          const [listing, found, copied] = await Promise.all([
            run("ls", path),
            run("find", path, "-type", "f"),
            run("cp", path, target),
          ]);
          return { path, target, listing, found, copied };
        });
        for (const { path, target, listing, found, copied } of await Promise.all(runs)) {
          expect(text(listing), `ls ${path}: ${listing.stderr}`).toBe("certs\nlinks\n");
          expect(text(found), `find ${path}: ${found.stderr}`).toBe(`${path}/certs/ca.pem\n${path}/links/ca.pem\n`);
          expect(copied.code, `cp ${path}: ${copied.stderr}`).toBe(0);
          expect((await readdir(target)).sort(), `cp ${path}`).toEqual(["certs", "links"]);
        }
      } finally {
        await scratch.remove();
      }
    });

    it("list the image folder by digest", async () => {
      const result = await run("ls", `${host}/team/app@${fixture.app.digest}`);
      expectSuccess(result);
      expect(text(result).split("\n")).toContain("rootfs");
    });

    it("start the paths that find prints", async () => {
      const withTag = await run("find", `${host}/team/app:/etc`, "-name", "os-release");
      expect(text(withTag), withTag.stderr).toBe(`${host}/team/app:/etc/os-release\n`);

      const treePath = await run("find", `${host}/team/app/_tags/v1/rootfs/etc`, "-name", "os-release");
      expect(text(treePath), treePath.stderr).toBe(`${host}/team/app/_tags/v1/rootfs/etc/os-release\n`);

      const bare = await run("find", `${host}/team/app:v1`, "-name", "os-release", "-maxdepth", "3");
      expect(text(bare), bare.stderr).toBe(`/${host}/team/app/_tags/v1/rootfs/etc/os-release\n`);
    });
  });

  describe("cat", () => {
    it("writes the bytes that regdav serve serves", async () => {
      const app = fixture.app;
      const paths = [
        `${host}/team/app/_tags/v1/rootfs/etc/os-release`,
        `${host}/team/app/_tags/v1/rootfs/etc/passwd-hard`,
        `${host}/team/app/_tags/v1/rootfs/etc/issue`,
        `${host}/team/app/_tags/v1/manifest.json`,
        `${host}/team/app/_tags/v1/config.json`,
        `${host}/team/app/_tags/v1/layers/${layerName(1, app.layers[0]!.digest)}.tar.gz`,
        `${host}/team/app/_tags/v1/layers/${layerName(2, app.layers[1]!.digest)}/etc/os-release`,
        `${host}/team/docker/_tags/v1/rootfs/etc/os-release`,
        `${host}/team/docker/_tags/v1/manifest.json`,
        `${host}/legacy/app/_tags/old/rootfs/etc/os-release`,
        `${host}/team/multi/_tags/v1/index.json`,
        `${host}/team/multi/_tags/v1/rootfs/etc/arch`,
        `${host}/team/multi/_tags/v1/linux-arm64-v8/rootfs/etc/arch`,
        `${host}/team/artifact/_tags/v1/manifest.json`,
        `${host}/team/artifact/_tags/v1/layers/${layerName(1, fixture.artifact.layer.digest)}.json`,
      ];
      for (const path of paths) {
        const [result, served] = await Promise.all([run("cat", path), getBytes(serve.url + encodePath(path))]);
        expect(result.stderr, path).toBe("");
        expect(result.stdout.equals(served), path).toBe(true);
      }
    });

    it("writes the pushed bytes of blobs and manifests", async () => {
      const app = fixture.app;
      const base = `${host}/team/app:v1`;
      const manifest = await run("cat", `/${host}/team/app/_tags/v1/manifest.json`);
      expect(manifest.stdout.equals(app.manifest.bytes), manifest.stderr).toBe(true);

      const blob = await run("cat", `${host}/team/app/_blobs/${app.layers[1]!.digest}`);
      expect(blob.stdout.equals(app.layers[1]!.bytes), blob.stderr).toBe(true);

      const big = await run("cat", `${base}:/data/big.bin`);
      expectSuccess(big);
      expect(big.stdout.equals(app.big)).toBe(true);

      // The registry signs a schema 1 manifest anew for every request, so only the payload is stable.
      const legacy = await run("cat", `${host}/legacy/app/_tags/old/manifest.json`);
      expect(extractSchema1Payload(legacy.stdout).equals(fixture.legacy.payload), legacy.stderr).toBe(true);

      const artifact = await run("cat", `${host}/team/artifact/_tags/v1/manifest.json`);
      expect(artifact.stdout.equals(fixture.artifact.manifest.bytes), artifact.stderr).toBe(true);
    });

    it("writes several files in order", async () => {
      const result = await run("cat", `${host}/team/app:/etc/hostname`, `${host}/team/docker:v1:/etc/os-release`);
      expectSuccess(result);
      expect(text(result)).toBe("app\nID=docker\n");
    });

    it("goes on after a missing file", async () => {
      const result = await run("cat", `${host}/team/app:/nope`, `${host}/team/app:/etc/hostname`);
      expect(text(result)).toBe("app\n");
      expect(result.stderr).toMatch(/^regdav: .*nope.*not found\n$/);
      expect(result.code).toBe(1);
    });

    it("picks the platform of a multi-platform tag", async () => {
      const amd64 = await run("cat", `${host}/team/multi:v1:/etc/arch`);
      expect(text(amd64)).toBe("amd64\n");
      const arm64 = await run("cat", "--platform", "linux/arm64", `${host}/team/multi:v1:/etc/arch`);
      expectSuccess(arm64);
      expect(text(arm64)).toBe("arm64\n");
    });

    it("ends quietly when the reader closes the pipe", async () => {
      const command = [process.execPath, regdavBin, "cat", `${host}/team/app:v1:/data/big.bin`, ...fixture.treeArgs]
        .map((part) => `'${part}'`)
        .join(" ");
      const script = `${command} 2>"$1" | head -c 10 > /dev/null; echo "\${PIPESTATUS[0]}"; cat "$1"`;
      const scratch = await makeTempDir("cli-pipe");
      try {
        const output = await runShell(script, join(scratch.path, "stderr"));
        expect(output).toBe("0\n");
      } finally {
        await scratch.remove();
      }
    });
  });

  describe("find", () => {
    it("matches a name pattern and a type", async () => {
      const base = `${host}/team/app:v1:/`;
      const pem = await run("find", base, "-name", "*.pem", "-type", "f");
      expectSuccess(pem);
      expect(text(pem)).toBe(`${base}etc/ssl/certs/ca.pem\n${base}etc/ssl/links/ca.pem\n`);

      const folders = await run("find", `${host}/team/app:v1:/etc`, "-type", "d");
      const etc = `${host}/team/app:v1:/etc`;
      expect(text(folders)).toBe(
        [etc, `${etc}/opaque`, `${etc}/ssl`, `${etc}/ssl/certs`, `${etc}/ssl/links`].map((p) => p + "\n").join(""),
      );
    });

    it("stops at -maxdepth", async () => {
      const etc = `${host}/team/app:v1:/etc`;
      const result = await run("find", etc, "-maxdepth", "1", "-type", "d");
      expect(text(result)).toBe(`${etc}\n${etc}/opaque\n${etc}/ssl\n`);
      const zero = await run("find", etc, "-maxdepth", "0");
      expect(text(zero)).toBe(`${etc}\n`);
    });

    it("ends paths with NUL for -print0", async () => {
      const ssl = `${host}/team/app:v1:/etc/ssl`;
      const result = await run("find", ssl, "-print0", "-type", "f");
      expect(text(result)).toBe(`${ssl}/certs/ca.pem\0${ssl}/links/ca.pem\0`);
    });

    it("prints JSON lines", async () => {
      const result = await run("find", `${host}/team/app:v1:/etc/ssl`, "--json");
      expectSuccess(result);
      const lines = text(result).trimEnd().split("\n").map((line) => JSON.parse(line));
      const base = `/${host}/team/app/_tags/v1/rootfs/etc/ssl`;
      expect(lines.map((line) => line.path)).toEqual([
        base,
        `${base}/certs`,
        `${base}/certs/ca.pem`,
        `${base}/links`,
        `${base}/links/ca.pem`,
      ]);
      expect(lines[2]).toEqual({
        path: `${base}/certs/ca.pem`,
        name: "ca.pem",
        type: "file",
        size: 28,
        modified: "2023-03-04T05:06:07.000Z",
      });
    });

    it.each([
      ["team/docker:v1", "manifest.json"],
      ["legacy/app:old", "manifest.json"],
      ["team/multi:v1", "index.json"],
      ["team/artifact:v1", "manifest.json"],
    ])("finds the files of %s", async (reference, name) => {
      const result = await run("find", `${host}/${reference}`, "-type", "f", "-name", "*.json", "-maxdepth", "1");
      expectSuccess(result);
      const folder = reference.replace(/:([^:]+)$/, "/_tags/$1");
      expect(text(result).split("\n")).toContain(`/${host}/${folder}/${name}`);
    });

    it("walks a schema1 image's layers", async () => {
      const result = await run("find", `${host}/legacy/app:old`, "-name", "os-release");
      expectSuccess(result);
      const lines = text(result).trimEnd().split("\n");
      expect(lines).toContain(`/${host}/legacy/app/_tags/old/rootfs/etc/os-release`);
      expect(lines.filter((line) => line.includes("/layers/"))).toHaveLength(1);
    });
  });

  describe("log output", () => {
    it("stays quiet by default and logs layer passes at info", async () => {
      const cache = await makeTempDir("cli-log");
      try {
        const args = ["cat", `${host}/team/docker:v1:/etc/os-release`, "--registry", host, "--cache-dir", cache.path];
        const quiet = await runRegdav(args);
        expectSuccess(quiet);

        const verbose = await runRegdav(["ls", `${host}/team/app:v1:/etc`, "--log-level", "info", "--cache-dir", cache.path]);
        expect(verbose.code).toBe(0);
        expect(verbose.stderr).toMatch(/INFO layer indexed/);
        expect(text(verbose)).not.toMatch(/INFO/);
      } finally {
        await cache.remove();
      }
    });
  });

  describe("--source", () => {
    it("reads a local OCI layout", async () => {
      const layout = await makeTempDir("cli-layout");
      try {
        await runSkopeo([], "copy", [
          "--quiet",
          "--src-tls-verify=false",
          `docker://${host}/team/docker:v1`,
          `oci:${layout.path}:v1`,
        ]);
        const source = ["--source", `work=${layout.path}`, "--cache-dir", fixture.cache.path];
        const root = await runRegdav(["ls", "/", ...source]);
        expectSuccess(root);
        expect(text(root)).toBe("work\n");

        const file = await runRegdav(["cat", "work/work/_tags/v1/rootfs/etc/os-release", ...source]);
        expectSuccess(file);
        expect(text(file)).toBe("ID=docker\n");
      } finally {
        await layout.remove();
      }
    });
  });
});

/** Runs a bash script with one argument and returns its stdout. Rejects on a non-zero exit. */
function runShell(script: string, argument: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script, "bash", argument], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`bash exited with code ${code}: ${stderr}`));
    });
  });
}
