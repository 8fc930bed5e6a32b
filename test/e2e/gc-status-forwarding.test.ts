// GC and STATUS beyond our own records: the runtime's list of valid attachments read from either
// key libcni sends (a malformed one refused with code 7 naming the key, nothing released), GC
// and STATUS forwarded to the delegates that speak 1.1.0 (Debian's 1.0.0 plugins are not asked),
// and every failure reported at the end without stopping the rest. The 1.1.0 delegate is a
// small script beside the real bridge + host-local: it writes down the config each GC/STATUS
// gives it, and fails a verb while a flag file names it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withNet, type TestNet } from '../helpers/host';
import { CNI_BIN } from '../helpers/plugin';

const NO_ATTACHMENT = { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' };

const SEER = `#!/bin/sh
here=$(dirname "$0")
if [ "$CNI_COMMAND" = VERSION ]; then
  echo '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}'; exit 0
fi
conf=$(cat)
[ "$CNI_COMMAND" = GC ] || [ "$CNI_COMMAND" = STATUS ] && printf '%s' "$conf" > "$here/seen-$CNI_COMMAND.json"
if [ -e "$here/fail-$CNI_COMMAND" ]; then
  printf '{"cniVersion":"1.1.0","code":11,"msg":"gcseer cannot %s now"}\\n' "$CNI_COMMAND"; exit 1
fi
[ "$CNI_COMMAND" = ADD ] && printf '%s' "$conf" | jq -c '.prevResult // {cniVersion: .cniVersion}'
exit 0
`;

interface Kit {
  conf: Record<string, unknown>;
  env: Record<string, string>;
  /** The config the delegate got for its last GC or STATUS (undefined: never asked). */
  seen: (verb: 'GC' | 'STATUS') => Record<string, unknown> | undefined;
  fail: (verb: 'GC' | 'STATUS' | 'DEL', on: boolean) => void;
}

/** bridge + host-local (1.0.0), then the 1.1.0 script. */
function withSeer(net: TestNet): Kit {
  const bin = join(net.dir, 'gcseer-bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'gcseer'), SEER);
  chmodSync(join(bin, 'gcseer'), 0o755);
  return {
    conf: net.conf('1.1.0', {}, [net.bridgeDelegate(), { type: 'gcseer' }]),
    env: { CNI_PATH: `${bin}:${CNI_BIN}` },
    seen: (verb) => {
      const f = join(bin, `seen-${verb}.json`);
      if (!existsSync(f)) return undefined;
      const doc = JSON.parse(readFileSync(f, 'utf8'));
      rmSync(f);
      return doc;
    },
    fail: (verb, on) => (on ? writeFileSync(join(bin, `fail-${verb}`), '') : rmSync(join(bin, `fail-${verb}`), { force: true })),
  };
}

const recordOf = (net: TestNet, cid: string) => join(net.dataDir, 'records', `${net.name}+${cid}+eth0.json`);
const listed = (...cids: string[]) => cids.map((c) => ({ containerID: c, ifname: 'eth0' }));

test('GC honours the older cni.dev/attachments key too, and forwards the list to 1.1.0 delegates (an empty one when none was sent)', async () => {
  await withNet(async (net) => {
    const k = withSeer(net);
    const [keep, drop] = [net.attachment(), net.attachment()];
    for (const a of [keep, drop]) assert.is(net.run('ADD', a, k.conf, k.env).status, 0);

    const gc = net.run('GC', { containerId: '' }, { ...k.conf, 'cni.dev/attachments': listed(keep.containerId) }, { ...k.env, ...NO_ATTACHMENT });
    assert.is(gc.status, 0, gc.stdout);
    assert.ok(existsSync(recordOf(net, keep.containerId)), 'listed under the older key: kept');
    assert.not.ok(existsSync(recordOf(net, drop.containerId)));
    assert.is(net.reservations().length, 1);
    const seen = k.seen('GC');
    assert.ok(seen, 'the 1.1.0 delegate got GC');
    assert.equal(seen['cni.dev/valid-attachments'], listed(keep.containerId));
    assert.equal([seen.name, seen.cniVersion, seen.type], [net.name, '1.1.0', 'gcseer']);

    const both = net.run('GC', { containerId: '' }, { ...k.conf, 'cni.dev/valid-attachments': listed(keep.containerId), 'cni.dev/attachments': [] }, { ...k.env, ...NO_ATTACHMENT });
    assert.is(both.status, 0, both.stdout);
    assert.ok(existsSync(recordOf(net, keep.containerId)), 'cni.dev/valid-attachments wins');
    assert.equal(k.seen('GC')?.['cni.dev/valid-attachments'], listed(keep.containerId));

    const none = net.run('GC', { containerId: '' }, k.conf, { ...k.env, ...NO_ATTACHMENT });
    assert.is(none.status, 0, none.stdout);
    assert.equal(k.seen('GC')?.['cni.dev/valid-attachments'], [], 'no list: nothing is valid, for the delegate too');
    assert.equal(net.reservations(), []);
  });
});

test('a malformed list of valid attachments: code 7 naming the key and the entry, nothing released', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.1.0');
    const a = net.attachment();
    assert.is(net.run('ADD', a, conf).status, 0);
    const cases: Array<[unknown, string]> = [
      ['all', 'cni.dev/valid-attachments: must be an array'],
      [{ containerID: a.containerId, ifname: 'eth0' }, 'cni.dev/valid-attachments: must be an array'],
      [[null], 'cni.dev/valid-attachments[0]: must be {"containerID": string, "ifname": string}'],
      [[{ containerID: a.containerId }], 'cni.dev/valid-attachments[0]: must be'],
      [[{ ifname: 'eth0' }], 'cni.dev/valid-attachments[0]: must be'],
      [[...listed(a.containerId), { containerID: 7, ifname: 'eth0' }], 'cni.dev/valid-attachments[1]: must be'],
    ];
    for (const [list, msg] of cases) {
      const gc = net.run('GC', { containerId: '' }, { ...conf, 'cni.dev/valid-attachments': list }, NO_ATTACHMENT);
      assert.is(gc.json?.code, 7, `${JSON.stringify(list)}: ${gc.stdout}`);
      assert.match(gc.json.msg, msg);
      assert.ok(existsSync(recordOf(net, a.containerId)), 'nothing released');
      assert.is(net.reservations().length, 1);
    }
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test('GC reports every failure at the end (a release, the delegate GC) and still does the rest', async () => {
  await withNet(async (net) => {
    const k = withSeer(net);
    const [a, b] = [net.attachment(), net.attachment()];
    for (const x of [a, b]) assert.is(net.run('ADD', x, k.conf, k.env).status, 0);
    // Both releases fail at the script's DEL, and its GC fails: three problems, one answer.
    k.fail('DEL', true);
    k.fail('GC', true);
    const gc = net.run('GC', { containerId: '' }, k.conf, { ...k.env, ...NO_ATTACHMENT });
    assert.is(gc.status, 1, gc.stdout);
    assert.is(gc.json.msg, 'GC: 3 problem(s): gcseer cannot DEL now; gcseer cannot DEL now; gcseer cannot GC now');
    assert.ok(existsSync(recordOf(net, a.containerId)) && existsSync(recordOf(net, b.containerId)), 'both records stay for the next GC or DEL');

    k.fail('DEL', false);
    const again = net.run('GC', { containerId: '' }, k.conf, { ...k.env, ...NO_ATTACHMENT });
    assert.is(again.status, 1, again.stdout);
    assert.is(again.json.msg, 'GC: 1 problem(s): gcseer cannot GC now');
    assert.not.ok(existsSync(recordOf(net, a.containerId)) || existsSync(recordOf(net, b.containerId)), 'released despite the failing delegate GC');
    assert.equal(net.reservations(), []);
    k.fail('GC', false);
  });
});

test('STATUS asks the 1.1.0 delegate, not the 1.0.0 ones; its failure makes the plugin not ready (code 50), naming it; a missing binary is named once', async () => {
  await withNet((net) => {
    const k = withSeer(net);
    const ok = net.run('STATUS', { containerId: '' }, k.conf, { ...k.env, ...NO_ATTACHMENT });
    assert.is(ok.status, 0, ok.stdout);
    assert.equal(k.seen('STATUS')?.type, 'gcseer');

    k.fail('STATUS', true);
    const r = net.run('STATUS', { containerId: '' }, k.conf, { ...k.env, ...NO_ATTACHMENT });
    assert.is(r.json?.code, 50, r.stdout);
    assert.is(r.json.msg, 'plugin not available: delegate "gcseer": gcseer cannot STATUS now');

    const missing = net.run('STATUS', { containerId: '' }, { ...k.conf, delegates: [{ type: 'no-such-plugin' }, { type: 'gcseer' }] }, { ...k.env, ...NO_ATTACHMENT });
    assert.is(missing.json?.code, 50, missing.stdout);
    assert.is(missing.json.msg.split('failed to find plugin').length - 1, 1, missing.json.msg);
    assert.match(missing.json.msg, 'gcseer cannot STATUS now');
  });
});

test.run();
