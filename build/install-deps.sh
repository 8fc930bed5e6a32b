#!/usr/bin/env bash
# Installs everything the plugin's build and tests need on a fresh Debian bookworm, as root:
# the real CNI plugins (bridge, host-local, portmap), iproute2, util-linux (nsenter, unshare),
# runc, containerd and busybox-static for the runtime end-to-end tests; binutils (as, objcopy: the
# test that the clone holder's bytes are its assembled source); for the self-contained
# arm64 file: binutils-aarch64-linux-gnu (to strip it) and qemu-user-static with arm64 glibc and
# libstdc++ (to run it in the tests on this x86-64 machine); then npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
pkgs=(containernetworking-plugins iproute2 util-linux runc containerd busybox-static iputils-ping procps jq golang-go golang-github-appc-cni-dev
  strace libgpgme11 libsubid4 libyajl2
  binutils binutils-aarch64-linux-gnu qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# podman 4.3 (with conmon and crun) for the runtime tests, unpacked into a tree of its own and
# never installed: its package drops a default conflist into /etc/cni/net.d (which ctr would then
# load) and config into /etc/containers. Its libraries (above) are plain packages.
podman_tree=/var/cache/userns-netns-test/podman
if [ ! -x "$podman_tree/usr/bin/podman" ] || [ ! -x "$podman_tree/usr/bin/crun" ] || [ ! -x "$podman_tree/usr/bin/conmon" ]; then
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download podman conmon crun golang-github-containers-common >/dev/null 2>&1) || { apt-get update -qq && (cd "$dl" && apt-get download podman conmon crun golang-github-containers-common >/dev/null); }
  rm -rf "$podman_tree.new" && mkdir -p "$podman_tree.new"
  for deb in "$dl"/*.deb; do dpkg -x "$deb" "$podman_tree.new"; done
  rm -rf "$podman_tree" && mv "$podman_tree.new" "$podman_tree"
  rm -rf "$dl"
fi
# Never --omit=optional: koffi's native binary is an optional dependency.
npm ci --no-audit --no-fund --loglevel=error
