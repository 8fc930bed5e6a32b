import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeVersions } from '../../src/delegate/probe';
import { binaryIdentity, readCachedVersions } from '../../src/delegate/version-cache';
import { isTempName } from '../../src/sys/trusted-fs';
import { DEBIAN_CNI, calls, installFake, rejectsCni, removeDir, tempDir } from './helpers/kit';

const FAKE_DEFAULT = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

async function withFake(fn: (dir: string, fake: string, cacheDir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('probe');
  try {
    await fn(dir, installFake(dir), join(dir, 'cache'));
  } finally {
    removeDir(dir);
  }
}

test('second probe is answered from the cache without running the binary', () =>
  withFake(async (dir, fake, cacheDir) => {
    assert.equal(await probeVersions(fake, { cacheDir }), FAKE_DEFAULT);
    assert.equal(await probeVersions(fake, { cacheDir }), FAKE_DEFAULT);
    assert.equal(await probeVersions(fake, { cacheDir }), FAKE_DEFAULT);
    assert.equal(calls(dir), ['VERSION']);
    assert.is(statSync(cacheDir).mode & 0o777, 0o700);
    const files = readdirSync(cacheDir);
    assert.is(files.length, 1, 'one entry, no temp files left');
    assert.is(statSync(join(cacheDir, files[0]!)).mode & 0o777, 0o600);
  }));

test('changing the mtime invalidates the entry', () =>
  withFake(async (dir, fake, cacheDir) => {
    await probeVersions(fake, { cacheDir });
    const t = new Date(Date.now() - 3600_000);
    utimesSync(fake, t, t);
    await probeVersions(fake, { cacheDir });
    assert.equal(calls(dir), ['VERSION', 'VERSION']);
    await probeVersions(fake, { cacheDir });
    assert.equal(calls(dir), ['VERSION', 'VERSION'], 'new identity cached again');
  }));

test('a changed binary (new size, same mtime) is probed again and its new answer used', () =>
  withFake(async (dir, fake, cacheDir) => {
    await probeVersions(fake, { cacheDir });
    const { mtime, atime } = statSync(fake);
    appendFileSync(fake, '# changed\n');
    utimesSync(fake, atime, mtime); // cp -p style: mtime restored, size and ctime differ
    writeFileSync(join(dir, 'versions.json'), '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}');
    assert.equal(await probeVersions(fake, { cacheDir }), ['1.0.0', '1.1.0']);
    assert.equal(calls(dir), ['VERSION', 'VERSION']);
  }));

test('a corrupt cache entry is ignored and replaced', () =>
  withFake(async (dir, fake, cacheDir) => {
    await probeVersions(fake, { cacheDir });
    const entry = join(cacheDir, readdirSync(cacheDir)[0]!);
    for (const junk of ['{"format":1,"versions":', '', 'null', '{"format":1,"versions":[1,2]}']) {
      writeFileSync(entry, junk);
      assert.equal(await probeVersions(fake, { cacheDir }), FAKE_DEFAULT);
    }
    assert.is(calls(dir).length, 5);
    assert.equal(readCachedVersions(cacheDir, binaryIdentity(fake)!), FAKE_DEFAULT, 'rewritten valid');
  }));

test('no cache dir: always probes; untrusted cache dir: not used', () =>
  withFake(async (dir, fake, cacheDir) => {
    await probeVersions(fake);
    await probeVersions(fake);
    assert.is(calls(dir).length, 2);
    await probeVersions(fake, { cacheDir });
    chmodSync(cacheDir, 0o777);
    await probeVersions(fake, { cacheDir });
    assert.is(calls(dir).length, 4, 'a world-writable cache dir is never trusted');
  }));

test("legacy answers decoded as Go's PluginDecoder does", () =>
  withFake(async (dir, fake) => {
    writeFileSync(join(dir, 'versions.json'), '{"cniVersion":"0.2.0"}');
    assert.equal(await probeVersions(fake), ['0.1.0', '0.2.0']);
    writeFileSync(join(dir, 'no-version-command'), '');
    assert.equal(await probeVersions(fake), ['0.1.0']);
  }));

test('unusable VERSION answers: clear errors', () =>
  withFake(async (dir, fake, cacheDir) => {
    writeFileSync(join(dir, 'versions.json'), 'nonsense');
    const e = await rejectsCni(probeVersions(fake, { cacheDir }));
    assert.is(e.code, 6);
    assert.match(e.message, /plugin "fake" answered VERSION with output that is not JSON: "nonsense"/);
    writeFileSync(join(dir, 'versions.json'), '{"cniVersion":"1.0.0"}');
    assert.match((await rejectsCni(probeVersions(fake, { cacheDir }))).message, /without a supportedVersions list/);
    assert.equal(readdirSync(cacheDir), [], 'failures are not cached');
  }));

test('concurrent writers from several processes never leave a torn entry', async () => {
  const dir = tempDir('race');
  try {
    const cacheDir = join(dir, 'cache');
    const binary = join(dir, 'bin');
    const entryId = { path: binary, dev: '1', ino: '2', size: '3', mtimeNs: '4', ctimeNs: '5' };
    const { mkdirSync } = await import('node:fs');
    mkdirSync(cacheDir, { mode: 0o700 });
    const worker = join(import.meta.dirname, 'helpers', 'write-race.ts');
    const procs = ['a', 'bb', 'ccc'].map((tag) => new Promise<number | null>((ok) => spawn(process.execPath, ['--import', 'tsx', worker, cacheDir, binary, tag, '400'], { stdio: 'ignore' }).on('exit', ok)));
    let running = true;
    void Promise.all(procs).then(() => (running = false));
    let reads = 0;
    let hits = 0;
    while (running) {
      // Every read sees a complete entry of one writer, or (before the first write) none.
      const got = readCachedVersions(cacheDir, entryId);
      if (got) {
        hits++;
        assert.ok(/^(a|bb|ccc)\.0\.\d+$/.test(got[0]!), got[0]);
        assert.ok(
          got.every((v) => v === got[0]),
          'one writer per entry',
        );
      } else {
        const files = readdirSync(cacheDir).filter((f) => !isTempName(f)); // a writer's file in flight
        for (const f of files) JSON.parse(readFileSync(join(cacheDir, f), 'utf8'));
      }
      reads++;
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await Promise.all(procs), [0, 0, 0]);
    assert.ok(hits > 0 && reads > 10, `reads ${reads}, hits ${hits}`);
    assert.equal(readdirSync(cacheDir).filter(isTempName), [], 'no temp files left');
  } finally {
    removeDir(dir);
  }
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

test('real bridge: VERSION answer, and what the cache saves', async () => {
  const dir = tempDir('probe-real');
  try {
    const cacheDir = join(dir, 'cache');
    const bridge = `${DEBIAN_CNI}/bridge`;
    const uncached: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < 15; i++) {
      let t = performance.now();
      const v = await probeVersions(bridge);
      uncached.push(performance.now() - t);
      assert.equal(v, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0']);
      t = performance.now();
      assert.equal(await probeVersions(bridge, { cacheDir }), v);
      if (i > 0) cached.push(performance.now() - t);
    }
    const u = median(uncached);
    const c = median(cached);
    console.log(`    VERSION probe of bridge: uncached median ${u.toFixed(2)} ms, cached median ${c.toFixed(3)} ms`);
    assert.ok(c < u, 'the cache is cheaper than a probe');
  } finally {
    removeDir(dir);
  }
});

test.run();
