#!/usr/bin/env bash
# Runs a command (the root test tier) in a private mount, network and PID namespace, the way
# containernetworking/plugins runs each test case in fresh namespaces: the pins, bridges, veths,
# helper sockets, data dirs, temp files and processes the tests make live only in there. When
# the run ends - normally, or killed mid-run - the kernel ends every process inside and drops
# the rest: a crashed run leaves nothing in the host's /run/netns, /run/userns, links or process
# table, and runs can go side by side (each sees only its own processes, e.g. orphaned
# namespace helpers, which are reparented to this namespace's init, the bash below).
#   bash test/helpers/private-host.sh CMD [ARGS...]
set -euo pipefail

if [ "${1:-}" != --inside ]; then
  # --propagation private: nothing mounted in here propagates back to the host's mounts.
  # --kill-child: if unshare is killed, the kernel kills the namespace's init, and so all in it.
  exec unshare --mount --net --pid --fork --kill-child --mount-proc --propagation private -- bash "$0" --inside "$@"
fi
shift

# Fresh tmpfs over what the tests (and the plugin's, libcni's and the runtimes' defaults) write:
# pin dirs and runtime state under /run, libcni's cache and our default data dir under
# /var/lib/cni, temp dirs under /tmp. Same mode as the directory it covers (the tests check
# modes of dirs they make there); a missing one is made first (an empty dir on the host).
# A checkout that lives under one of them (a clone in /tmp) is bound back over its own path.
repo=$(pwd -P)
hold=""
for d in /run /var/lib/cni /tmp; do
  case "$repo/" in "$d"/*) hold=$(mktemp -d /var/tmp/userns-netns-checkout.XXXXXX) && mount --bind "$repo" "$hold" ;; esac
done
for d in /run /var/lib/cni /tmp; do
  mkdir -p "$d"
  mount -t tmpfs -o "mode=$(stat -c %a "$d")" "tmpfs-userns-netns-test" "$d"
done
if [ -n "$hold" ]; then
  mkdir -p "$repo" && mount --bind "$hold" "$repo" && umount "$hold" && rmdir "$hold"
  cd "$repo"
fi
ln -s /dev/shm /run/shm
mkdir -m 1777 /run/lock
mkdir /run/netns /run/userns

# /sys shows the network devices of the netns it was mounted in: a fresh sysfs, so that
# /sys/class/net lists this namespace's bridges and veths, with the host's submounts (cgroups,
# which runc, crun and containerd need) bound back in.
old_sys=$(mktemp -d /run/old-sys.XXXXXX)
mount --rbind /sys "$old_sys"
mount -t sysfs sysfs /sys
top=()
while read -r m; do
  case "$m" in /sys) continue ;; esac
  under=0
  for t in "${top[@]}"; do case "$m" in "$t"/*) under=1 ;; esac; done
  [ "$under" -eq 1 ] || top+=("$m")
done < <(findmnt -rn -o TARGET -R "$old_sys" | sed "s|^$old_sys|/sys|")
for m in "${top[@]}"; do mount --rbind "$old_sys${m#/sys}" "$m"; done
umount -l "$old_sys" && rmdir "$old_sys"

ip link set lo up
# Not exec: this bash stays PID 1 and reaps the orphans reparented to it; the command's status
# is the run's.
"$@" &
wait "$!"
