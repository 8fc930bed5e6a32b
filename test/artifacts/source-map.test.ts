// A debuggable artifact: each artifact's source map lies beside it (<artifact>.map), not inside
// it; a stack of a failed call maps back to src/*.ts lines with build/stack-to-source.mjs; and
// every call's 'start' log line names the code hash of the build that ran, the one its map records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withNet } from '../helpers/host';
import { ARTIFACTS, CNI_BIN, PLUGIN, REPO, runPlugin } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';

const ALL = { ...ARTIFACTS, arm64: join(REPO, 'dist', 'userns-netns-linux-arm64') };
const TOOL = join(REPO, 'build', 'stack-to-source.mjs');

interface MapFile {
  version: number;
  sources: string[];
  sourcesContent?: string[];
  mappings: string;
  x_userns_netns_code_hash?: string;
}
const readMap = (artifact: string): MapFile => JSON.parse(readFileSync(`${artifact}.map`, 'utf8'));

/** The 1-based line of the one line of `file` (a repository path) containing `text`. */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(text) ? [i + 1] : []));
  assert.is(hits.length, 1, `${text} once in ${file}`);
  return hits[0]!;
}

function toSource(mapArg: string, stack: string) {
  return spawnSync(process.execPath, [TOOL, mapArg], { input: stack, encoding: 'utf8' });
}

test('every artifact has its source map beside it, for its own code, not inlined', () => {
  const script = readFileSync(ARTIFACTS.script, 'latin1');
  assert.not.match(script, /sourceMappingURL/, 'no map reference in the Node-script file');
  for (const [name, artifact] of Object.entries(ALL)) {
    assert.ok(existsSync(`${artifact}.map`), `${name}: ${artifact}.map`);
    const map = readMap(artifact);
    assert.is(map.version, 3);
    assert.ok(
      map.sources.some((s) => s.endsWith('src/commands/add.ts')),
      `${name}: maps src/`,
    );
    assert.match(map.x_userns_netns_code_hash ?? '', /^[0-9a-f]{32}$/);
    // The map's own bytes are nowhere in the artifact (a long run of its mappings would be).
    const probe = map.mappings.slice(1000, 1100);
    assert.is(probe.length, 100);
    assert.not.ok(readFileSync(artifact).includes(probe), `${name}: the map is not inside the artifact`);
  }
  // The Node-script file and the amd64 executable carry the same code: one map fits both.
  assert.is(readMap(ARTIFACTS.script).x_userns_netns_code_hash, readMap(ARTIFACTS.sea).x_userns_netns_code_hash);
  assert.is.not(readMap(ALL.arm64).x_userns_netns_code_hash, readMap(ARTIFACTS.sea).x_userns_netns_code_hash, 'arm64 code names its own addon');
});

test("a failed ADD's stack maps back to the failpoint and the ADD step in src/", async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const r = net.run('ADD', a, net.conf(), { USERNS_NETNS_FAILPOINTS: 'add-after-allocation=fail' });
    assert.is(r.json?.code, 999, r.stdout);
    const hash = readMap(PLUGIN).x_userns_netns_code_hash!;
    assert.ok(r.stderr.includes(`(userns-netns#code-${hash}:`), `frames name the build: ${r.stderr}`);
    const mapped = toSource(PLUGIN, r.stderr);
    assert.is(mapped.status, 0, mapped.stderr);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source line itself, searched for as text
    const throwLine = lineOf('src/attachment/failpoints.ts', 'throw new CniError(ErrorCode.Internal, `failpoint ${name}`)');
    // The journal step that passes the failpoint, and cmdAdd's step that calls it.
    const journalLine = lineOf('src/attachment/journal.ts', "failpoint('add-after-allocation')");
    const stepLine = lineOf('src/commands/add.ts', 'journal.idsTaken()');
    // The first frame is the throw, with the source line itself printed under it.
    const frames = mapped.stdout.split('\n').filter((l) => /^\s+at /.test(l));
    assert.ok(frames[0]!.includes(`src/attachment/failpoints.ts:${throwLine}:`), mapped.stdout);
    assert.match(mapped.stdout, new RegExp(`src/attachment/failpoints\\.ts:${throwLine}:\\d+\\)?\\n\\s+if \\(action === 'fail'\\) throw new CniError`));
    assert.ok(
      frames.some((f) => f.includes(`src/attachment/journal.ts:${journalLine}:`)),
      mapped.stdout,
    );
    assert.ok(
      frames.some((f) => f.includes(`src/commands/add.ts:${stepLine}:`)),
      mapped.stdout,
    );
    assert.not.match(mapped.stdout, /#code-/, 'every frame of our code mapped');
  });
});

test('a frame of another build is left as it is, noted, and exits 1', () => {
  const map = readMap(PLUGIN);
  const other = map.x_userns_netns_code_hash!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const frame = `    at Ml (userns-netns#code-${other}:2:1000)`;
  const r = toSource(`${PLUGIN}.map`, `Error: x\n${frame}\n`);
  assert.is(r.status, 1);
  assert.ok(r.stdout.includes(frame), r.stdout);
  assert.match(r.stdout, 'another build than this map');
  assert.match(r.stderr, 'another build');
});

test('the start line of every verb carries the code hash the build recorded in the map', () => {
  const base = join('/run', uniqueName('uxmap')); // root-only: a valid log and cache directory
  mkdirSync(base, { mode: 0o700 });
  try {
    const logFile = join(base, 'calls.log');
    const cacheDir = join(base, 'cache');
    const conf = { cniVersion: '1.1.0', name: uniqueName('mapnet'), type: 'userns-netns', dataDir: join(base, 'data'), netnsPinDirs: [], logFile, delegates: [{ type: 'bridge' }] };
    const env = { CNI_CONTAINERID: uniqueName('c'), CNI_IFNAME: 'eth0', CNI_NETNS: join(base, 'no-such-netns'), CNI_PATH: CNI_BIN, USERNS_NETNS_CACHE_DIR: cacheDir };
    // None of them makes anything: DEL and GC of nothing, CHECK of an unknown attachment,
    // STATUS, and an ADD refused (create mode off, nothing at CNI_NETNS).
    const codes = ['DEL', 'CHECK', 'GC', 'STATUS', 'ADD'].map((verb) => runPlugin({ ...env, CNI_COMMAND: verb }, conf).json?.code);
    assert.equal(codes, [undefined, 3, undefined, undefined, 4]);
    const starts = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.event === 'start');
    const hash = readMap(PLUGIN).x_userns_netns_code_hash;
    assert.equal(
      starts.map((s) => s.command),
      ['DEL', 'CHECK', 'GC', 'STATUS', 'ADD'],
    );
    for (const s of starts) assert.is(s.codeHash, hash, `${s.command}: ${JSON.stringify(s)}`);
    // The hash the launcher runs under: its code caches are named by it.
    const caches = readdirSync(cacheDir).filter((f) => f.startsWith('code-'));
    assert.ok(caches.length > 0 && caches.every((f) => f.startsWith(`code-${hash}-`)), caches.join(' '));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
