// Where the run-time caches live (koffi's addon, V8's code cache). Native code and code caches
// are loaded only from here, and only through the trusted-filesystem layer (trusted-fs.ts): a
// real directory, root's, that no one else can write, with trustworthy ancestors.
export const DEFAULT_CACHE_DIR = '/var/cache/userns-netns';

export function cacheDir(): string {
  return process.env.USERNS_NETNS_CACHE_DIR || DEFAULT_CACHE_DIR;
}
