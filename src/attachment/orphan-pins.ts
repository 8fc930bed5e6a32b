// Pins this plugin made that no record owns any more (a crash between pinning and the
// record's update, a record deleted by hand). Only pairs we can prove are ours are touched:
// a user namespace pin in our own usernsPinDir (nothing else writes there), and the netns pin
// of the same name whose owner is that very user namespace. A netns someone else made -
// owned by the host, or by another user namespace - is never removed.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inspectNamespace, unpin } from '../ns';

export interface OrphanSweep {
  removed: string[];
  errors: Error[];
}

/**
 * `ownedPaths()` must read the records afresh: it is called after a candidate pin was seen,
 * and ADD writes its record before it pins, so a pin that a running ADD just made is
 * always found owned.
 */
export function sweepOrphanPins(netnsPinDirs: string[], usernsPinDir: string, ownedPaths: () => Set<string>): OrphanSweep {
  const out: OrphanSweep = { removed: [], errors: [] };
  let names: string[];
  try {
    names = readdirSync(usernsPinDir);
  } catch {
    return out; // no pin dir: nothing of ours
  }
  for (const name of names) {
    const userPin = join(usernsPinDir, name);
    try {
      const user = inspectNamespace(userPin);
      if (user.isNsfsMount && user.nsType !== 'user') continue; // not a pin of ours
      const owned = ownedPaths();
      if (owned.has(userPin)) continue;
      for (const dir of netnsPinDirs) {
        const netPin = join(dir, name);
        if (owned.has(netPin)) continue;
        const net = inspectNamespace(netPin);
        if (net.isNsfsMount && net.nsType === 'net' && user.inode !== undefined && net.owner?.inode === user.inode) {
          unpin(netPin);
          out.removed.push(netPin);
        }
      }
      unpin(userPin);
      out.removed.push(userPin);
    } catch (err) {
      out.errors.push(err as Error);
    }
  }
  return out;
}
