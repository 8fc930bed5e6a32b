// `userns-netns serve`: the resident helper. Each relayed call runs the very code an in-process
// call runs (src/commands/call.ts), concurrently with the others, each with its own environment (see
// src/sys/call-env.ts) and stdin. Locks, journal and lock order are the verbs' own, unchanged:
// flock locks belong to open file descriptions, so two calls in this one process exclude each
// other exactly as two plugin processes do, and a killed helper leaves what killed plugins leave.
import { AsyncLocalStorage } from 'node:async_hooks';
import { chmodSync, lstatSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { commandOf } from '../cni/env';
import { errorAnswer, runCall, type CallAnswer } from '../commands/call';
import { openLogFile } from '../log/log-file';
import { runDelegatesAsync } from '../delegate/exec';
import { setCallEnvSource } from '../sys/call-env';
import { performance } from '../sys/clock';
import { peerCred, peerRefusal } from './peer';
import { GO, PROTOCOL_VERSION, lineReader, type Hello, type Reply } from './protocol';
import { checkSocketDir, claimSocketPath } from './socket-path';
import { OperatorError } from '../cli/fail';

export interface ServeOptions {
  socket: string;
  /** The helper's own JSON lines (one per call, start, stop); off when undefined. */
  log?: string;
}

const HELLO_LIMIT = 16 * 1024 * 1024;
const HELLO_TIMEOUT_MS = 10_000;

/** The file this helper runs from: when it changes on disk (an upgrade), we stop accepting. */
function ownFile(): string {
  return process.getBuiltinModule('node:sea').isSea() ? process.execPath : process.argv[1]!;
}

function identity(file: string): string {
  const st = statSync(file);
  return `${st.dev}:${st.ino}:${st.mtimeMs}`;
}

export async function serve(opts: ServeOptions, err: (s: string) => void): Promise<number> {
  if (process.getuid?.() !== 0) throw new OperatorError('serve must run as root');

  if (!globalThis.__USERNS_NETNS_CODE_HASH__) throw new OperatorError('serve runs only from a built artifact (its code hash is unknown)');
  const hash: string = globalThis.__USERNS_NETNS_CODE_HASH__;
  let logFd: number | undefined;
  if (opts.log) {
    const opened = openLogFile(opts.log);
    if ('refused' in opened) throw new OperatorError(`--log ${opts.log}: ${opened.refused}`);
    logFd = opened.fd;
  }
  const log = (event: string, fields: Record<string, unknown> = {}) => {
    if (logFd === undefined) return;
    try {
      writeSync(logFd, `${JSON.stringify({ time: new Date().toISOString(), event, pid: process.pid, ...fields })}\n`);
    } catch {
      // logging never breaks a call
    }
  };

  checkSocketDir(opts.socket);
  await claimSocketPath(opts.socket);
  const file = ownFile();
  const fileId = identity(file);

  runDelegatesAsync();
  const calls = new AsyncLocalStorage<NodeJS.ProcessEnv>();
  setCallEnvSource(() => calls.getStore() ?? process.env);
  // Load the verbs now: the first call after start should not pay for it.
  await Promise.all([import('../commands/add'), import('../commands/del'), import('../commands/check')]);
  await import('../sys/libc').then((m) => m.libc());

  let socketIno: number | undefined;
  // Connections whose call has not started ("go" not received): dropped when we stop, so their
  // shims run the call in-process instead of keeping us waiting.
  const notStarted = new Set<Socket>();
  let inFlight = 0;
  let stopping = false;
  let finished: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finished = resolve));
  const maybeExit = () => {
    if (stopping && inFlight === 0) finished(0);
  };
  const server = createServer((conn) => {
    inFlight++;
    conn.once('close', () => {
      inFlight--;
      maybeExit();
    });
    handle(conn);
  });
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log('stop', { why, inFlight });
    // The socket goes at once (only if still ours): new calls find none and run in-process.
    try {
      if (socketIno !== undefined && lstatSync(opts.socket).ino === socketIno) unlinkSync(opts.socket);
    } catch {
      // already gone
    }
    server.close();
    for (const c of notStarted) c.destroy();
    maybeExit();
  };

  function refuse(conn: Socket, reason: string): void {
    const reply: Reply = { accepted: false, reason, hash };
    conn.end(`${JSON.stringify(reply)}\n`);
    log('refused', { reason });
  }

  function handle(conn: Socket): void {
    conn.on('error', () => {}); // a vanished shim: nothing to answer
    notStarted.add(conn);
    conn.once('close', () => notStarted.delete(conn));
    // A peer that never sends its call is dropped (its shim, if any, runs the call in-process).
    conn.setTimeout(HELLO_TIMEOUT_MS, () => notStarted.has(conn) && conn.destroy());
    let upgraded = false;
    try {
      upgraded = identity(file) !== fileId;
    } catch {
      upgraded = true; // removed
    }
    if (upgraded) {
      notStarted.delete(conn); // its refusal goes out before we drop the others
      refuse(conn, `${file} changed on disk (upgrade): this helper stops accepting`);
      stop('upgrade');
      return;
    }
    let refusal: string | undefined;
    let peerPid = 0;
    try {
      const cred = peerCred((conn as unknown as { _handle: { fd: number } })._handle.fd);
      peerPid = cred.pid;
      refusal = peerRefusal(cred);
    } catch (e) {
      refusal = `peer check failed: ${(e as Error).message}`;
    }
    if (refusal) {
      refuse(conn, refusal);
      return;
    }

    let hello: Hello | undefined;
    const read = lineReader((line) => {
      if (!hello) {
        try {
          hello = JSON.parse(line) as Hello;
        } catch {
          return refuse(conn, 'the hello is not JSON');
        }
        if (hello.v !== PROTOCOL_VERSION || hello.hash !== hash) {
          return refuse(conn, `another build (protocol ${String(hello.v)}, code ${String(hello.hash)}; this helper runs ${hash})`);
        }
        const reply: Reply = { accepted: true, hash };
        conn.write(`${JSON.stringify(reply)}\n`);
      } else if (line === GO) {
        notStarted.delete(conn);
        conn.setTimeout(0);
        conn.removeAllListeners('data');
        void run(conn, hello, peerPid);
      } else {
        conn.destroy();
      }
    }, HELLO_LIMIT);
    conn.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch {
        conn.destroy();
      }
    });
  }

  async function run(conn: Socket, hello: Hello, peerPid: number): Promise<void> {
    const t0 = performance.now();
    const env = hello.env;
    const stdin = Buffer.from(hello.stdin, 'base64');
    let answer: CallAnswer;
    try {
      const command = commandOf(env);
      answer = command === undefined ? errorAnswer(new Error('CNI_COMMAND is not set'), stdin) : await calls.run(env, () => runCall(command, env, async () => stdin));
    } catch (e) {
      answer = errorAnswer(e, stdin);
    }
    conn.end(`${JSON.stringify(answer)}\n`);
    log('call', {
      command: env.CNI_COMMAND,
      containerId: env.CNI_CONTAINERID,
      ifname: env.CNI_IFNAME,
      peerPid,
      code: answer.code,
      error: answer.code !== 0 ? answer.stdout.trim() : undefined,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    });
  }

  // The socket is created 0600 (umask) in a 0700 directory: root only, from the first moment.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socket, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(opts.socket, 0o600);
  socketIno = lstatSync(opts.socket).ino;
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // One call's stray rejection must not take the others down with the helper.
  process.on('unhandledRejection', (e) => log('unhandled-rejection', { error: String(e) }));
  log('start', { socket: opts.socket, hash, file });
  err(`userns-netns serve: listening on ${opts.socket} (build ${hash})\n`);
  return done;
}
