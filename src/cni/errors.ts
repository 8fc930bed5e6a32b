// One error type for the whole plugin. Callers branch on `code`, never on message text
// (the registry idea from Node core). Codes 1-11 and 50/51 are the CNI spec's; 100+ are ours.

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginNotAvailableLimitedConnectivity: 51,
  // Ours (100+): namespace engine, state, id mapping.
  NamespaceFailure: 100,
  PinExists: 101,
  StateFailure: 102,
  MappingInvalid: 103,
  PoolExhausted: 104,
  AttachmentExists: 105,
  Internal: 999,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode] | number;

export class CniError extends Error {
  override readonly name = 'CniError';
  readonly code: number;
  readonly details: string;

  constructor(code: ErrorCodeValue, msg: string, opts: { details?: string; cause?: unknown } = {}) {
    super(msg, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.details = opts.details ?? '';
  }

  /** The spec's error document. `cniVersion` is the version the caller asked for. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const doc: { cniVersion: string; code: number; msg: string; details?: string } = {
      cniVersion,
      code: this.code,
      msg: this.message,
    };
    if (this.details) doc.details = this.details;
    return doc;
  }
}

/** Wraps anything thrown into a CniError; unexpected exceptions become code 999. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CniError(ErrorCode.Internal, `internal error: ${msg}`, { cause: err });
}

/** Quote a user-supplied value for an error message, short enough to read. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * A lock not acquired before its deadline (code 11), with what an operator or a caller acts
 * on as fields: the lock file and the pids holding it (from /proc/locks, best effort). Callers
 * that know what the lock guards say so with `because`, keeping the fields.
 */
export class LockTimeoutError extends CniError {
  readonly path: string;
  readonly timeoutMs: number;
  readonly holders: readonly number[];

  constructor(lock: { path: string; timeoutMs: number; holders: readonly number[] }, reason: string, opts: { prefix?: string; cause?: unknown } = {}) {
    const held = lock.holders.length ? ` (held by pid ${lock.holders.join(', ')})` : '';
    super(ErrorCode.TryAgainLater, `${opts.prefix ?? ''}timed out after ${lock.timeoutMs}ms waiting for lock ${lock.path}${held}; ${reason}`, opts.cause === undefined ? {} : { cause: opts.cause });
    this.path = lock.path;
    this.timeoutMs = lock.timeoutMs;
    this.holders = [...lock.holders];
  }

  /** The same timeout, explained by what the lock guards. */
  because(reason: string, prefix?: string): LockTimeoutError {
    return new LockTimeoutError(this, reason, { prefix, cause: this });
  }
}

/** Several failures of one operation (a teardown's steps, GC's sweep, STATUS's checks), all kept. */
export class CombinedError extends CniError {
  readonly errors: readonly CniError[];

  constructor(code: ErrorCodeValue, msg: string, errors: readonly CniError[], details?: string) {
    super(code, msg, { details, cause: errors[0] });
    this.errors = errors;
  }
}

export interface CombineOptions {
  /** Leads the message, given how many failed; none: the messages alone. */
  heading?: (count: number) => string | undefined;
  /** The combined code; default the first error's. */
  code?: ErrorCodeValue;
  details?: string;
}

/**
 * The one way to report several errors: every message, in order, in one CniError (code and
 * cause from the first unless told), the errors themselves in `errors`. Undefined for none.
 */
export function combineErrors(errors: readonly unknown[], opts: CombineOptions = {}): CombinedError | undefined {
  if (errors.length === 0) return undefined;
  const all = errors.map(asCniError);
  const heading = opts.heading?.(all.length);
  const text = all.map((e) => e.message).join('; ');
  return new CombinedError(opts.code ?? all[0]!.code, heading ? `${heading}: ${text}` : text, all, opts.details ?? all[0]!.details);
}
