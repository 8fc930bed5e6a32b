// The 'clone' engine (x86-64): ONE exec-free child holds both namespaces. It is cloned with
// CLONE_NEWUSER|CLONE_VM|CLONE_PIDFD straight into a ~140-byte routine (clone-holder.x86_64.S):
// it closes its fds, sets PR_SET_PDEATHSIG, waits on a futex until we wrote its maps, does
// unshare(CLONE_NEWNET) as uid 0 of its user namespace, reports through a shared page and
// sleeps (expiring by itself). No exec, no second process: the cheapest correct order.
import { performance } from '../sys/clock';
import { errnoName } from '../sys/errno';
import { CniError, ErrorCode } from '../cni/errors';
import { type Holder, type NamespaceEngine, killAndReap } from './holder';
import { CLONE_NEWUSER, CLONE_VM, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE, cloneChild, mmapAnonymous, mprotect, nativeView, pidfdAlive, rawSyscall } from './syscalls';

/**
 * The bytes `as --64` + `objcopy -O binary -j .text` make of src/ns/clone-holder.x86_64.S
 * (test/ns/clone-holder-bytes.test.ts assembles it and compares, here and in the built files).
 * One literal, so the bundle keeps it as it is.
 */
export const HOLDER_X86_64 =
  '4989fc31ffbeffffffff31d2b8b40100000f05bf01000000be09000000b89d0000000f05418b042485c0751b4c89e731f631d24d8d542410b8ca0000000f054883f8927440ebddbf00000040b8100100000f0585c07505b8010000004189442404498d7c2404be01000000ba01000000b8ca0000000f05498d7c241031f6b8230000000f0531ffb8e70000000f05f4';

const SYS_futex = 202;
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const PAGE = 4096;
// The shared page's layout (see the .S file): +0 go, +4 result, +16 struct timespec timeout.
const GO = 0;
const RESULT = 1; // int32 index
const TIMEOUT_SEC = 2; // int64 index (+16)
const TIMEOUT_NSEC = 3;

interface Routine {
  code: bigint;
  page: bigint;
  i32: Int32Array;
  i64: BigInt64Array;
}
let routine: Routine | null | undefined;

/** The routine mapped executable and its shared page, once per process; null where unsupported. */
function loadRoutine(): Routine | null {
  if (routine !== undefined) return routine;
  routine = null;
  if (process.arch !== 'x64' || process.platform !== 'linux') return routine;
  const code = mmapAnonymous(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  if (code === undefined) return routine;
  new Uint8Array(nativeView(code, PAGE)).set(Buffer.from(HOLDER_X86_64, 'hex'));
  // W^X: never writable and executable at once.
  if (!mprotect(code, PAGE, PROT_READ | PROT_EXEC)) return routine;
  const page = mmapAnonymous(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED);
  if (page === undefined) return routine;
  const view = nativeView(page, PAGE);
  routine = { code, page, i32: new Int32Array(view), i64: new BigInt64Array(view) };
  return routine;
}

/** Can this process run the clone engine (x86-64, an executable mapping allowed)? */
export function cloneEngineSupported(): boolean {
  return loadRoutine() !== null;
}

function fail(msg: string): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg);
}

/** 0 while pending, 1 when the netns exists, -errno when unshare failed; waits up to waitMs. */
function resultWithin(r: Routine, waitMs: number): number {
  const now = Atomics.load(r.i32, RESULT);
  if (now !== 0) return now;
  const ts = Buffer.alloc(16);
  ts.writeBigInt64LE(BigInt(Math.floor(Math.min(waitMs, 999) * 1e6)), 8);
  rawSyscall(SYS_futex, 'void *', r.page + 4n, 'int', FUTEX_WAIT, 'int', 0, 'void *', ts);
  return Atomics.load(r.i32, RESULT);
}

export function cloneEngine(opts: { holderSeconds: number; timeoutMs: number }): NamespaceEngine {
  let holder: Holder | undefined;
  return {
    name: 'clone',
    startUserns() {
      const r = loadRoutine();
      if (!r) throw fail(`engine 'clone' is not supported on ${process.arch}`);
      r.i32[GO] = 0;
      r.i32[RESULT] = 0;
      r.i64[TIMEOUT_SEC] = BigInt(opts.holderSeconds);
      r.i64[TIMEOUT_NSEC] = 0n;
      holder = { ...cloneChild(r.code, CLONE_NEWUSER | CLONE_VM, r.page, 'exec-free holder'), what: 'namespace holder' };
      return holder;
    },
    startNetns(userns) {
      const r = loadRoutine()!;
      // The maps are written: let the holder unshare its netns.
      Atomics.store(r.i32, GO, 1);
      rawSyscall(SYS_futex, 'void *', r.page, 'int', FUTEX_WAKE, 'int', 1);
      const deadline = performance.now() + opts.timeoutMs;
      for (;;) {
        const res = resultWithin(r, 2);
        if (res === 1) return userns;
        if (res < 0) throw fail(`unshare(CLONE_NEWNET) inside the new user namespace failed: ${errnoName(-res)}`);
        if (!pidfdAlive(userns.pidfd)) throw fail(`namespace holder ${userns.pid} died before creating the netns`);
        if (performance.now() > deadline) throw fail(`namespace holder ${userns.pid} did not create a netns within ${opts.timeoutMs} ms`);
      }
    },
    end() {
      killAndReap(holder);
    },
  };
}
