// One CNI call: (environment, stdin) -> (stdout, stderr, exit status), with no process-wide
// effect of its own (no process.env, process.exit or console). The same code answers a call
// in-process (plugins/userns-netns/main.ts) and in the resident helper (src/helper/serve.ts),
// so both give byte-identical answers. A dispatch table from CNI verb to function; each verb
// gets one parsed, typed invocation. Verbs are imported lazily so a call loads only what it needs.
// It lives with the verbs, above the CNI protocol library it uses (src/cni knows no verb).
import { CniError, ErrorCode, asCniError } from '../cni/errors';
import { embeddedAddonError } from '../sys/native-addon';
import type { Command } from '../cni/env';
import { parseInvocation, type Invocation, type Verb } from '../config/invocation';
import { answerVersion, versionAnswer } from '../cni/version-command';
import { performance } from '../sys/clock';

const verbs: { [C in Verb]: (inv: Invocation<C>) => Promise<unknown> } = {
  ADD: async (inv) => (await import('./add')).cmdAdd(inv),
  DEL: async (inv) => (await import('./del')).cmdDel(inv),
  CHECK: async (inv) => (await import('./check')).cmdCheck(inv),
  GC: async (inv) => (await import('./gc')).cmdGc(inv),
  STATUS: async (inv) => (await import('./status')).cmdStatus(inv),
};

export interface CallAnswer {
  /** Exactly one JSON document and its newline, or empty (DEL, CHECK and GC answer nothing). */
  stdout: string;
  /** A stack trace for an internal error; nothing else. */
  stderr: string;
  code: number;
}

const doc = (d: unknown): string => `${JSON.stringify(d)}\n`;

export async function runCall(command: Command, env: NodeJS.ProcessEnv, readInput: () => Promise<Buffer>, marks?: Record<string, number>): Promise<CallAnswer> {
  let stdin: Buffer | undefined;
  try {
    stdin = await readInput();
    if (command === 'VERSION') return { stdout: doc(versionAnswer(stdin)), stderr: '', code: 0 };
    const inv = parseInvocation(command, env, stdin);
    if (marks) marks.parsed = performance.now();
    // Each entry takes its own verb's invocation; TypeScript cannot correlate the lookup.
    const result = await (verbs[inv.command] as (inv: Invocation) => Promise<unknown>)(inv as Invocation);
    return { stdout: result !== undefined ? doc(result) : '', stderr: '', code: 0 };
  } catch (err) {
    return errorAnswer(err, stdin);
  }
}

/** The answer for a call that failed (stdin: what was read of it, for the answer's version). */
export function errorAnswer(err: unknown, stdin: Buffer | undefined): CallAnswer {
  const addonErr = embeddedAddonError(); // koffi hides it behind a generic message
  const e: CniError = addonErr ? new CniError(ErrorCode.IoFailure, `cannot load the native addon: ${addonErr.message} (USERNS_NETNS_CACHE_DIR must be a root-only directory)`, { cause: addonErr }) : asCniError(err);
  const stderr = e.code === ErrorCode.Internal && err instanceof Error ? `${err.stack ?? err.message}\n` : '';
  return { stdout: doc(e.toJSON(answerVersion(stdin))), stderr, code: 1 };
}
