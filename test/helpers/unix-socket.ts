// A unix socket inode nobody listens on, where a state file belongs (a socket fails open() with
// ENXIO, before any fstat). Node unlinks the path it listened on when it closes; a hard link
// made while it listened stays behind.
import { linkSync, lstatSync } from 'node:fs';
import net from 'node:net';

export async function socketAt(at: string): Promise<void> {
  const bound = `${at}.bound`;
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(bound, resolve));
  try {
    linkSync(bound, at);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  if (!lstatSync(at).isSocket()) throw new Error(`${at}: not a socket`);
}
