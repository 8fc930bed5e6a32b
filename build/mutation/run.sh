#!/bin/sh
# Stryker's command for each mutant (build/mutation/stryker.config.json), in its sandbox. Every
# pass instruments every group's files (the same mutant ids and coverage whatever is asked); a
# mutant outside the asked groups' files (MUTATION_FOCUS, set by mutate.mjs) is passed over here at
# once - it has no outcome this pass, and the summary leaves it out - and the rest go to
# run-for-mutant.ts. The dry run (no mutant) always goes there: it is the coverage run.
if [ -n "${__STRYKER_ACTIVE_MUTANT__:-}" ] && [ -n "${MUTATION_FOCUS:-}" ]; then
  # shellcheck disable=SC2086 # a list of file names, split on purpose
  grep -qF "stryMutAct_9fa48(\"$__STRYKER_ACTIVE_MUTANT__\")" $MUTATION_FOCUS || exit 0
fi
exec nice -n 19 node --import tsx build/mutation/run-for-mutant.ts
