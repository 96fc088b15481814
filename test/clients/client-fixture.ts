import {
  makeImageConfig,
  makeLayer,
  type ImageBlob,
  type Platform,
} from "../harness/image-builder.js";
import { pushImage, pushIndex } from "../harness/push.js";
import { startRegdav, type RegdavOptions, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startCountingProxy, type CountingProxy } from "./counting-proxy.js";

/** The repository of the single-platform image every client test reads. */
export const APP_REPOSITORY = "clients/app";
export const MULTI_REPOSITORY = "clients/multi";

/** A file name that breaks naive HTML, URL and shell handling. */
export const TRICKY_NAME = `<b>"q"&amp;'x.txt`;
/** `café.txt` with a precomposed é (U+00E9), as Linux tools write it. */
export const PRECOMPOSED_NAME = "caf\u00e9.txt";
/** The same name decomposed (e + U+0301), as macOS sends it. */
export const DECOMPOSED_NAME = "cafe\u0301.txt";

/** A history line with markup, which every page must show escaped. */
export const HOSTILE_HISTORY = `ADD rootfs.tar / # <img src=x onerror="alert(1)">`;
export const HOSTILE_ENV = "GREETING=<script>alert('env')</script>";

export const OS_RELEASE = 'NAME="regdav test"\nID=regdav\n';

export interface ClientFixture {
  registry: TestRegistry;
  /** The proxy in front of the registry; regdav serves it as its registry. */
  proxy: CountingProxy;
  regdav: RegdavProcess;
  /** The registry folder name in the share: the proxy's host. */
  registryName: string;
  /** The share URL of the app image folder, ending in `/`. */
  appUrl: string;
  app: { digest: string; config: ImageBlob; layers: ImageBlob[] };
  multi: { digest: string; platformDigests: string[] };
  stop(): Promise<void>;
}

/**
 * Starts a registry with the images the client tests read, a counting proxy
 * in front of it and regdav serving the proxy.
 */
export async function startClientFixture(
  regdavArgs: readonly string[] = [],
  options: RegdavOptions = {},
): Promise<ClientFixture> {
  const registry = await startRegistry();
  const stops: (() => Promise<void>)[] = [() => registry.stop()];
  try {
    const app = await pushAppImage(registry.host);
    const multi = await pushMultiPlatform(registry.host);
    const proxy = await startCountingProxy(registry.host);
    stops.unshift(() => proxy.stop());
    const regdav = await startRegdav(["--registry", proxy.host, ...regdavArgs], options);
    stops.unshift(() => regdav.stop());

    return {
      registry,
      proxy,
      regdav,
      registryName: proxy.host,
      appUrl: `${regdav.url}${proxy.host}/${APP_REPOSITORY}/_tags/v1/`,
      app,
      multi,
      stop: async () => {
        for (const stop of stops) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops) await stop();
    throw error;
  }
}

async function pushAppImage(host: string) {
  const base = await makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/os-release", content: OS_RELEASE },
    { type: "file", path: "etc/greeting.txt", content: "hello from regdav\n" },
    { type: "file", path: `etc/${PRECOMPOSED_NAME}`, content: "accent\n" },
    { type: "file", path: `etc/${TRICKY_NAME}`, content: "tricky\n" },
    { type: "directory", path: "usr/share/doc" },
    { type: "file", path: "usr/share/doc/notes.txt", content: "needle in the docs\n" },
    // Probe names inside layer contents are real files and must stay reachable.
    { type: "file", path: "etc/desktop.ini", content: "[.ShellClassInfo]\n" },
  ]);
  const app = await makeLayer([
    { type: "file", path: "etc/app.conf", content: "needle=2\n" },
    { type: "file", path: "bin/hello", content: "#!/bin/sh\necho hello\n", mode: 0o755 },
  ]);
  const layers = [base, app];
  const config = makeImageConfig({
    layers,
    config: {
      Entrypoint: ["/bin/sh", "-c"],
      Cmd: ["/bin/hello --loud"],
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin", HOSTILE_ENV],
      WorkingDir: "/srv",
      User: "1000:1000",
    },
    history: [
      { created: "2024-01-01T00:00:00Z", created_by: HOSTILE_HISTORY },
      { created: "2024-01-02T00:00:00Z", created_by: "ENV GREETING=...", empty_layer: true },
      { created: "2024-01-03T00:00:00Z", created_by: "COPY app.conf hello /" },
    ],
  });
  const pushed = await pushImage(host, APP_REPOSITORY, "v1", { layers, config, format: "oci" });
  return { digest: pushed.digest, config, layers };
}

async function pushMultiPlatform(host: string) {
  const platforms: Platform[] = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64", variant: "v8" },
  ];
  const images = [];
  for (const platform of platforms) {
    const layer = await makeLayer([
      { type: "file", path: "etc/arch", content: `${platform.architecture}\n` },
    ]);
    images.push({
      platform,
      layers: [layer],
      config: makeImageConfig({ layers: [layer], platform }),
    });
  }
  const pushed = await pushIndex(host, MULTI_REPOSITORY, "latest", { images, format: "oci" });
  return { digest: pushed.digest, platformDigests: pushed.images.map((image) => image.digest) };
}
