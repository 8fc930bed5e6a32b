#!/usr/bin/env bash
# Runs a command without root: as is when started by another user, as nobody (no groups, no
# capabilities) when started as root. For the unit tier, which must pass without privileges.
# HOME and TMPDIR point at a temp dir nobody owns (tsx keeps its cache under TMPDIR). The
# repository is bound (in a private mount namespace) below that dir and the command runs from
# there, so it works from a clone nobody could reach (e.g. under root's 0700 home).
#   bash test/helpers/unprivileged.sh CMD [ARGS...]
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then exec "$@"; fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
chown nobody:nogroup "$home"
mkdir "$home/repo"
set +e
unshare --mount --propagation private -- sh -c '
  mount --bind "$1" "$2/repo" && cd "$2/repo" || exit 1
  home=$2
  shift 2
  exec setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
    env HOME="$home" TMPDIR="$home" "$@"
' sh "$PWD" "$home" "$@"
status=$?
exit "$status"
