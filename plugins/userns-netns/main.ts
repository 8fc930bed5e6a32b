// userns-netns: entry point. A dispatch table from CNI verb to function; each verb gets one
// parsed, typed invocation. Verbs are imported lazily so a call loads only what it needs.
import { CniError, ErrorCode, asCniError } from '../../src/cni/errors';
import { embeddedAddonError } from '../../src/sys/native-addon';
import { commandOf, type Command } from '../../src/cni/env';
import { parseInvocation, type Invocation } from '../../src/cni/invocation';
import { writeDocument } from '../../src/cni/output';
import { readStdin } from '../../src/cni/stdin';
import { LATEST_VERSION, versionAnswer } from '../../src/cni/version-command';
import { isSupported } from '../../src/cni/versions';
import { dropNodeOptions } from '../../src/sys/node-options';
import { performance } from '../../src/sys/clock';

type Verb = (inv: Invocation) => Promise<unknown>;

const verbs: Record<Exclude<Command, 'VERSION'>, Verb> = {
  ADD: async (inv) => (await import('../../src/commands/add')).cmdAdd(inv),
  DEL: async (inv) => (await import('../../src/commands/del')).cmdDel(inv),
  CHECK: async (inv) => (await import('../../src/commands/check')).cmdCheck(inv),
  GC: async (inv) => (await import('../../src/commands/gc')).cmdGc(inv),
  STATUS: async (inv) => (await import('../../src/commands/status')).cmdStatus(inv),
};

/** The version errors are answered in: the caller's, when we can tell and speak it. */
function answerVersion(stdin: Buffer | undefined): string {
  if (!stdin) return LATEST_VERSION;
  const m = /"cniVersion"\s*:\s*"([^"]*)"/.exec(stdin.toString('utf8'));
  return m && isSupported(m[1]) ? m[1]! : LATEST_VERSION;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const marks = (globalThis as { __USERNS_NETNS_MARKS__?: Record<string, number> }).__USERNS_NETNS_MARKS__;
  if (marks) marks.main = performance.now();
  // Nothing but our one JSON document may reach stdout, whatever a library prints.
  console.log = console.info = console.debug = console.error;

  let stdin: Buffer | undefined;
  try {
    await dropNodeOptions();
    const command = commandOf(env);
    if (command === undefined) {
      const { runOperatorCli } = await import('../../src/cli/operator');
      return await runOperatorCli(argv);
    }
    stdin = await readStdin();
    if (command === 'VERSION') {
      writeDocument(versionAnswer(stdin));
      return 0;
    }
    const inv = parseInvocation(command, env, stdin);
    if (marks) marks.parsed = performance.now();
    const result = await verbs[command](inv);
    if (result !== undefined) writeDocument(result);
    return 0;
  } catch (err) {
    const addonErr = embeddedAddonError(); // koffi hides it behind a generic message
    const e: CniError = addonErr
      ? new CniError(ErrorCode.IoFailure, `cannot load the native addon: ${addonErr.message} (USERNS_NETNS_CACHE_DIR must be a root-only directory)`, { cause: addonErr })
      : asCniError(err);
    writeDocument(e.toJSON(answerVersion(stdin)));
    if (e.code === ErrorCode.Internal && err instanceof Error) process.stderr.write(`${err.stack ?? err.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`userns-netns: ${String(err)}\n`);
    process.exit(1);
  },
);
