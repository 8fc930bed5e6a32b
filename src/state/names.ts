// Attachment key <-> file name. The key parts come from the runtime (CNI_CONTAINERID,
// CNI_IFNAME) and the config (network name); they are validated upstream, but a file name
// built from them by a root process must not be able to leave its directory whatever
// slips through, and two different keys must never share a file.
//
// Scheme: each part is percent-encoded (everything but [A-Za-z0-9_.-] becomes %XX of its
// UTF-8 bytes), the three parts are joined with '+', which the encoding never emits, and
// '.json' is appended. Injective, reversible, and no result contains '/' or NUL or can be
// '.' or '..'. Valid CNI ids and network names pass through unchanged, so the files stay
// readable: `mynet+3f2a...+eth0.json`.
import { CniError, ErrorCode, show } from '../cni/errors';

export interface AttachmentKey {
  network: string;
  containerId: string;
  ifname: string;
}

const SEP = '+';
const SUFFIX = '.json';
const NAME_MAX = 255;
/**
 * The longest name derived from a record file name is its temp name (atomic-file.ts:
 * `.<name>.<pid>.<8 hex>.tmp`, pid up to 7 digits as pid_max allows 4194304); the lock file
 * (`.lock` for `.json`) is as long as the record. A key is refused unless all of them fit,
 * so that whether a verb works never depends on the pid's digit count.
 */
export const DERIVED_NAME_EXTRA = '.'.length + '.'.length + 7 + '.'.length + 8 + '.tmp'.length;
export const RECORD_NAME_MAX = NAME_MAX - DERIVED_NAME_EXTRA;
const PASS = /^[A-Za-z0-9_.-]$/;

function encodePart(part: string): string {
  let out = '';
  for (const ch of part) {
    if (PASS.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodePart(enc: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})+$/.test(enc)) return undefined;
  try {
    const s = decodeURIComponent(enc);
    // Only the canonical encoding is ours; anything else was not written by keyToFileName.
    return encodePart(s) === enc ? s : undefined;
  } catch {
    return undefined; // invalid UTF-8
  }
}

function checkPart(label: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value === '.' || value === '..' || value.includes('/') || value.includes('\0')) {
    throw new CniError(ErrorCode.StateFailure, `unsafe ${label} ${show(value)} for a state file name`);
  }
  return value;
}

/** The record file name for an attachment. Throws StateFailure for unusable parts. */
export function keyToFileName(key: AttachmentKey): string {
  const name = [encodePart(checkPart('network name', key.network)), encodePart(checkPart('container id', key.containerId)), encodePart(checkPart('interface name', key.ifname))].join(SEP) + SUFFIX;
  const bytes = Buffer.byteLength(name);
  if (bytes > RECORD_NAME_MAX) {
    // The container id is the runtime's input (CNI_CONTAINERID), hence code 4.
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_CONTAINERID, CNI_IFNAME and the network name are too long together: their state file name ${show(name.slice(0, 40) + '...')} is ${bytes} bytes, ` +
        `at most ${RECORD_NAME_MAX} fit (NAME_MAX ${NAME_MAX} less ${DERIVED_NAME_EXTRA} for its temp-file name)`,
    );
  }
  return name;
}

/** The key a file name stands for, or undefined for names keyToFileName never produces. */
export function fileNameToKey(name: string): AttachmentKey | undefined {
  if (!name.endsWith(SUFFIX)) return undefined;
  const parts = name.slice(0, -SUFFIX.length).split(SEP);
  if (parts.length !== 3) return undefined;
  const [network, containerId, ifname] = parts.map(decodePart);
  if (network === undefined || containerId === undefined || ifname === undefined) return undefined;
  // Decoding can yield what keyToFileName refuses to encode (%2F is '/'): not ours either.
  if ([network, containerId, ifname].some((p) => p === '.' || p === '..' || p.includes('/') || p.includes('\0'))) {
    return undefined;
  }
  return { network, containerId, ifname };
}
