// One self-contained executable: a Node single executable application (SEA) made of the pinned
// Node binary for `arch` and a blob holding our launcher (its main script) and, as assets, the
// plugin's code, koffi's addon for that architecture and the licence texts.
//
// Order matters: the Node binary is stripped BEFORE the blob is injected. postject finds the
// SEA fuse (a string in .rodata, which strip keeps) and adds the blob as an ELF note; stripping
// afterwards would rewrite the file's sections and could drop or move that note.
//
// No V8 code cache in the blob (useCodeCache): the main script is the small launcher, which
// keeps its own per-verb code cache of the plugin's code in the root-only cache directory, as the
// Node-script file does; and a blob's code cache is only valid for the CPU that made it, so the
// arm64 one could not be made on this x86-64 machine.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'postject';
import { packageFile } from './sea-inputs.mjs';

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const HOST_ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch];

function nodeBinary(root, pins, arch) {
  const t = pins.targets[arch];
  return packageFile(root, { spec: `${t.nodePackage}@${pins.node}`, integrity: t.nodeIntegrity, innerPath: 'bin/node', sha256: t.nodeSha256 });
}

/** The first strip program of `names` that exists, or undefined (then the binary stays unstripped). */
function stripTool(names) {
  for (const n of names) {
    try {
      execFileSync(n, ['--version'], { stdio: 'ignore' });
      return n;
    } catch {
      // not installed
    }
  }
  return undefined;
}

const sha256File = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');

export async function buildSea({ root, outDir, arch, pins, launcher, code, addon, legal }) {
  const t = pins.targets[arch];
  const node = nodeBinary(root, pins, arch);
  const machine = node.bytes.readUInt16LE(18); // ELF e_machine
  if (node.bytes.readUInt32BE(0) !== 0x7f454c46 || machine !== t.elfMachine) throw new Error(`sea: ${arch}: the Node binary is not an ELF for machine ${t.elfMachine}`);
  const nodeLicence = packageFile(root, { spec: `${t.nodePackage}@${pins.node}`, integrity: t.nodeIntegrity, innerPath: 'LICENSE', sha256: pins.nodeLicenseSha256 }).bytes;

  const out = join(outDir, `userns-netns-linux-${arch}`);
  // Stripping and injecting take ~10 s per file: skip both when the output is already the one
  // these exact inputs make (its sha256 is in the stamp, so a changed output is rebuilt).
  const strip = stripTool(t.strip);
  const inputs = createHash('sha256');
  for (const part of [t.nodeSha256, String(strip), launcher, code, addon, legal, readFileSync(new URL(import.meta.url))]) inputs.update(part).update('\0');
  const stampFile = join(root, 'node_modules/.cache/userns-netns-sea', `stamp-${arch}`);
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').split(' ') : [];
  const inputsHash = inputs.digest('hex');
  if (stamp[0] === inputsHash && existsSync(out) && stamp[1] === sha256File(out)) {
    console.log(`build: ${out} unchanged`);
    return out;
  }
  const work = mkdtempSync(join(outDir, `.sea-${arch}-`));
  try {
    writeFileSync(join(work, 'launcher.js'), launcher);
    writeFileSync(join(work, 'code.js'), code);
    writeFileSync(join(work, 'addon.node'), addon);
    writeFileSync(join(work, 'licences.txt'), `${legal}\n---- node@${pins.node} (the binary this file is made of) ----\n${nodeLicence}`);
    const config = {
      main: join(work, 'launcher.js'),
      output: join(work, 'blob'),
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: false,
      assets: { code: join(work, 'code.js'), addon: join(work, 'addon.node'), licences: join(work, 'licences.txt') },
    };
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config));
    // The blob is made by the pinned Node itself (the host's architecture): the blob format
    // belongs to the exact Node version that will run it, not to whatever `node` runs this build.
    const maker = nodeBinary(root, pins, HOST_ARCH ?? 'amd64').path;
    chmodSync(maker, 0o755);
    execFileSync(maker, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH } });

    const exe = join(work, 'exe');
    copyFileSync(node.path, exe);
    chmodSync(exe, 0o755);
    if (strip) execFileSync(strip, ['--strip-all', exe]);
    else console.warn(`build: no ${t.strip.join(' / ')}: dist/userns-netns-linux-${arch} stays unstripped (~12 MB larger)`);
    await inject(exe, 'NODE_SEA_BLOB', readFileSync(join(work, 'blob')), { sentinelFuse: SEA_FUSE });

    renameSync(exe, out); // a copy being run while we build keeps its old inode
    writeFileSync(stampFile, `${inputsHash} ${sha256File(out)}`);
    const size = readFileSync(out).length;
    console.log(`build: ${out} (${(size / 1048576).toFixed(1)} MiB, Node ${pins.node}${strip ? ', stripped' : ''})`);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
