// Many attachments without the cost of making them: copies of one real record under other
// container ids, written straight into the records directory, plus the table entries ADD
// would have made for them (a block each in allocator mode, an explicit entry each for an
// explicit mapping). Their pin paths are the template's plus a suffix, so nothing is there. Used by the scale tests and by test/bench/scale-bench.ts.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mappingRanges, readTable, writeTable } from '../../../src/idmap/allocation-file';
import { keyToFileName, type AttachmentKey } from '../../../src/state/names';

/** Synthetic blocks live far from any test pool: they are table entries only, never namespaces. */
const SYNTHETIC_BASE = 65536;

export interface Synthetic {
  keys: AttachmentKey[];
  /** Removes the files and the table entries again. */
  remove(): void;
}

/**
 * Adds `n` copies of `template` (the record of `templateKey`) under container ids starting
 * with `${prefix}-`, and their entries to the allocation table.
 */
export function addSynthetic(dataDir: string, templateKey: AttachmentKey, n: number, prefix: string): Synthetic {
  const recordsDir = join(dataDir, 'records');
  const template = JSON.parse(readFileSync(join(recordsDir, keyToFileName(templateKey)), 'utf8'));
  const read = readTable(dataDir);
  // (Missing or version 1 only when the plugin under test predates table version 2.)
  const table = read.table ?? { blocks: read.legacy ?? [], explicit: [] };
  const keys: AttachmentKey[] = [];
  for (let i = 0; i < n; i++) {
    // 64 characters, as runtimes' container ids are: the table and file names are real-sized.
    const containerId = `${prefix}-${i.toString(16).padStart(8, '0')}-`.padEnd(64, 'c');
    const key = { network: templateKey.network, containerId, ifname: templateKey.ifname };
    // Pins that do not exist: a GC or DEL of a copy must never reach the template's namespaces.
    const rec = {
      ...template,
      containerId: key.containerId,
      netns: { ...template.netns, path: `${template.netns.path}-${prefix}-${i}` },
      userns: template.userns.path ? { ...template.userns, path: `${template.userns.path}-${prefix}-${i}` } : template.userns,
    };
    if (template.allocation) {
      const hostID = SYNTHETIC_BASE * (1 + i);
      rec.allocation = { ...template.allocation, hostID };
      rec.mappings = { uidMappings: [{ containerID: 0, hostID, size: template.allocation.size }], gidMappings: [{ containerID: 0, hostID, size: template.allocation.size }] };
      table.blocks.push([key.network, key.containerId, key.ifname, template.allocation.pool, hostID, template.allocation.size, 0]);
    } else if (template.mappings) {
      table.explicit.push([key.network, key.containerId, key.ifname, mappingRanges(template.mappings)]);
    }
    writeFileSync(join(recordsDir, keyToFileName(key)), `${JSON.stringify(rec)}\n`, { mode: 0o600 });
    keys.push(key);
  }
  table.blocks.sort((a, b) => a[4] - b[4]);
  writeTable(dataDir, table);
  const ids = new Set(keys.map((k) => k.containerId));
  return {
    keys,
    remove() {
      for (const k of keys) rmSync(join(recordsDir, keyToFileName(k)), { force: true });
      const t = readTable(dataDir).table;
      if (!t) return;
      t.blocks = t.blocks.filter((b) => !ids.has(b[1]));
      t.explicit = t.explicit.filter((x) => !ids.has(x[1]));
      writeTable(dataDir, t);
    },
  };
}

/** Paths of files opened by a process traced with `strace -f -e trace=open,openat -o log`. */
export function openedPaths(straceLog: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(straceLog, 'utf8').split('\n')) {
    const m = /open(?:at)?\((?:[^,]+, )?"([^"]*)"/.exec(line);
    if (m && !/= -1 /.test(line)) out.push(m[1]!);
  }
  return out;
}

/** Directories a process traced with `strace -y -e trace=getdents64` listed. */
export function listedDirs(straceLog: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(straceLog, 'utf8').split('\n')) {
    const m = /getdents64\(\d+<([^>]*)>/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
