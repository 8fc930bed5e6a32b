// The shim: the first thing a CNI call does, before the plugin's code is even compiled. When a
// resident helper (`userns-netns serve`) listens on the socket, the call is relayed to it and its
// answer printed unchanged; otherwise the call runs in-process, exactly as without a helper.
// When no socket exists this costs one stat(2); node:net is loaded only when one does.
//
// Falling back vs. failing: the call falls back to in-process whenever the helper provably did
// not start it - no socket, a stale one (ECONNREFUSED), a refusal (peer check, another build,
// upgrading), a connection lost before the shim sent "go" (see protocol.ts). Once "go" is sent
// the helper may be running the call, so a helper that dies then is NOT followed by an in-process
// run (that would run the call twice): the shim answers CNI error 11 ("try again later") naming
// the helper. Whatever the dead helper did is in the journal, so the runtime's retry (or its DEL)
// finishes or undoes it exactly as after a killed in-process plugin.
import { readSync, statSync } from 'node:fs';
import { STDIN_LIMIT } from '../cni/stdin';
import { writeAll } from '../cni/output';
import { CniError, ErrorCode } from '../cni/errors';
import { answerVersion } from '../cni/version-command';
import { GO, PROTOCOL_VERSION, lineReader, socketPath, type Answer, type Hello, type Reply } from './protocol';

const VERBS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

/** stdin, read fully if it can be without waiting (a non-blocking pipe) and within the limit. */
function readInput(): { bytes: Buffer; complete: boolean } {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      // EOF: Node's name for reading a closed stdin. EAGAIN and the rest: the in-process
      // path goes on from what we read (and reports an error the same way it always does).
      const complete = (err as NodeJS.ErrnoException).code === 'EOF';
      return { bytes: Buffer.concat(chunks, total), complete };
    }
    if (n === 0) return { bytes: Buffer.concat(chunks, total), complete: true };
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
    if (total > STDIN_LIMIT) return { bytes: Buffer.concat(chunks, total), complete: false };
  }
}

/**
 * undefined: run the call in-process (what was read of stdin is left in
 * globalThis.__USERNS_NETNS_STDIN__). Otherwise the helper answered: a promise of the exit
 * status, its stdout and stderr already written.
 */
export function relayToHelper(hash: string): Promise<number | undefined> | undefined {
  const env = process.env;
  if (!VERBS.includes(env.CNI_COMMAND ?? '')) return undefined; // no call, or the in-process error
  const path = socketPath(env);
  let isSocket: boolean;
  try {
    isSocket = statSync(path, { throwIfNoEntry: false })?.isSocket() ?? false;
  } catch {
    isSocket = false;
  }
  if (!isSocket) return undefined;

  const input = readInput();
  globalThis.__USERNS_NETNS_STDIN__ = input.bytes;
  if (!input.complete) return undefined;

  return new Promise((resolve) => {
    const net = process.getBuiltinModule('node:net');
    const sock = net.connect(path);
    let goSent = false;
    let done = false;
    const finish = (code: number | undefined) => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve(code);
    };
    const onLine = (line: string) => {
      if (!goSent) {
        const reply = JSON.parse(line) as Reply;
        if (!reply.accepted || reply.hash !== hash) return finish(undefined); // refused: in-process
        goSent = true;
        sock.write(`${GO}\n`);
        return;
      }
      const a = JSON.parse(line) as Answer;
      if (a.stdout) writeAll(a.stdout, 1);
      if (a.stderr) writeAll(a.stderr, 2);
      finish(a.code);
    };
    const read = lineReader(onLine, 64 * 1024 * 1024);
    const lost = (why: string) => {
      if (done) return;
      if (!goSent) return finish(undefined);
      // The helper may have started the call: never run it again here (see the top comment).
      const e = new CniError(ErrorCode.TryAgainLater, `the userns-netns helper at ${path} ended the call before answering (${why}); what it did is journalled, retry the call`);
      writeAll(`${JSON.stringify(e.toJSON(answerVersion(input.bytes)))}\n`, 1);
      finish(1);
    };
    sock.on('connect', () => {
      // Without NODE_OPTIONS: in-process, the plugin drops it (re-exec) before the call runs.
      const { NODE_OPTIONS: _dropped, ...callEnv } = env as Record<string, string>;
      const hello: Hello = { v: PROTOCOL_VERSION, hash, env: callEnv, stdin: input.bytes.toString('base64') };
      sock.write(`${JSON.stringify(hello)}\n`);
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (err) {
        lost(`unreadable reply: ${(err as Error).message}`);
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => lost(err.code ?? err.message));
    sock.on('close', () => lost('connection closed'));
  });
}
