// NODE_OPTIONS in the caller's environment is read by Node itself, before any of our code runs,
// in both artifacts (a Node 20 single executable application honours it too: there is no way to
// turn that off in Node 20). A runtime that happens to carry, say, --inspect or
// --max-old-space-size in its environment would change how the plugin runs as root. What we can
// do: replace the process, same pid, by a fresh copy of itself without NODE_OPTIONS, as the very
// first thing. Whatever NODE_OPTIONS did before that point (a --require/--import preload has
// already run; an --inspect listener was open for those few ms) cannot be undone, which is why the
// README says to keep NODE_OPTIONS out of the runtime's environment.
import type { LibraryHandle } from 'koffi';

let execve: ((path: string, argv: (string | null)[], envp: (string | null)[]) => number) | undefined;
let fcntl: ((fd: number, cmd: number, ...rest: unknown[]) => number) | undefined;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/**
 * Node marks stdin/stdout/stderr close-on-exec and may make them non-blocking (it undoes that
 * only at exit, which an exec skips): give the next program the caller's plain descriptors.
 */
function plainStdio(libc: LibraryHandle): void {
  fcntl ??= libc.func('int fcntl(int fd, int cmd, ...)');
  for (const fd of [0, 1, 2]) {
    fcntl(fd, F_SETFD, 'int', 0);
    const fl = fcntl(fd, F_GETFL, 'int', 0);
    if (fl >= 0 && fl & O_NONBLOCK) fcntl(fd, F_SETFL, 'int', fl & ~O_NONBLOCK);
  }
}

/** Returns only when NODE_OPTIONS is unset or empty; else execs a clean copy (or throws). */
export async function dropNodeOptions(): Promise<void> {
  if (!process.env.NODE_OPTIONS) return;
  // Loaded only here: koffi and its addon are not needed by a call without NODE_OPTIONS.
  const { SysError, errno, libc } = await import('./libc');
  const env = Object.entries(process.env)
    .filter(([k]) => k !== 'NODE_OPTIONS')
    .map(([k, v]) => `${k}=${v}`);
  // A single executable application: argv is [exe, exe, ...args]. The Node-script file:
  // [node, script, ...args], with the node flags of an explicit `node FLAGS script` kept.
  const sea = process.getBuiltinModule('node:sea').isSea();
  const argv = sea ? [process.execPath, ...process.argv.slice(2)] : [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  plainStdio(libc());
  execve ??= libc().func('int execve(const char *path, const char **argv, const char **envp)');
  execve(process.execPath, [...argv, null], [...env, null]);
  throw new SysError('execve', errno(), `${process.execPath} (to drop NODE_OPTIONS)`);
}
