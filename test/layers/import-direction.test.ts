// Dependencies run one way: the libraries below the verbs (id mapping, state, namespaces,
// delegates, CNI protocol, config, system calls, logging) never import the orchestration above
// them (src/attachment, src/commands), as host-local's allocator knows nothing of its plugin's
// main. Read from the sources with TypeScript's own import scanner (static, type-only, dynamic
// and re-exports alike); needs no root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');
const LOWER = ['idmap', 'state', 'ns', 'delegate', 'cni', 'config', 'sys', 'log'];
const UPPER = ['attachment', 'commands'];

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|cts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

/** Every "<file> imports <specifier>" where a file of a lower layer reaches an upper one. */
export function upwardImports(srcDir: string): string[] {
  const out: string[] = [];
  for (const layer of LOWER) {
    for (const file of sourceFiles(path.join(srcDir, layer))) {
      const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
      for (const { fileName } of importedFiles) {
        if (!fileName.startsWith('.')) continue;
        const top = path.relative(srcDir, path.resolve(path.dirname(file), fileName)).split(path.sep)[0]!;
        if (UPPER.includes(top)) out.push(`src/${path.relative(srcDir, file)} imports ${fileName}`);
      }
    }
  }
  return out;
}

test('nothing under src/{idmap,state,ns,delegate,cni,config,sys,log} imports src/attachment or src/commands', () => {
  assert.ok(sourceFiles(path.join(SRC, 'idmap')).length > 5, 'the scan sees the sources');
  assert.equal(upwardImports(SRC), []);
});

test('the scan finds upward imports of every kind, and only those', () => {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? os.tmpdir(), 'uxn-layers-'));
  try {
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('idmap/a.ts', "import type { AttachmentContext } from '../attachment/context';\nimport { x } from './b';\n");
    write('state/deep/b.ts', "export { y } from '../../commands/add';\nimport fs from 'node:fs';\n");
    write('log/c.ts', "const m = await import('../attachment/journal');\n");
    write('ns/d.ts', "import { z } from '../idmap/ranges'; // a lower layer: fine\n");
    write('attachment/e.ts', "import { cmdAdd } from '../commands/add'; // upper to upper: not this rule\n");
    assert.equal(upwardImports(dir).sort(), ['src/idmap/a.ts imports ../attachment/context', 'src/log/c.ts imports ../attachment/journal', 'src/state/deep/b.ts imports ../../commands/add']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
