// An attachment context in process, for the tests of one attachment step on its own: a private
// data dir, copies of the logging delegate (fixtures/logging-delegate.sh) under the names the
// config lists, a record builder, and a log that keeps its events. Pins come from
// test/helpers/ns-util.ts (this process's own pin dirs).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contextFor, openStore, type AttachmentContext } from '../../../src/attachment/context';
import { parseInvocation } from '../../../src/config/invocation';
import type { AttachmentRecord, NamespaceRef } from '../../../src/generated/types';
import type { Logger } from '../../../src/log/logger';
import { currentBootId } from '../../../src/state/boot-id';
import { keyToFileName, type AttachmentKey } from '../../../src/state/names';
import { USER_DIR } from '../../helpers/ns-util';
import { removeDir, tempDir } from '../../helpers/temp';
import { uniqueName } from '../../helpers/unique';

const DELEGATE = join(import.meta.dirname, '..', 'fixtures', 'logging-delegate.sh');

export interface LoggedEvent {
  level: 'error' | 'info';
  event: string;
  fields?: Record<string, unknown>;
}

export function captureLog(): Logger & { events: LoggedEvent[] } {
  const events: LoggedEvent[] = [];
  return {
    events,
    error: (event: string, fields?: Record<string, unknown>) => void events.push({ level: 'error', event, fields }),
    info: (event: string, fields?: Record<string, unknown>) => void events.push({ level: 'info', event, fields }),
    debug: () => {},
    step: () => () => 0,
    bind: () => {},
    close: () => {},
  } as Logger & { events: LoggedEvent[] };
}

export interface Fixture {
  dir: string;
  dataDir: string;
  bin: string;
  network: string;
  /** A context for a fresh attachment (its own container id) of this network; `conf` overrides config keys. */
  context(containerId?: string, conf?: Record<string, unknown>): AttachmentContext & { log: ReturnType<typeof captureLog> };
  /** Each delegate call so far: "<name> <command> netns=<CNI_NETNS> prev=<yes|no>". */
  calls(): string[];
  failDel(name: string, on: boolean): void;
  recordFile(key: AttachmentKey): string;
  cleanup(): void;
}

/** A network whose config lists the logging delegates `names`, in that order (and has `extra`). */
export function fixture(names: string[], extra: Record<string, unknown> = {}): Fixture {
  const dir = tempDir('attach');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const n of names) {
    copyFileSync(DELEGATE, join(bin, n));
    chmodSync(join(bin, n), 0o755);
  }
  const network = uniqueName('uxa');
  const dataDir = join(dir, 'data');
  const conf = { cniVersion: '1.0.0', name: network, type: 'userns-netns', dataDir, usernsPinDir: USER_DIR, delegates: names.map((type) => ({ type })), ...extra };
  const f: Fixture = {
    dir,
    dataDir,
    bin,
    network,
    context(containerId = uniqueName('uxc'), override = {}) {
      const env = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: containerId, CNI_IFNAME: 'eth0', CNI_PATH: bin, CNI_NETNS: '' };
      const inv = parseInvocation('DEL', env, Buffer.from(JSON.stringify({ ...conf, ...override })));
      const log = captureLog();
      return contextFor(inv, { network, containerId, ifname: 'eth0' }, log, openStore(dataDir)) as AttachmentContext & { log: typeof log };
    },
    calls() {
      const log = join(bin, 'calls.log');
      return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    },
    failDel(name, on) {
      const flag = join(bin, `fail-del-${name}`);
      if (on) writeFileSync(flag, '');
      else rmSync(flag, { force: true });
    },
    recordFile(key) {
      return join(dataDir, 'records', keyToFileName(key));
    },
    cleanup() {
      removeDir(dir);
    },
  };
  return f;
}

/** A record of this boot for `ctx`'s attachment: ready, no delegates, the given pins. */
export function recordFor(ctx: AttachmentContext, netns: NamespaceRef, userns: NamespaceRef, extra: Partial<AttachmentRecord> = {}): AttachmentRecord {
  const now = new Date().toISOString();
  return { schemaVersion: 1, ...ctx.key, cniVersion: '1.0.0', mode: 'create', phase: 'ready', bootId: currentBootId(), createdAt: now, updatedAt: now, netns, userns, delegates: [], ...extra };
}
