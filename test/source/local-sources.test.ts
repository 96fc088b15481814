import { join } from "node:path";

import { requireTool, runCommand } from "../harness/tools.js";
import { openDockerArchive } from "../../src/source/docker-archive-source.js";
import { openOciLayout } from "../../src/source/layout-source.js";
import { openOciArchive } from "../../src/source/oci-archive-source.js";
import { testSourceName, type TestImageSet } from "./local-images.js";
import {
  describeLocalSourceConformance,
  dockerManifestType,
  ociManifestType,
  type LocalSourceFormat,
} from "./local-source-conformance.js";
import {
  dockerArchiveFiles,
  expectedDockerManifestDigest,
  layoutFiles,
  writeFolder,
  writeTar,
  type DockerArchiveStyle,
} from "./local-writers.js";

const layoutDigests: Pick<LocalSourceFormat, "manifestDigestOf" | "manifestMediaType"> = {
  manifestDigestOf: (image) => image.manifest.digest,
  manifestMediaType: ociManifestType,
};

function dockerDigests(
  style: DockerArchiveStyle,
): Pick<LocalSourceFormat, "manifestDigestOf" | "manifestMediaType"> {
  return {
    manifestDigestOf: (image) => expectedDockerManifestDigest(image, style),
    manifestMediaType: dockerManifestType,
  };
}

async function writeLayoutFolder(folder: string, images: TestImageSet): Promise<string> {
  const layout = join(folder, "layout");
  await writeFolder(layout, layoutFiles(images));
  return layout;
}

/** Writes the layout as a folder and archives it with GNU tar in the given format. */
async function writeWithGnuTar(
  folder: string,
  images: TestImageSet,
  format: "gnu" | "posix",
): Promise<string> {
  const layout = await writeLayoutFolder(folder, images);
  const archive = join(folder, `layout-${format}.tar`);
  await runCommand(await requireTool("tar"), [
    `--format=${format}`,
    "-cf",
    archive,
    "-C",
    layout,
    ".",
  ]);
  return archive;
}

async function writeDockerArchive(
  folder: string,
  images: TestImageSet,
  style: DockerArchiveStyle,
): Promise<string> {
  const archive = join(folder, `docker-${style}.tar`);
  await writeTar(archive, dockerArchiveFiles(images, style));
  return archive;
}

describeLocalSourceConformance("OCI layout folder", {
  ...layoutDigests,
  write: writeLayoutFolder,
});

describeLocalSourceConformance("OCI layout folder opened directly", {
  ...layoutDigests,
  write: writeLayoutFolder,
  open: (path) => openOciLayout(testSourceName, path),
});

describeLocalSourceConformance("OCI archive with ./ names", {
  ...layoutDigests,
  write: async (folder, images) => {
    const archive = join(folder, "layout.tar");
    await writeTar(archive, layoutFiles(images), "./");
    return archive;
  },
  open: (path) => openOciArchive(testSourceName, path),
});

describeLocalSourceConformance("OCI archive from GNU tar, gnu format", {
  ...layoutDigests,
  write: (folder, images) => writeWithGnuTar(folder, images, "gnu"),
});

describeLocalSourceConformance("OCI archive from GNU tar, posix format", {
  ...layoutDigests,
  write: (folder, images) => writeWithGnuTar(folder, images, "posix"),
});

describeLocalSourceConformance("docker archive, classic layout", {
  ...dockerDigests("classic"),
  write: (folder, images) => writeDockerArchive(folder, images, "classic"),
});

describeLocalSourceConformance("docker archive, classic layout opened directly", {
  ...dockerDigests("classic"),
  write: (folder, images) => writeDockerArchive(folder, images, "classic"),
  open: (path) => openDockerArchive(testSourceName, path),
});

describeLocalSourceConformance("docker archive with OCI blobs", {
  ...dockerDigests("oci-blobs"),
  write: (folder, images) => writeDockerArchive(folder, images, "oci-blobs"),
});

describeLocalSourceConformance("docker archive with gzip layers", {
  ...dockerDigests("gzip-layers"),
  write: (folder, images) => writeDockerArchive(folder, images, "gzip-layers"),
});

describeLocalSourceConformance("extracted docker save folder", {
  ...dockerDigests("classic"),
  write: async (folder, images) => {
    const extracted = join(folder, "docker-save");
    await writeFolder(extracted, dockerArchiveFiles(images, "classic"));
    return extracted;
  },
});
