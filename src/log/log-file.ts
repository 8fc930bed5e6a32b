// Opening `logFile` safely. The plugin runs as root on paths from a config file: the log must
// never hang a verb (a FIFO blocks open() for writing until a reader appears), never follow a
// symlink, never append to a file someone else can read, swap or pre-create, and never leak
// into delegates. What it cannot use, it skips with a reason; logging is never worth failing for.
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

// Node's fs.constants has no O_CLOEXEC (libuv adds it anyway); spelled out so it stays true.
const O_CLOEXEC = 0o2000000;
const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | O_CLOEXEC;

const ROOT = 0;

function mode(m: number): string {
  return `0${(m & 0o7777).toString(8)}`;
}

/** An fd for appending to `file`, or the reason it is not used. */
export function openLogFile(file: string): { fd: number } | { refused: string } {
  // The directory first, before anything is created in it: in a directory others can write
  // (sticky /tmp included) the name may be theirs by the time we open it.
  const dir = dirname(file);
  try {
    const d = statSync(dir);
    if (d.uid !== ROOT) return { refused: `its directory ${dir} is owned by uid ${d.uid}, not root` };
    if ((d.mode & 0o022) !== 0) return { refused: `its directory ${dir} is writable by group or others (mode ${mode(d.mode)})` };
  } catch (e) {
    return { refused: `its directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  let fd: number;
  try {
    fd = openSync(file, FLAGS, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { refused: 'it is a symbolic link' };
    if (code === 'ENXIO') return { refused: 'it is a FIFO with no reader' };
    return { refused: `cannot open it: ${code ?? String(e)}` };
  }
  const st = fstatSync(fd);
  const why = !st.isFile() ? 'it is not a regular file' : st.uid !== ROOT ? `it is owned by uid ${st.uid}, not root` : (st.mode & 0o022) !== 0 ? `it is writable by group or others (mode ${mode(st.mode)})` : undefined;
  if (why === undefined) return { fd };
  closeSync(fd);
  return { refused: why };
}
