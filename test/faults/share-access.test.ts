import { execFile } from "node:child_process";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { pushImage } from "../harness/push.js";
import { makeImageConfig, makeLayer } from "../harness/image-builder.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, requireTool, type TempDir } from "../harness/tools.js";
import { bodyText, encodePath, fetchOutcome, headerOf, type Outcome } from "./fault-fixtures.js";

const run = promisify(execFile);

/** A share password with the characters that break naive Basic parsing. */
const SHARE_PASSWORD = "pa+ss/wo:rd=";
const SHARE_USER = "reader";

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("share access", () => {
  let work: TempDir;

  beforeAll(async () => {
    work = await makeTempDir("share-access");
  });

  afterAll(async () => {
    await work?.remove();
  });

  describe("exposure warning", () => {
    const warning = /WARN listening on 0\.0\.0\.0 without --dav-user/;

    it("binding 0.0.0.0 without --dav-user warns", async () => {
      const regdav = await startRegdav(["--registry", "127.0.0.1:1"], { listenHost: "0.0.0.0" });
      try {
        // Only the loopback address is ever contacted.
        const outcome = await fetchOutcome(regdav.url, { method: "OPTIONS" });
        expect(outcome.status).toBe(200);
        expect(regdav.output()).toMatch(warning);
      } finally {
        await regdav.stop();
      }
    });

    it("loopback binding does not warn", async () => {
      const regdav = await startRegdav(["--registry", "127.0.0.1:1"]);
      try {
        expect(regdav.output()).not.toMatch(/WARN/);
      } finally {
        await regdav.stop();
      }
    });

    it("0.0.0.0 with --dav-user does not warn", async () => {
      const regdav = await startRegdav(["--registry", "127.0.0.1:1", "--dav-user", SHARE_USER], {
        listenHost: "0.0.0.0",
        env: { REGDAV_DAV_PASSWORD: SHARE_PASSWORD },
      });
      try {
        expect(regdav.output()).not.toMatch(/WARN/);
      } finally {
        await regdav.stop();
      }
    });
  });

  describe("cache folder", () => {
    it("new cache folder is private to the user", async () => {
      const cacheDir = join(work.path, "new", "cache");
      const regdav = await startRegdav(["--registry", "127.0.0.1:1"], { cacheDir });
      try {
        expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
      } finally {
        await regdav.stop();
      }
    });
  });

  describe("share password", () => {
    const sources: Array<
      [name: string, setup: () => Promise<{ args: string[]; env: Record<string, string> }>]
    > = [
      [
        "--dav-password-file",
        async () => {
          const file = join(work.path, "share-password");
          await writeFile(file, `${SHARE_PASSWORD}\n`, { mode: 0o600 });
          return { args: ["--dav-password-file", file], env: {} };
        },
      ],
      [
        "REGDAV_DAV_PASSWORD",
        async () => ({ args: [], env: { REGDAV_DAV_PASSWORD: SHARE_PASSWORD } }),
      ],
    ];

    for (const [name, setup] of sources) {
      describe(name, () => {
        let regdav: RegdavProcess;

        beforeAll(async () => {
          const { args, env } = await setup();
          regdav = await startRegdav(
            ["--registry", "127.0.0.1:1", "--dav-user", SHARE_USER, ...args],
            {
              env,
            },
          );
        });

        afterAll(() => regdav?.stop());

        it("password with + / : is accepted", async () => {
          const outcome = await fetchOutcome(regdav.url, {
            headers: { authorization: basic(SHARE_USER, SHARE_PASSWORD) },
          });
          expect(outcome.status).toBe(200);
        });

        it("wrong password is 401 with a realm", async () => {
          const outcome = await fetchOutcome(regdav.url, {
            headers: { authorization: basic(SHARE_USER, `${SHARE_PASSWORD}x`) },
          });
          expect(outcome.status).toBe(401);
          expect(headerOf(outcome, "www-authenticate")).toBe(
            'Basic realm="regdav", charset="UTF-8"',
          );
        });

        it("missing credentials are 401 for every method", async () => {
          for (const method of ["GET", "PROPFIND", "OPTIONS", "HEAD"]) {
            const outcome = await fetchOutcome(regdav.url, { method });
            expect(outcome.status, method).toBe(401);
          }
        });

        it("wrong user is 401", async () => {
          const outcome = await fetchOutcome(regdav.url, {
            headers: { authorization: basic("someone", SHARE_PASSWORD) },
          });
          expect(outcome.status).toBe(401);
        });

        it("password appears in no output", () => {
          expect(regdav.output()).not.toContain(SHARE_PASSWORD);
        });
      });
    }
  });

  describe("HTTPS", () => {
    let regdav: RegdavProcess;
    let curl: string;

    const curlRequest = async (args: string[]) => {
      const { stdout } = await run(curl, ["-k", "-s", "-S", "--max-time", "10", ...args]);
      return stdout;
    };

    beforeAll(async () => {
      curl = await requireTool("curl");
      const openssl = await requireTool("openssl");
      const key = join(work.path, "key.pem");
      const cert = join(work.path, "cert.pem");
      await run(openssl, [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-keyout",
        key,
        "-out",
        cert,
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ]);
      regdav = await startRegdav(
        [
          "--registry",
          "127.0.0.1:1",
          "--tls-cert",
          cert,
          "--tls-key",
          key,
          "--dav-user",
          SHARE_USER,
        ],
        { https: true, env: { REGDAV_DAV_PASSWORD: SHARE_PASSWORD } },
      );
    });

    afterAll(() => regdav?.stop());

    it("PROPFIND over HTTPS has path hrefs", async () => {
      const body = await curlRequest([
        "-X",
        "PROPFIND",
        "-H",
        "Depth: 1",
        "-u",
        `${SHARE_USER}:${SHARE_PASSWORD}`,
        "-w",
        "\\nstatus=%{http_code}",
        regdav.url,
      ]);
      expect(body).toMatch(/status=207$/);
      const hrefs = [...body.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((match) => match[1]!);
      expect(hrefs.map((href) => decodeURIComponent(href))).toEqual(["/", "/127.0.0.1:1/"]);
    });

    it("HTML listing over HTTPS links by path", async () => {
      const body = await curlRequest(["-u", `${SHARE_USER}:${SHARE_PASSWORD}`, regdav.url]);
      const links = [...body.matchAll(/<a [^>]*href="([^"]*)"/g)].map((match) => match[1]!);
      expect(links.map((href) => decodeURIComponent(href))).toContain("/127.0.0.1:1/");
      for (const href of links) expect(href, href).toMatch(/^\//);
    });

    it("HTTPS without credentials is 401", async () => {
      const status = await curlRequest(["-o", "/dev/null", "-w", "%{http_code}", regdav.url]);
      expect(status).toBe("401");
    });

    it("plain HTTP to the HTTPS port gets no share", async () => {
      const plainUrl = regdav.url.replace("https:", "http:");
      const got = await fetch(plainUrl).then(
        (response) => response.status,
        () => "failed",
      );
      expect(got === "failed" || got === 400).toBe(true);
      const status = await curlRequest([
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-u",
        `${SHARE_USER}:${SHARE_PASSWORD}`,
        regdav.url,
      ]);
      expect(status).toBe("200");
    });
  });

  describe("registry credentials", () => {
    const user = "registry-user";
    const password = "Reg1stry+Pass/word:42";
    const secrets = {
      password,
      "base64 of user:password": Buffer.from(`${user}:${password}`).toString("base64"),
      "base64 of the password": Buffer.from(password).toString("base64"),
      "URL-encoded password": encodeURIComponent(password),
    };
    let registry: TestRegistry;
    let proxy: FaultProxy;
    let regdav: RegdavProcess;
    const seen: string[] = [];

    const record = (label: string, outcome: Outcome) => {
      const headers =
        outcome.kind === "response" ? [...outcome.headers].map((pair) => pair.join(": ")) : [];
      const body = outcome.kind === "response" ? outcome.body.toString("latin1") : outcome.error;
      seen.push(`${label}\n${headers.join("\n")}\n${body}`);
      return outcome;
    };
    const share = (path: string) => `${regdav.url}${encodePath(`${proxy.host}/${path}`)}`;

    beforeAll(async () => {
      registry = await startRegistry({ htpasswd: { username: user, password } });
      const layer = await makeLayer([{ type: "file", path: "hello.txt", content: "hello\n" }]);
      const config = makeImageConfig({ layers: [layer] });
      const image = { layers: [layer], config, format: "oci" as const };
      await pushImage(registry.host, "private/app", "v1", image, {
        credentials: { username: user, password },
      });
      proxy = await startFaultProxy(registry.host);

      // A home of its own, so that no login of the machine running the tests is read.
      const home = join(work.path, "home");
      const dockerConfig = join(home, "docker-config");
      await mkdir(dockerConfig, { recursive: true });
      const auths = {
        [proxy.host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") },
      };
      await writeFile(join(dockerConfig, "config.json"), JSON.stringify({ auths }), {
        mode: 0o600,
      });
      regdav = await startRegdav(["--registry", proxy.host, "--log-level", "debug"], {
        env: {
          HOME: home,
          DOCKER_CONFIG: dockerConfig,
          XDG_CONFIG_HOME: join(home, ".config"),
          XDG_RUNTIME_DIR: join(home, "run"),
          REGISTRY_AUTH_FILE: "",
          REGDAV_USERNAME: "",
          REGDAV_PASSWORD: "",
        },
      });
    });

    afterAll(async () => {
      await regdav?.stop();
      await proxy?.close();
      await registry?.stop();
    });

    it("private image is read with the stored login", async () => {
      const outcome = record(
        "file",
        await fetchOutcome(share("private/app/_tags/v1/rootfs/hello.txt")),
      );
      expect(bodyText(outcome)).toBe("hello\n");
      expect(proxy.requests.some((entry) => entry.authorization?.startsWith("Basic "))).toBe(true);
    });

    it("listings and the HTML page are served", async () => {
      const listings = [
        ["catalog", share(""), "PROPFIND"],
        ["tags", share("private/app/_tags/"), "PROPFIND"],
        ["image", share("private/app/_tags/v1/"), "PROPFIND"],
        ["html", share("private/app/_tags/v1/"), "GET"],
        ["manifest", share("private/app/_tags/v1/manifest.json"), "GET"],
      ] as const;
      for (const [label, target, method] of listings) {
        const outcome = record(
          label,
          await fetchOutcome(target, { method, headers: { Depth: "1" } }),
        );
        expect(outcome.status, label).toBeLessThan(300);
      }
    });

    it("wrong path is 404", async () => {
      const outcome = record(
        "404",
        await fetchOutcome(share("private/app/_tags/nope/manifest.json")),
      );
      expect(outcome.status).toBe(404);
    });

    it("registry 500 is a 502", async () => {
      const rule = proxy.addFault({
        path: /\/manifests\/v2$/,
        fault: { kind: "status", status: 500 },
      });
      const outcome = record(
        "502",
        await fetchOutcome(share("private/app/_tags/v2/manifest.json")),
      );
      rule.remove();
      expect(outcome.status).toBe(502);
    });

    it("registry echoing the Authorization header is a 502", async () => {
      const rule = proxy.addFault({
        path: /\/manifests\/v3$/,
        fault: { kind: "echo-authorization" },
      });
      const outcome = record(
        "echo",
        await fetchOutcome(share("private/app/_tags/v3/manifest.json")),
      );
      rule.remove();
      expect(outcome.status).toBe(502);
      expect(proxy.requests.some((entry) => entry.fault === "echo-authorization")).toBe(true);
      expect(bodyText(outcome)).toContain("Authorization: Basic [redacted]");
    });

    for (const [name, secret] of Object.entries(secrets)) {
      it(`${name} is in no response`, () => {
        for (const text of seen) expect(text.includes(secret), text.slice(0, 200)).toBe(false);
      });

      it(`${name} is in no log line`, () => {
        const lines = regdav.output().split("\n");
        expect(lines.filter((line) => line.includes(secret))).toEqual([]);
      });
    }
  });
});
