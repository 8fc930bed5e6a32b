#!/usr/bin/env bash
# Sets everything up on a fresh Debian (as root) and runs the plugin's main job on an example:
# installs the packages, builds the artifacts, then, with the self-contained executable for this
# host (dist/userns-netns-linux-amd64 or -arm64: no Node needed to run it), ADDs a container to
# the example bridge network in a new user namespace, shows what it got, and DELs it again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash build/install-deps.sh
npm run build --silent

case "$(uname -m)" in
  x86_64|amd64) plugin=dist/userns-netns-linux-amd64 ;;
  aarch64|arm64) plugin=dist/userns-netns-linux-arm64 ;;
  *) echo "setup-and-demo.sh: no self-contained build for $(uname -m)" >&2; exit 1 ;;
esac
example=netconf-examples/10-userns-bridge.conflist
# libcni injects the list's name and cniVersion into each plugin entry; do the same.
conf=$(node -e '
  const l = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const e = l.plugins.find((p) => p.type === "userns-netns");
  console.log(JSON.stringify({ ...e, name: l.name, cniVersion: l.cniVersion }));
' "$example")
pin=userns-demo-$$
forward=$(cat /proc/sys/net/ipv4/ip_forward)
cni() { CNI_COMMAND=$1 CNI_CONTAINERID=demo-$$ CNI_NETNS=${2-/run/netns/$pin} CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni "$plugin" <<<"$conf"; }
cleanup() {
  cni DEL "" >/dev/null || true
  ip link del cni-userns0 2>/dev/null || true
  echo "$forward" > /proc/sys/net/ipv4/ip_forward
}
trap cleanup EXIT

echo "== plugin: $plugin"
echo "== ADD (CNI_NETNS=/run/netns/$pin, network $(node -p 'JSON.parse(process.argv[1]).name' "$conf"))"
cni ADD | node -e 'process.stdin.pipe(process.stdout)'; echo
echo "== inside the new netns:"
ip -n "$pin" -br addr
echo "== its owner user namespace maps (container host size):"
nsenter --user="/run/userns/$pin" cat /proc/self/uid_map
echo "== CHECK"; cni CHECK && echo ok
echo "== DEL"; cni DEL && echo ok
ls "/run/netns/$pin" 2>/dev/null && echo "pin still there?!" || echo "pins removed"
