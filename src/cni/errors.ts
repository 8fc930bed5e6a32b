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
    s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
