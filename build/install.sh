#!/usr/bin/env bash
# Builds the plugin and installs it where CNI runtimes look for plugins, as userns-netns.
# Default: the self-contained executable for this host's architecture (uname -m: x86_64 ->
# dist/userns-netns-linux-amd64, aarch64 -> dist/userns-netns-linux-arm64), which needs
# nothing on the host but glibc and libstdc++.
#
#   build/install.sh [--dest DIR] [--node-script] [--conflist NAME|FILE] [--confdir DIR] [--force] [--no-build]
#                    [--with-helper [--unitdir DIR]]
#
#   --dest DIR        plugin directory (default /opt/cni/bin; env DEST also works)
#   --node-script     install the small Node-script file dist/userns-netns instead (x86-64
#                     only; needs Node.js 20 as `node` on the runtime's PATH)
#   --conflist X      also install an example conflist: a name from netconf-examples/
#                     (e.g. 10-userns-bridge) or a file path
#   --confdir DIR     where the conflist goes (default /etc/cni/net.d)
#   --force           replace an existing conflist of the same name
#   --no-build        install the file already built in dist/ as is
#   --with-helper     also install the resident helper's systemd unit, userns-netns-helper.service
#                     (not enabled or started: systemctl enable --now userns-netns-helper)
#   --unitdir DIR     where the unit goes (default /etc/systemd/system)
#
# The plugin file is replaced atomically (written beside as root:root 0755, then renamed over
# the old one): a runtime running the old file at that moment keeps running its inode, a new
# call gets the new one; an old copy is never written in place.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=${DEST:-/opt/cni/bin}
confdir=/etc/cni/net.d
conflist=''
force=0
build=1
variant=sea
helper=0
unitdir=/etc/systemd/system
die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest=${2:?--dest needs a directory}; shift 2 ;;
    --confdir) confdir=${2:?--confdir needs a directory}; shift 2 ;;
    --conflist) conflist=${2:?--conflist needs a name or file}; shift 2 ;;
    --force) force=1; shift ;;
    --node-script) variant=script; shift ;;
    --no-build) build=0; shift ;;
    --with-helper) helper=1; shift ;;
    --unitdir) unitdir=${2:?--unitdir needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

if [ "$build" = 1 ]; then
  # Never --omit=optional: koffi's native binary is an optional dependency.
  [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
  npm run --silent build
fi
if [ "$variant" = script ]; then
  artifact=dist/userns-netns
else
  case "$(uname -m)" in
    x86_64|amd64) artifact=dist/userns-netns-linux-amd64 ;;
    aarch64|arm64) artifact=dist/userns-netns-linux-arm64 ;;
    *) die "no self-contained build for $(uname -m) (amd64 and arm64 only)" ;;
  esac
fi
[ -x "$artifact" ] || die "$artifact missing: run without --no-build"

install -d -m 0755 "$dest"
tmp="$dest/.userns-netns.tmp.$$"
trap 'rm -f "$tmp"' EXIT
install -o root -g root -m 0755 "$artifact" "$tmp"
mv -f "$tmp" "$dest/userns-netns"
echo "installed $dest/userns-netns ($artifact)"

if [ "$helper" = 1 ]; then
  case "$dest" in /*) ;; *) die "--with-helper needs an absolute --dest (the unit names it)" ;; esac
  install -d -m 0755 "$unitdir"
  sed "s|@DEST@|$dest|g" build/userns-netns-helper.service > "$unitdir/.userns-netns-helper.service.$$"
  chmod 0644 "$unitdir/.userns-netns-helper.service.$$"
  mv -f "$unitdir/.userns-netns-helper.service.$$" "$unitdir/userns-netns-helper.service"
  echo "installed $unitdir/userns-netns-helper.service (not enabled: systemctl daemon-reload && systemctl enable --now userns-netns-helper)"
fi

if [ -n "$conflist" ]; then
  src=$conflist
  [ -f "$src" ] || src="netconf-examples/${conflist%.conflist}.conflist"
  [ -f "$src" ] || die "no conflist $conflist (choices: $(cd netconf-examples && ls | sed 's/\.conflist$//' | tr '\n' ' '))"
  target="$confdir/$(basename "$src")"
  if [ -e "$target" ] && [ "$force" != 1 ]; then die "$target exists (use --force to replace it)"; fi
  install -d -m 0755 "$confdir"
  install -m 0644 "$src" "$target"
  echo "installed $target"
fi
