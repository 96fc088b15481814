#!/usr/bin/env bash
# Builds the two benchmark images once, as an OCI layout that bench/run.mjs
# pushes to its registry:
#   bookworm  a Debian bookworm root filesystem (debootstrap, minbase) in one layer
#   large     the same layer plus four layers of generated files, over 1 GiB uncompressed
# Everything is kept under $REGDAV_BENCH_WORK (default bench/.work). A step
# whose output exists is skipped, so a second run does nothing. Delete the
# folder to build again. Needs root (debootstrap, umoci unpack), debootstrap
# and umoci. debootstrap downloads the packages from the Debian mirror below.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${REGDAV_BENCH_WORK:-$bench_dir/.work}"
mirror="http://deb.debian.org/debian"
layout="$work/oci"
images_json="$work/images.json"

log() { printf 'make-images: %s\n' "$*" >&2; }

require() {
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      log "$tool not found: install it with apt-get install -y $tool"
      exit 1
    fi
  done
}

# Runs debootstrap into $work/debian-rootfs, unless a finished run is there.
build_debian_rootfs() {
  local rootfs="$work/debian-rootfs"
  if [[ -e "$work/debootstrap.done" ]]; then return; fi
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase bookworm $rootfs $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    log "debootstrap failed; its output is in $work/debootstrap.log"
    exit 1
  }
  touch "$work/debootstrap.done"
}

# Packs the Debian root filesystem as the one layer of $layout:bookworm.
pack_debian_image() {
  if umoci list --layout "$layout" 2>/dev/null | grep -qx bookworm; then return; fi
  local bundle="$work/bundle-bookworm"
  rm -rf "$layout" "$bundle"
  log "packing $layout:bookworm"
  umoci init --layout "$layout"
  umoci new --image "$layout:bookworm"
  umoci unpack --image "$layout:bookworm" "$bundle"
  # tar keeps hard links, devices, owners and modes as debootstrap made them.
  tar -C "$work/debian-rootfs" -cf - . | tar -C "$bundle/rootfs" -xpf -
  umoci repack --image "$layout:bookworm" "$bundle"
  umoci config --image "$layout:bookworm" --config.cmd /bin/bash
  rm -rf "$bundle"
}

# Adds one layer of generated files to $layout:large per generator step.
pack_large_image() {
  if umoci list --layout "$layout" | grep -qx large; then return; fi
  local bundle="$work/bundle-large"
  rm -rf "$bundle"
  umoci tag --image "$layout:bookworm" large-partial
  umoci unpack --image "$layout:large-partial" "$bundle"
  for step in models logs packages data; do
    log "adding the $step layer to $layout:large"
    node "$bench_dir/lib/generate-files.mjs" "$step" "$bundle/rootfs"
    umoci repack --refresh-bundle --image "$layout:large-partial" "$bundle"
  done
  # The tag appears only when every layer is in, so an interrupted build starts over.
  umoci tag --image "$layout:large-partial" large
  umoci rm --image "$layout:large-partial"
  umoci gc --layout "$layout"
  rm -rf "$bundle"
}

describe_images() {
  if [[ -e "$images_json" ]]; then return; fi
  log "describing the images in $images_json"
  node "$bench_dir/lib/describe-images.mjs" "$layout" bookworm large >"$images_json.partial"
  mv "$images_json.partial" "$images_json"
}

if [[ $EUID -ne 0 ]]; then
  log "run as root: debootstrap and umoci unpack create files owned by other users"
  exit 1
fi
require debootstrap umoci tar node
mkdir -p "$work"
# The folder contains gigabytes of images and caches, so git must never add it.
printf '*\n' >"$work/.gitignore"
build_debian_rootfs
pack_debian_image
pack_large_image
describe_images
log "images ready in $layout"
