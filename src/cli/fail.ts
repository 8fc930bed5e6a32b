// Operator-facing failures: one line on stderr and an exit status, never a stack or CNI JSON
// (a person reads this, not a runtime).
export class OperatorError extends Error {
  /** 1: the operation failed; 2: the command line was wrong. */
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export function usageError(message: string): OperatorError {
  return new OperatorError(`${message}; run with --help`, 2);
}
