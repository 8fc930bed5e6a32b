// The crash tests' one switch, USERNS_NETNS_FAILPOINTS="name=action[,name=action]": read the way
// its comment says, so that a test arming a point really arms it (a crash test whose point never
// fires would prove nothing) and a malformed item arms nothing instead of failing every call.
// In-process, with the 'fail' action only ('kill' is the crash tests' own, in a plugin process).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failpoint, failpointEnv, failpointNow } from '../../src/attachment/failpoints';
import type { FailpointName } from '../../src/attachment/journal';
import { CniError, ErrorCode } from '../../src/cni/errors';

const VAR = 'USERNS_NETNS_FAILPOINTS';

function withSpec(spec: string | undefined, fn: () => Promise<void> | void): () => Promise<void> {
  return async () => {
    const saved = process.env[VAR];
    if (spec === undefined) delete process.env[VAR];
    else process.env[VAR] = spec;
    try {
      await fn();
    } finally {
      if (saved === undefined) delete process.env[VAR];
      else process.env[VAR] = saved;
    }
  };
}

/** The error failpoint `name` throws, or undefined if it let the call go on. */
function firedBy(name: FailpointName): CniError | undefined {
  try {
    failpointNow(name);
    return undefined;
  } catch (err) {
    assert.instance(err, CniError, `failpoint ${name}: ${String(err)}`);
    return err as CniError;
  }
}

test(
  'unset: every point lets the call go on',
  withSpec(undefined, async () => {
    assert.is(firedBy('add-after-intent'), undefined);
    await failpoint('add-after-record');
  }),
);

test(
  'failpointEnv arms exactly the named point: it throws an internal error naming itself, the others stay inert',
  withSpec(failpointEnv('add-after-pin', 'fail').USERNS_NETNS_FAILPOINTS, async () => {
    const e = firedBy('add-after-pin');
    assert.ok(e, 'add-after-pin fired');
    assert.is(e.code, ErrorCode.Internal);
    assert.is(e.message, 'failpoint add-after-pin');
    assert.is(firedBy('add-after-intent'), undefined);
    try {
      await failpoint('add-after-pin');
      assert.unreachable('the async form fires too');
    } catch (err) {
      assert.instance(err, CniError);
    }
    await failpoint('add-after-sysctls');
  }),
);

test(
  'several points in one variable, with spaces around names and actions: each is armed',
  withSpec(' add-after-intent = fail ,del-after-unpin=fail , add-before-delegate-1 =fail', () => {
    assert.is(firedBy('add-after-intent')?.message, 'failpoint add-after-intent');
    assert.is(firedBy('del-after-unpin')?.message, 'failpoint del-after-unpin');
    assert.is(firedBy('add-before-delegate-1')?.message, 'failpoint add-before-delegate-1');
    assert.is(firedBy('add-before-delegate-0'), undefined);
  }),
);

test(
  'malformed items (no action, no name, empty) arm nothing and break nothing; the well-formed one still fires',
  withSpec('add-after-intent,=fail,add-after-pin=,,add-after-record=fail', () => {
    assert.is(firedBy('add-after-intent'), undefined);
    assert.is(firedBy('add-after-pin'), undefined);
    assert.is(firedBy('add-after-record')?.message, 'failpoint add-after-record');
  }),
);

test('a call with another value is read afresh (the resident helper serves calls with different ones)', async () => {
  await withSpec('add-after-intent=fail', () => {
    assert.ok(firedBy('add-after-intent'));
  })();
  await withSpec('add-after-pin=fail', () => {
    assert.is(firedBy('add-after-intent'), undefined, 'the earlier value no longer arms its point');
    assert.ok(firedBy('add-after-pin'));
  })();
});

test.run();
