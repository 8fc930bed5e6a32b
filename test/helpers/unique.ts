// Unique names per test run and per test, so parallel runs and leftovers never collide.
let counter = 0;
/** Tag shared by every name this test process makes, to tell its leftovers from others'. */
export const RUN_TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-3)}`;

/** A short unique name (fits in 15-char interface names with a 3-char prefix). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${RUN_TAG}${counter.toString(36)}`.slice(0, 15);
}
