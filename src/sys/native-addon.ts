// Loads koffi's native addon carried inside the single-file bundle. The addon is written once
// to a content-hash-named file in a root-only cache directory and loaded from there: native
// code is never loaded from a directory anyone else can write to, and a symlink planted at the
// cache path is never followed. The bytes (gzip, base64) sit in a trailing comment of the
// bundle (or are an asset of the self-contained executable), read only when the cache file is
// missing.
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { ensurePrivateDir, trustedFileSize, writeFileAtomic } from './trusted-fs';

export interface BundlePayload {
  /** The addon's bytes, read from the artifact on demand (only on a cache miss). */
  addon(): Buffer;
}

declare global {
  // Set by the launcher (src/sys/launcher.ts) before the bundled code runs.
  var __USERNS_NETNS_PAYLOAD__: BundlePayload | undefined;
}

export function loadEmbeddedAddon(sha256: string, size: number): unknown {
  try {
    return loadFromCache(sha256, size);
  } catch (err) {
    // koffi swallows this error and reports only "Cannot find the native Koffi module":
    // keep ours where src/sys/libc.ts can say what really went wrong.
    addonError = err as Error;
    throw err;
  }
}

let addonError: Error | undefined;

/** Why the embedded addon could not be loaded, if it could not. */
export function embeddedAddonError(): Error | undefined {
  return addonError;
}

function loadFromCache(sha256: string, size: number): unknown {
  const dir = cacheDir();
  const name = `koffi-${sha256.slice(0, 32)}.node`;
  const path = join(dir, name);
  ensurePrivateDir(dir);
  if (trustedFileSize(path) !== size) {
    const payload = globalThis.__USERNS_NETNS_PAYLOAD__;
    if (!payload) throw new Error('native addon: no payload (not running from the single-file bundle)');
    writeFileAtomic(dir, name, payload.addon());
  }
  const mod = { exports: {} as unknown };
  process.dlopen(mod, path);
  return mod.exports;
}
