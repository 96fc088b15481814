import { chromium, type BrowserContext } from "playwright-core";

import { makeTempDir, requireTool, type TempDir } from "../harness/tools.js";

/** Debian's chromium package; playwright-core never downloads a browser of its own. */
const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Flags that keep Chromium from contacting any host of its own accord:
 * no QUIC, no background updates, sync or component downloads.
 */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Chromium {
  readonly context: BrowserContext;
  /** Requests to any origin but `allowedOrigin`, aborted before they left the browser. */
  blockedRequests(): string[];
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with a fresh profile folder. Every request to
 * an origin other than `allowedOrigin` (such as `http://127.0.0.1:PORT`)
 * is aborted and recorded, so a test page cannot reach any other host.
 */
export async function launchChromium(allowedOrigin: string): Promise<Chromium> {
  await requireTool("chromium");
  const profile: TempDir = await makeTempDir("chromium-profile");
  let context: BrowserContext;
  try {
    // launchPersistentContext passes the folder as --user-data-dir, which launch() would reject.
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1200, height: 900 },
    });
  } catch (error) {
    await profile.remove();
    throw error;
  }

  const blocked: string[] = [];
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    if (new URL(url).origin === allowedOrigin) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });

  return {
    context,
    blockedRequests: () => [...blocked],
    close: async () => {
      await context.close();
      await profile.remove();
    },
  };
}
