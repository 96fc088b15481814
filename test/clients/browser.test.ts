import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { repoRoot } from "../harness/tools.js";
import { launchChromium, type Chromium } from "./chromium.js";
import {
  HOSTILE_ENV,
  MULTI_REPOSITORY,
  OS_RELEASE,
  startClientFixture,
  TRICKY_NAME,
  type ClientFixture,
} from "./client-fixture.js";

/** Screenshots land here; the folder is git-ignored and kept by CI as an artifact. */
const ARTIFACTS = join(repoRoot, "test-artifacts");

/** With this set to 1, the image-folder screenshot also replaces docs/browser.png. */
const UPDATE_DOCS_SCREENSHOT = process.env.REGDAV_UPDATE_DOCS_SCREENSHOT === "1";

let fixture: ClientFixture;
let browser: Chromium;
let page: Page;
const dialogs: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  fixture = await startClientFixture();
  browser = await launchChromium(new URL(fixture.regdav.url).origin);
  page = await browser.context.newPage();
  page.setDefaultTimeout(15_000);
  // An alert would mean that markup from the image ran as script.
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await fixture?.stop();
});

async function clickLink(name: string): Promise<void> {
  const link = page.getByRole("link", { name, exact: true }).first();
  await Promise.all([page.waitForEvent("load"), link.click()]);
}

/** Returns the names of the listing rows shown, without the `../` row. */
async function rowNames(): Promise<string[]> {
  return page.locator("#entries tr[data-name]:visible td.name a").allTextContents();
}

describe("Chromium", () => {
  it("root lists the registry", async () => {
    await page.goto(fixture.regdav.url);
    expect(await rowNames()).toEqual([`${fixture.registryName}/`]);
  });

  it("clicks through to the image folder", async () => {
    for (const name of [`${fixture.registryName}/`, "clients/", "app/", "_tags/", "v1/"]) {
      await clickLink(name);
    }
    const header = page.locator("section.image");
    await expect
      .poll(() => header.textContent())
      .toContain(`${fixture.registryName}/clients/app:v1`);
    const text = (await header.textContent()) ?? "";
    expect(text).toContain(fixture.app.digest);
    expect(text).toContain("linux/amd64");
    expect(text).toContain(HOSTILE_ENV);
    expect(text).toContain("COPY app.conf hello /");

    await page.screenshot({ path: join(ARTIFACTS, "browser-image-folder.png"), fullPage: true });
    if (UPDATE_DOCS_SCREENSHOT) {
      await copyFile(
        join(ARTIFACTS, "browser-image-folder.png"),
        join(repoRoot, "docs", "browser.png"),
      );
    }
  });

  it("history link opens the config entry", async () => {
    await clickLink("COPY app.conf hello /");
    expect(new URL(page.url()).hash).toBe("#history-2");
    expect(await page.locator("#history-2").textContent()).toContain("COPY app.conf hello /");
    await page.goBack();
  });

  it("filter box hides other rows", async () => {
    await clickLink("rootfs/");
    await clickLink("etc/");
    await page.getByRole("searchbox", { name: "Filter names" }).fill("OS-REL");
    expect(await rowNames()).toEqual(["os-release"]);
    await page.getByRole("searchbox", { name: "Filter names" }).fill("");
    expect(await rowNames()).toContain(TRICKY_NAME);
  });

  it("opens a tricky name's file", async () => {
    await clickLink(TRICKY_NAME);
    expect(await page.locator("pre.text").textContent()).toBe("tricky\n");
    await page.goBack();
  });

  it("opens a rootfs file", async () => {
    await clickLink("os-release");
    expect(await page.locator("pre.text").textContent()).toBe(OS_RELEASE);
    await page.screenshot({ path: join(ARTIFACTS, "browser-rootfs-file.png") });
  });

  it("breadcrumbs lead back to the tag", async () => {
    await clickLink("v1");
    expect(await page.locator("section.image").count()).toBe(1);
  });

  it("follows a digest link in an index", async () => {
    const tag = `${fixture.registryName}/${MULTI_REPOSITORY}/_tags/latest`;
    const index = `${fixture.regdav.url}${tag}/index.json`;
    await page.goto(index);
    const [arm64] = fixture.multi.platformDigests.slice(1);
    await page.screenshot({ path: join(ARTIFACTS, "browser-index-json.png"), fullPage: true });
    await clickLink(JSON.stringify(arm64));

    expect(decodeURIComponent(new URL(page.url()).pathname)).toBe(
      `/${fixture.registryName}/${MULTI_REPOSITORY}/_manifests/sha256/${arm64!.slice(7)}/`,
    );
    const header = (await page.locator("section.image").textContent()) ?? "";
    expect(header).toContain(`${fixture.registryName}/${MULTI_REPOSITORY}@${arm64}`);
    expect(header).toContain("linux/arm64/v8");
  });

  it("reads well at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(fixture.appUrl);
    // A string, because the tests compile without the DOM types.
    const width = await page.evaluate<number>("document.documentElement.scrollWidth");
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, "browser-phone.png"), fullPage: true });
  });

  it("ran no injected script", () => {
    expect(dialogs).toEqual([]);
  });

  it("broke no Content-Security-Policy rule", () => {
    expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
  });

  it("contacted no other host", () => {
    expect(browser.blockedRequests()).toEqual([]);
  });
});
