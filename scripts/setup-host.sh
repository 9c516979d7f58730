#!/usr/bin/env bash
# Installs the host tools the ulvs tests, lab and demo use, from Debian's
# packages: iproute2 (ip), nftables (nft), ethtool, curl and procps (sysctl).
# Idempotent: when everything is installed it changes nothing and skips
# apt-get update. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(iproute2 nftables ethtool curl procps)

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "setup-host: ${packages[*]} already installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup-host: need root to install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
echo "setup-host: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
