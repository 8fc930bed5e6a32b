// `inspect --json` reports the user namespace pin of a create-mode attachment field by field,
// and a stale userns pin (unmounted, its file left) makes the attachment not live.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { sh, withNet } from '../helpers/host';
import { op, opJson } from './helpers/run-operator';

test('inspect --json: userns fields for create mode, then a stale userns pin', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.0.0');
    const a = net.attachment();
    assert.is(net.run('ADD', a, conf).status, 0);
    const dd = ['--data-dir', net.dataDir];
    const rec = JSON.parse(readFileSync(`${net.dataDir}/records/${net.name}+${a.containerId}+eth0.json`, 'utf8'));
    const usernsInode = Number(sh('stat', ['-L', '-c', '%i', a.usernsPin]).trim());
    assert.is(rec.userns.inode, usernsInode);

    const live = opJson(['inspect', a.containerId, '--json', ...dd]).attachments[0].check;
    assert.equal(live.userns, { path: a.usernsPin, present: true, isNamespace: true, inode: usernsInode, recordedInode: usernsInode, inodeMatches: true });
    assert.is(live.netnsOwnerInode, usernsInode);
    assert.is(live.ownerMatches, true);
    assert.is(live.live, true);

    // Only the userns pin goes stale; the netns (which keeps its owner alive) is untouched.
    sh('umount', [a.usernsPin]);
    const r = op(['inspect', a.containerId, '--json', ...dd]);
    assert.is(r.status, 3, r.stderr);
    const stale = JSON.parse(r.stdout).attachments[0].check;
    assert.is(stale.live, false);
    assert.equal(
      { present: stale.userns.present, isNamespace: stale.userns.isNamespace, recordedInode: stale.userns.recordedInode, inodeMatches: stale.userns.inodeMatches },
      { present: true, isNamespace: false, recordedInode: usernsInode, inodeMatches: false },
    );
    assert.is(stale.netns.inodeMatches, true);
    assert.ok(
      stale.problems.some((p: string) => p.includes(a.usernsPin)),
      JSON.stringify(stale.problems),
    );

    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test.run();
