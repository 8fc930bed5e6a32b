// Taking the helper's socket path safely: its directory root-only (no one else may connect,
// replace or pre-create the socket), no live helper already there, a stale socket removed.
import { lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { OperatorError } from '../cli/fail';

function mode(m: number): string {
  return `0${(m & 0o7777).toString(8)}`;
}

/** Creates the directory 0700 when absent; refuses one that is not root's and private. */
export function checkSocketDir(socket: string): void {
  const dir = dirname(socket);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new OperatorError(`cannot create ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) throw new OperatorError(`${dir} is a symbolic link; the socket's directory must be a real root-only directory`);
  if (!st.isDirectory()) throw new OperatorError(`${dir} is not a directory`);
  if (st.uid !== 0) throw new OperatorError(`${dir} is owned by uid ${st.uid}; the socket's directory must be root's`);
  if ((st.mode & 0o077) !== 0) throw new OperatorError(`${dir} has mode ${mode(st.mode)}; the socket's directory must be mode 0700`);
}

/** Does a process accept connections on this socket? */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve(false) : reject(err)));
  });
}

/** Frees the path for our socket: nothing there, or a stale socket (removed). */
export async function claimSocketPath(socket: string): Promise<void> {
  let st: Stats;
  try {
    st = lstatSync(socket);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new OperatorError(`${socket} exists and is not a socket; not replacing it`);
  if (await answers(socket)) throw new OperatorError(`a helper is already listening on ${socket}`);
  unlinkSync(socket); // stale: its helper is gone
}
