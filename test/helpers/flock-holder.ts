// A lock held by another process, as a plugin busy in a delegate holds it: flock(1) with
// --no-fork, so the holder is that very process (it starts no other) and killing it by pid
// releases the lock.
import { spawn, spawnSync } from 'node:child_process';

export interface HeldLock {
  /** Ends the holder (by its pid) and waits until the lock is free. */
  release(): Promise<void>;
}

/** Holds an exclusive flock on `lockPath` (created if missing) for up to `seconds`; resolves once it is held. */
export async function holdFlock(lockPath: string, seconds = 30): Promise<HeldLock> {
  const child = spawn('flock', ['-x', '--no-fork', lockPath, 'sleep', String(seconds)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const release = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 5000;
  while (spawnSync('flock', ['-n', lockPath, 'true']).status === 0) {
    if (Date.now() > deadline) {
      await release();
      throw new Error(`flock(1) never took ${lockPath}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { release };
}
