// What the two namespace engines have in common: the processes that hold a new user namespace
// and the netns it owns until both are pinned, and how the shared order in create.ts drives
// them. The engines: clone-holder.ts (x86-64, one exec-free child) and exec-holder.ts (every
// architecture: a clone(sleep) child plus nsenter/unshare).
import { closeSync } from 'node:fs';
import { pidfdKill, pidfdReap } from './syscalls';

/** A child process of ours, with the pidfd that ends and reaps it without pid-reuse races. */
export interface Holder {
  pid: number;
  pidfd: number;
  what: string;
}

export type EngineName = 'clone' | 'exec';

export interface NamespaceEngine {
  readonly name: EngineName;
  /** clone(CLONE_NEWUSER) a child that holds the new user namespace; its maps are not written yet. */
  startUserns(): Holder;
  /**
   * Once the maps are written: a process that is uid 0 in that user namespace, in a new netns it
   * made, which therefore that user namespace owns. Returns the process whose /proc/<pid>/ns/net
   * is the new netns (for the clone engine the user namespace holder itself).
   */
  startNetns(userns: Holder, usernsFd: number): Holder;
  /** SIGKILLs and reaps every process it started; safe to call more than once. */
  end(): void;
}

/** SIGKILL and reap a child through its pidfd, then forget the pidfd. */
export function killAndReap(h: Holder | undefined): void {
  if (!h || h.pidfd < 0) return;
  pidfdKill(h.pidfd);
  pidfdReap(h.pidfd);
  closeSync(h.pidfd);
  h.pidfd = -1;
}
