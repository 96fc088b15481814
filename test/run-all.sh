#!/usr/bin/env bash
# Runs the whole test suite: installs the external programs the tests need
# (on Debian or Ubuntu, with apt-get) when any is missing, installs the npm
# dependencies, then runs vitest, and the layer tests again on other Node.js
# versions. Arguments are passed on to `vitest run`, which then runs alone,
# for example: bash test/run-all.sh test/harness
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Programs the test suite expects on PATH, each with the Debian package that provides it.
tools=(
  "docker-registry:docker-registry"
  "skopeo:skopeo"
  "umoci:umoci"
  "rclone:rclone"
  "fusermount3:fuse3"
  "zstd:zstd"
  "curl:curl"
  "htpasswd:apache2-utils"
  "chromium:chromium"
  "mount.davfs:davfs2"
  "cadaver:cadaver"
  "litmus:litmus"
  "pigz:pigz"
  "openssl:openssl"
  "script:bsdutils"
)

fail() {
  echo "run-all.sh: $*" >&2
  exit 1
}

# Prints the programs of $tools that are not on PATH, separated by spaces.
missing_tools() {
  local entry missing=()
  for entry in "${tools[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry%%:*}")
  done
  echo "${missing[*]}"
}

install_tools() {
  local missing
  missing="$(missing_tools)"
  [ -z "$missing" ] && return 0

  command -v apt-get >/dev/null 2>&1 ||
    fail "missing tools: $missing; apt-get is not available to install them"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
      fail "missing tools: $missing; not root and sudo is not installed, so install them as root"
    sudo=(sudo)
  fi

  # Only the packages of missing programs, so that apt-get upgrades nothing else.
  local packages=() entry
  for entry in "${tools[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || packages+=("${entry#*:}")
  done
  echo "run-all.sh: missing $missing; installing ${packages[*]}"

  # Installing docker-registry starts its system service (port 5000) unless a
  # policy-rc.d forbids service starts. The tests start their own registries,
  # so when no policy exists, one forbids starts for the duration of the install.
  local policy=/usr/sbin/policy-rc.d added_policy=no
  if [ ! -e "$policy" ]; then
    "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    added_policy=yes
  fi

  local status=0
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
  if [ "$status" -eq 0 ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${packages[@]}" || status=$?
  fi
  if [ "$added_policy" = yes ]; then "${sudo[@]}" rm -f "$policy"; fi
  [ "$status" -eq 0 ] || fail "apt-get failed with exit status $status"

  missing="$(missing_tools)"
  [ -z "$missing" ] || fail "still missing after apt-get install: $missing"
}

check_node() {
  command -v node >/dev/null 2>&1 || fail "node is missing: install Node.js 20 or later"
  command -v npm >/dev/null 2>&1 || fail "npm is missing: install it with Node.js 20 or later"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || fail "node $(node --version) is too old: regdav needs Node.js 20 or later"
}

check_fuse() {
  # rclone mount, which the end-to-end tests use, needs the FUSE device.
  [ -c /dev/fuse ] ||
    fail "/dev/fuse is missing: load the fuse module (modprobe fuse) or start the container with --device /dev/fuse"
}

install_tools
check_node
check_fuse

if [ -f package-lock.json ]; then
  npm ci
else
  npm install
fi

# Other Node.js versions that regdav supports. The layer code uses zlib's
# binding, which is not public API, and Node's own zstd decoder, which reads
# only the first frame on Node 22.23.5, so it is tested on each of them too.
# The binaries are the npm registry's node-<platform> packages.
other_node_versions=(22.23.5 24.22.3)
other_node_tests=(test/layer test/e2e/smoke.test.ts test/e2e/random-access.test.ts test/e2e/toc-layers.test.ts)

# Prints the npm package platform of this machine, or nothing when there is none.
node_package_platform() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo linux-x64 ;;
    Linux-aarch64) echo linux-arm64 ;;
  esac
}

# Runs other_node_tests on each of other_node_versions, fetching each binary once into test-artifacts/.
test_other_node_versions() {
  local platform version dir
  platform="$(node_package_platform)"
  if [ -z "$platform" ]; then
    echo "run-all.sh: no Node.js package for $(uname -s)-$(uname -m), so only Node.js $(node --version) was tested" >&2
    return 0
  fi
  for version in "${other_node_versions[@]}"; do
    dir="test-artifacts/node-$version"
    if [ ! -x "$dir/package/bin/node" ]; then
      mkdir -p "$dir"
      (cd "$dir" && npm pack --silent "node-$platform@$version" >/dev/null && tar xzf "node-$platform-$version.tgz") ||
        fail "fetching node-$platform@$version from the npm registry failed"
    fi
    echo "run-all.sh: running ${other_node_tests[*]} on Node.js $version"
    PATH="$PWD/$dir/package/bin:$PATH" node node_modules/vitest/vitest.mjs run "${other_node_tests[@]}"
  done
}

# vitest strips types without checking them, so the sources and the tests
# are type-checked here first.
npm run typecheck
if [ "$#" -gt 0 ]; then
  exec npx vitest run "$@"
fi
npx vitest run
test_other_node_versions
