#!/usr/bin/env bash
# Runs a command without root: as is when started by another user, as nobody (no groups, no
# capabilities) when started as root. For the unit tier, which must pass without privileges.
# HOME and TMPDIR point at a temp dir nobody owns (tsx keeps its cache under TMPDIR).
#   bash test/helpers/unprivileged.sh CMD [ARGS...]
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then exec "$@"; fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
chown nobody:nogroup "$home"
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
  env HOME="$home" TMPDIR="$home" "$@"
status=$?
exit "$status"
