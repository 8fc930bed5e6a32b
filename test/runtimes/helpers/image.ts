// A busybox image built locally as a docker-archive tar (manifest.json + config + one layer),
// which `ctr image import` accepts: no registry, no network.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../../helpers/host';
import { makeRootfs } from './busybox';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Writes <dir>/image.tar tagged `ref` (e.g. "uxbusybox:abc") and returns its path. */
export function buildBusyboxImage(dir: string, ref: string): string {
  const rootfs = makeRootfs(join(dir, 'rootfs'));
  const img = join(dir, 'img');
  mkdirSync(img, { recursive: true });
  // Uncompressed layer: its sha256 is both the layer digest and the diff id.
  sh('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', join(img, 'layer.tar'), '.']);
  const diffId = sha256(readFileSync(join(img, 'layer.tar')));
  const config = JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    os: 'linux',
    config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
  });
  const configName = `${sha256(config)}.json`;
  writeFileSync(join(img, configName), config);
  writeFileSync(join(img, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [ref], Layers: ['layer.tar'] }]));
  const tar = join(dir, 'image.tar');
  sh('tar', ['-C', img, '-cf', tar, 'manifest.json', configName, 'layer.tar']);
  return tar;
}
