#!/usr/bin/env bash
# Applies the formatter (Biome, build/lint-format.json) to every file, once, after all branches
# are merged: until then the format check skips the files listed in build/format-pending.json
# (those that did not conform when the gate came in), so that no branch reformats files that
# others edit in parallel. This empties that list for good and leaves one mechanical change to
# commit on its own: `bash build/format-all.sh && npm run typecheck && npm test`, then
# `git commit -am 'Format all files with Biome (build/format-all.sh)'`.
set -euo pipefail
cd "$(dirname "$0")/.."
biome=(node_modules/.bin/biome)
# No more exceptions: drop the list and the config's reference to it.
node -e '
  const fs = require("node:fs");
  const p = "build/lint-format.json";
  const c = JSON.parse(fs.readFileSync(p, "utf8"));
  delete c.extends;
  fs.writeFileSync(p, JSON.stringify(c, null, 2) + "\n");
'
rm -f build/format-pending.json
"${biome[@]}" format --config-path build/lint-format.json --write .
# What CI will check from now on: every file formatted, no lint findings.
"${biome[@]}" ci --config-path build/lint-format.json --colors=off .
