// A monotonic clock in ms since the process started, for durations and start-up marks.
// The `performance` global would do, but its first use loads perf_hooks (~10 internal modules,
// a few ms of every call's start-up); process.uptime() reads the same libuv clock without them.
// Imported as `performance` so a module's existing performance.now() calls keep their meaning.
export const performance = {
  now: (): number => process.uptime() * 1000,
};
