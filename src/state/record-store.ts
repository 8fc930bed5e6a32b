// One JSON file per attachment, under <dataDir>/records/, plus per-attachment lock files
// under <dataDir>/locks/. The store knows nothing about what a record contains: the
// caller passes a type guard, and everything that does not parse or does not pass it
// comes back as a CorruptRecord instead of an exception, because DEL must treat a
// damaged record as "missing, clean up what we can" rather than fail forever.
//
// Layout (dirs 0700, files 0600, all owned by root):
//   <dataDir>/records/<network>+<containerId>+<ifname>.json
//   <dataDir>/records-tmp/.<record file name>.<pid>.<random>.tmp   (in-flight writes)
//   <dataDir>/locks/<network>+<containerId>+<ifname>.lock
// Separate subdirectories so other state (allocations, caches) can live in dataDir
// without list() mistaking it for records, and so lock files, which outlive records
// briefly, never look like records.
import path from 'node:path';
import fs from 'node:fs';
import { CniError, ErrorCode, LockTimeoutError, combineErrors } from '../cni/errors';
import { checkPrivateDir, ensurePrivateDir, isTempName, isTempNameOf, readFileNoFollow, removeFileDurable, writeFileAtomic } from './atomic-file';
import { type LockHandle, type LockOptions, isReadOnlyFs, unlockedHandle, withLock } from './lock';
import { type AttachmentKey, fileNameToKey, keyToFileName } from './names';

export type { AttachmentKey } from './names';

/** A record file that exists but cannot be used. `error` says why, for logs and errors. */
export class CorruptRecord {
  readonly corrupt = true as const;
  constructor(
    readonly file: string,
    readonly error: string,
  ) {}
}

export function isCorrupt(x: unknown): x is CorruptRecord {
  return x instanceof CorruptRecord;
}

export interface ListEntry<T> {
  key: AttachmentKey;
  record: T | CorruptRecord;
}

export interface RecordStoreOptions<T> {
  /** Shape check for records read back (and written, to catch our own bugs early). */
  validate?: (x: unknown) => x is T;
}

const RECORD_SUFFIX = '.json';
const LOCK_SUFFIX = '.lock';

export class RecordStore<T> {
  readonly recordsDir: string;
  /** Temp files of record writes: ADD and DEL sweep their own leftovers without listing every record. */
  readonly tempDir: string;
  readonly locksDir: string;
  readonly #validate: ((x: unknown) => x is T) | undefined;
  // Directory checks done once per store: a plugin run makes a handful of calls, and the
  // directories are root-only, so re-checking each time buys nothing.
  #recordsReady = false;
  #tempReady = false;
  #locksReady = false;

  constructor(
    readonly dataDir: string,
    opts: RecordStoreOptions<T> = {},
  ) {
    this.recordsDir = path.join(dataDir, 'records');
    this.tempDir = path.join(dataDir, 'records-tmp');
    this.locksDir = path.join(dataDir, 'locks');
    this.#validate = opts.validate;
  }

  /** Absolute path of the record file for `key` (for messages and tests). */
  fileFor(key: AttachmentKey): string {
    return path.join(this.recordsDir, keyToFileName(key));
  }

  /** Writes (or replaces) the record durably: once put() returns, it survives a power cut. */
  put(key: AttachmentKey, record: T): void {
    const name = keyToFileName(key);
    if (this.#validate && !this.#validate(record)) {
      throw new CniError(ErrorCode.Internal, `refusing to store a record that fails validation for ${name}`);
    }
    if (!this.#recordsReady) {
      this.#ensureDataDir();
      ensurePrivateDir(this.recordsDir);
      this.#recordsReady = true;
    }
    if (!this.#tempReady) {
      ensurePrivateDir(this.tempDir);
      this.#tempReady = true;
    }
    writeFileAtomic(this.recordsDir, name, `${JSON.stringify(record)}\n`, this.tempDir);
  }

  /** The record, undefined when there is none, or a CorruptRecord. I/O errors still throw. */
  get(key: AttachmentKey): T | undefined | CorruptRecord {
    const name = keyToFileName(key);
    if (!this.#recordsDirExists()) return undefined;
    return this.#read(name);
  }

  /** Removes the record durably. false when there was none. */
  delete(key: AttachmentKey): boolean {
    const name = keyToFileName(key);
    if (!this.#recordsDirExists()) return false;
    this.sweepTemp(key);
    return removeFileDurable(this.recordsDir, name);
  }

  /**
   * Removes this key's temp files left by a writer killed between create and rename. Call it
   * holding the key's lock: then no live writer of this key can own one.
   */
  sweepTemp(key: AttachmentKey): void {
    if (!this.#recordsDirExists() || !this.#tempDirExists()) return;
    const recordName = keyToFileName(key);
    for (const name of fs.readdirSync(this.tempDir)) {
      if (isTempNameOf(recordName, name)) removeFileDurable(this.tempDir, name);
    }
  }

  #tempDirExists(): boolean {
    if (!this.#tempReady) this.#tempReady = checkPrivateDir(this.tempDir);
    return this.#tempReady;
  }

  /** Every record in the store, corrupt ones included, each read once. Temp and foreign files are skipped. */
  list(): ListEntry<T>[] {
    const out: ListEntry<T>[] = [];
    for (const { key, name } of this.#names()) {
      const record = this.#read(name);
      if (record !== undefined) out.push({ key, record }); // undefined: removed meanwhile
    }
    return out;
  }

  /** The keys that have a record file, from the directory listing alone: no record is read. */
  keys(): AttachmentKey[] {
    return this.#names().map((n) => n.key);
  }

  #names(): Array<{ key: AttachmentKey; name: string }> {
    if (!this.#recordsDirExists()) return [];
    let names: string[];
    try {
      names = fs.readdirSync(this.recordsDir);
    } catch (err) {
      throw new CniError(ErrorCode.IoFailure, `cannot list ${this.recordsDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    const out: Array<{ key: AttachmentKey; name: string }> = [];
    for (const name of names.sort()) {
      if (isTempName(name)) continue;
      const key = fileNameToKey(name);
      if (key) out.push({ key, name });
    }
    return out;
  }

  /** Lock file path for `key`; creates the locks directory on first use. */
  lockFor(key: AttachmentKey): string {
    const name = keyToFileName(key).slice(0, -RECORD_SUFFIX.length) + LOCK_SUFFIX;
    if (!this.#locksReady) {
      this.#ensureDataDir();
      ensurePrivateDir(this.locksDir);
      this.#locksReady = true;
    }
    return path.join(this.locksDir, name);
  }

  /**
   * withLock() on this attachment's lock file. A lock file lives only as long as its record:
   * when `fn` leaves no record behind (DEL done, DEL or CHECK of a key never added, an ADD
   * that failed before its first journal write), the file goes at release, still under the
   * lock. Waiters holding the unlinked file notice and start over (lock.ts: stillAtPath).
   */
  async withLock<R>(key: AttachmentKey, opts: LockOptions, fn: (lock: LockHandle) => Promise<R> | R): Promise<R> {
    let lockPath: string;
    try {
      lockPath = this.lockFor(key);
    } catch (err) {
      // The locks directory cannot even be created: a read-only data dir (see unlockedIfReadOnly).
      if (opts.unlockedIfReadOnly && isReadOnlyFs(err)) return await fn(unlockedHandle(path.join(this.locksDir, '(none)')));
      throw err;
    }
    return withLock(lockPath, opts, async (lock) => {
      try {
        return await fn(lock);
      } finally {
        if (!this.#hasRecordFile(key)) lock.removeOnRelease();
      }
    });
  }

  /**
   * GC: removes lock files of keys that have no record (left by older versions, or by a
   * plugin killed while holding one). Each under its own lock, taken with one try: a lock
   * someone holds is theirs to clean. Names that are not lock files of ours are left alone;
   * one that cannot be locked is reported (the first error's code) after the rest are swept.
   */
  async sweepLocks(): Promise<number> {
    let names: string[];
    try {
      names = fs.readdirSync(this.locksDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new CniError(ErrorCode.IoFailure, `cannot list ${this.locksDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    let removed = 0;
    const refused: unknown[] = [];
    for (const name of names) {
      if (!name.endsWith(LOCK_SUFFIX)) continue;
      const key = fileNameToKey(name.slice(0, -LOCK_SUFFIX.length) + RECORD_SUFFIX);
      if (!key || this.#hasRecordFile(key)) continue;
      try {
        await this.withLock(key, { timeoutMs: 0 }, () => {});
        if (!fs.existsSync(path.join(this.locksDir, name))) removed++;
      } catch (err) {
        // Held: its holder's to clean. Refused (a symlink or a FIFO planted at the name): not a
        // lock file of ours, so it stays; the others are still swept, then it is reported.
        if (!(err instanceof LockTimeoutError)) refused.push(err);
      }
    }
    const failed = combineErrors(refused);
    if (failed) throw failed;
    return removed;
  }

  // The data dir itself is checked, not only our subdirectories: ensurePrivateDir trusts
  // pre-existing ancestors, and a data dir replaced by a symlink must not redirect us.
  #ensureDataDir(): void {
    ensurePrivateDir(this.dataDir);
  }

  /** Is there a record file (readable or not) for `key`? An error counts as yes: keep the lock. */
  #hasRecordFile(key: AttachmentKey): boolean {
    try {
      fs.lstatSync(path.join(this.recordsDir, keyToFileName(key)));
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }

  #recordsDirExists(): boolean {
    if (this.#recordsReady) return true;
    // Refuses a symlinked/foreign/writable directory even for reads: a record read from a
    // directory someone else controls would steer DEL into deleting the wrong things.
    this.#recordsReady = checkPrivateDir(this.dataDir) && checkPrivateDir(this.recordsDir);
    return this.#recordsReady;
  }

  #read(name: string): T | undefined | CorruptRecord {
    const file = path.join(this.recordsDir, name);
    let buf: Buffer | undefined;
    try {
      buf = readFileNoFollow(file);
    } catch (err) {
      // A symlink or a non-regular file where a record belongs: unusable, not fatal.
      // DEL will delete() it, and unlink removes the link, never its target.
      if (err instanceof CniError && err.code === ErrorCode.StateFailure) return new CorruptRecord(file, err.message);
      throw err;
    }
    if (buf === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      return new CorruptRecord(file, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.#validate ? !this.#validate(parsed) : typeof parsed !== 'object' || parsed === null) {
      return new CorruptRecord(file, 'does not have the shape of a record');
    }
    return parsed as T;
  }
}
