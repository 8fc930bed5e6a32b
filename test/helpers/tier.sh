#!/usr/bin/env bash
# The two test tiers, and which test files belong to which:
#   unit: pure logic (CNI versions and result conversion, config and result schema errors,
#         names, delegate lookup and env, id pool math), run WITHOUT root (unprivileged.sh);
#   root: everything else, against the real kernel, inside a private mount + network
#         namespace (private-host.sh): the whole suite, the e2e tests again with the Node-script
#         artifact, and the e2e tests again through a resident helper.
#   bash test/helpers/tier.sh unit|root
set -euo pipefail
cd "$(dirname "$0")/../.."
# File names relative to test/. A new unit test file goes in this list.
UNIT='^(cni/[^/]+|config/netconf|state/names|idmap/(pool-math|allocator-port)|delegate/(env|prepare|find)|layers/import-direction)\.test\.ts$'
uvu=(node --import tsx node_modules/uvu/bin.js)
case "${1:-}" in
  unit)
    exec bash test/helpers/unprivileged.sh "${uvu[@]}" test "$UNIT" --no-color ;;
  root)
    exec bash test/helpers/private-host.sh bash "$0" root-inside ;;
  root-inside)
    # Every stage runs even when one fails (CI counts each stage's summary); the status is
    # the first failure's.
    status=0
    "${uvu[@]}" test --no-color -i fixtures -i helpers -i bench -i "$UNIT" || status=$?
    USERNS_NETNS_TEST_PLUGIN=script "${uvu[@]}" test/e2e --no-color || { [ "$status" -ne 0 ] || status=$?; }
    node --import tsx test/helper/helpers/e2e-through-helper.ts || { [ "$status" -ne 0 ] || status=$?; }
    exit "$status" ;;
  *)
    echo "usage: $0 unit|root" >&2
    exit 2 ;;
esac
