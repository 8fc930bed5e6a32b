// The shim <-> helper protocol on the unix socket: newline-terminated JSON lines.
//   shim -> helper  Hello    {v, hash, env, stdin(base64)}
//   helper -> shim  Accepted {accepted: true, hash} | Refused {accepted: false, reason, hash}
//   shim -> helper  "go"     (only now may the helper run the call)
//   helper -> shim  Answer   {stdout, stderr, code}, then the helper closes
// "go" makes "did the helper start the call?" decidable on the shim's side: before the shim
// sent it, the helper provably did not run anything and the shim may run the call in-process;
// after it, the shim never does (a call relayed to a helper must never run twice).
export const PROTOCOL_VERSION = 1;
export const DEFAULT_SOCKET = '/run/userns-netns/helper.sock';
/** For tests and unusual layouts: the socket the shim looks for (and `serve`'s default). */
export const SOCKET_ENV = 'USERNS_NETNS_HELPER_SOCKET';
export const GO = 'go';

export interface Hello {
  v: number;
  hash: string;
  env: Record<string, string>;
  stdin: string;
}

export type Reply = { accepted: true; hash: string } | { accepted: false; reason: string; hash: string };

export interface Answer {
  stdout: string;
  stderr: string;
  code: number;
}

export function socketPath(env: NodeJS.ProcessEnv): string {
  return env[SOCKET_ENV] || DEFAULT_SOCKET;
}

/** Splits newline-terminated lines off a growing buffer. */
export function lineReader(onLine: (line: string) => void, limit: number): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let size = 0;
  return (chunk) => {
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, i));
      const line = Buffer.concat(pending).toString('utf8');
      pending = [];
      size = 0;
      start = i + 1;
      onLine(line);
    }
    if (start < chunk.length) {
      size += chunk.length - start;
      if (size > limit) throw new Error(`a protocol line is longer than ${limit} bytes`);
      pending.push(chunk.subarray(start));
    }
  };
}
