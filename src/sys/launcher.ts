// The first code that runs, in both artifacts. In the Node-script file the plugin's real code
// sits in a trailing comment of this same file, so Node's loader only parses this small launcher;
// in a self-contained executable (a Node single executable application, __SEA__) the code and
// the addon are assets of the binary. Either way
// the launcher compiles the real code with V8's code cache, kept in the root-only cache
// directory. Node starts every CNI call afresh, and compiling ~300 KB of JavaScript each
// time cost more than everything else the plugin does before its first delegate runs.
import { closeSync, openSync, readFileSync, readSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { performance } from './clock';
import { cacheDir } from './cache-dir';
import { ensurePrivateDir, readTrustedFile, writeFileAtomic } from './trusted-fs';
import { relayToHelper } from '../helper/shim';

declare const __CODE_HASH__: string;
/** Built for a single executable application (code and addon are SEA assets). */
declare const __SEA__: boolean;
/** Byte offset of the end of the code section (patched in at build time), as a padded number. */
declare const __CODE_END__: string;

const CODE_MARKER = '\n//@@userns-netns:code\n';
const ADDON_MARKER = '\n//@@userns-netns:addon\n';
const END_MARKER = '\n//@@userns-netns:end\n';

function section(self: string, from: string, to: string): string {
  // The last occurrences: this launcher's own text holds the markers too, as literals.
  const a = self.lastIndexOf(from);
  const b = self.lastIndexOf(to);
  if (a < 0 || b < a) throw new Error(`userns-netns: the bundle file is damaged (${from.trim()} missing)`);
  // Every line of a section was commented out with a leading "//" at build time. (split/slice:
  // cheaper than a multiline regex over ~300 KB, and this runs on every call.)
  const lines = self.slice(a + from.length, b).split('\n');
  for (let i = 0; i < lines.length; i++) lines[i] = lines[i]!.slice(2);
  return lines.join('\n');
}

const VERBS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

/** Caches of other builds or Node versions only take space: drop them when writing ours. */
function removeStaleCaches(dir: string, keep: string): void {
  const ours = `code-${__CODE_HASH__}-${process.version}-`;
  for (const f of readdirSync(dir)) {
    if (f.startsWith('code-') && f.endsWith('.v8') && !f.startsWith(ours) && f !== keep) rmSync(join(dir, f), { force: true });
  }
}

function codeCache(): { dir: string; name: string; data: Buffer | undefined } | undefined {
  try {
    const dir = cacheDir();
    ensurePrivateDir(dir);
    // One cache per verb: it holds the functions that verb's run compiled, not just the top level.
    const cmd = process.env.CNI_COMMAND ?? '';
    const verb = VERBS.includes(cmd) ? cmd : 'cli';
    const name = `code-${__CODE_HASH__}-${process.version}-${process.arch}-${verb}.v8`;
    return { dir, name, data: readTrustedFile(join(dir, name)) };
  } catch {
    return undefined; // no trusted cache: compile every time, still correct
  }
}

declare global {
  // Start-up marks (ms since process start) for the structured log's "start" line.
  var __USERNS_NETNS_MARKS__: Record<string, number> | undefined;
  // This build's code hash, for the resident helper's handshake (src/helper/serve.ts).
  var __USERNS_NETNS_CODE_HASH__: string | undefined;
}

/** The first `length` bytes of this file as latin1, or undefined when that is not possible. */
function readHead(length: number): string | undefined {
  if (!Number.isSafeInteger(length) || length <= 0) return undefined;
  const fd = openSync(__filename, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let off = 0;
    while (off < length) {
      const n = readSync(fd, buf, off, length - off, off);
      if (n === 0) return undefined; // shorter than the build said: read it all instead
      off += n;
    }
    return buf.toString('latin1', 0, length);
  } finally {
    closeSync(fd);
  }
}

/** The plugin's code, and a way to its addon, from wherever this artifact carries them. */
function payload(): string {
  if (__SEA__) {
    const sea = process.getBuiltinModule('node:sea');
    // getRawAsset: a view of the binary's own bytes, no copy until the string is made.
    globalThis.__USERNS_NETNS_PAYLOAD__ = { addon: () => Buffer.from(sea.getRawAsset('addon') as ArrayBuffer) };
    return Buffer.from(sea.getRawAsset('code') as ArrayBuffer).toString('latin1');
  }
  // latin1: the bundled code and the addon's base64 are ASCII (esbuild charset=ascii), and a
  // one-byte string is decoded and sliced much faster than UTF-8. Only the part up to the end
  // of the code is read; the addon behind it only when its cache file is missing.
  const head = readHead(Number(__CODE_END__));
  const self = head ?? readFileSync(__filename, 'latin1');
  globalThis.__USERNS_NETNS_PAYLOAD__ = {
    addon: () => {
      // zlib only here, on a cache miss: loading it on every call would cost a few ms.
      const b64 = section(readFileSync(__filename, 'latin1'), ADDON_MARKER, END_MARKER).trim();
      return process.getBuiltinModule('node:zlib').gunzipSync(Buffer.from(b64, 'base64'));
    },
  };
  return head ? section(self + ADDON_MARKER, CODE_MARKER, ADDON_MARKER) : section(self, CODE_MARKER, ADDON_MARKER);
}

function launch(): void {
  const marks: Record<string, number> = { launcher: performance.now() };
  globalThis.__USERNS_NETNS_MARKS__ = marks;
  globalThis.__USERNS_NETNS_CODE_HASH__ = __CODE_HASH__;
  const code = payload();
  const cache = codeCache();
  // Its name in stack frames: apart from this launcher's (same file), and naming the build whose
  // source map (<artifact>.map) turns the frames into source lines. No path: a script compiled
  // from V8's code cache keeps the name of the process that wrote the cache, and one cache
  // serves every artifact of this code hash (the Node-script file and the amd64 executable).
  const script = new Script(code, { filename: `userns-netns#code-${__CODE_HASH__}`, cachedData: cache?.data });
  if (cache && (cache.data === undefined || script.cachedDataRejected)) {
    // Written at exit, so the functions this run compiled lazily are in the cache too.
    process.once('exit', () => {
      try {
        writeFileAtomic(cache.dir, cache.name, script.createCachedData());
        removeStaleCaches(cache.dir, cache.name);
      } catch {
        // a cache is only a speed-up
      }
    });
  }
  marks.compiled = performance.now();
  const main = script.runInThisContext() as (e: unknown, r: NodeRequire, m: NodeModule, f: string, d: string) => void;
  main.call(module.exports, module.exports, require, module, __filename, __dirname);
}

// A resident helper, when one runs, answers the call; else (or when it cannot) we do.
const relayed = relayToHelper(__CODE_HASH__);
if (!relayed) launch();
else
  relayed.then(
    (code) => (code === undefined ? launch() : process.exit(code)),
    () => launch(),
  );
