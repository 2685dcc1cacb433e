#!/usr/bin/env bash
# Installs the Debian packages edx-vault's build and tests need, only when one is missing.
#   gpg, gpg-agent  real OpenPGP for the engine and its tests (python-gnupg drives the binary)
#   patchelf        sets RPATH on the binaries bundled into the gpg Lambda layer
#   zip             packs layers for the size check
#   binutils        readelf/objdump: the layer test checks GLIBC symbol versions
#   faketime        runs gpg-agent's clock fast in a test of its passphrase cache
set -euo pipefail

packages=(gpg gpg-agent patchelf zip binutils faketime)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
