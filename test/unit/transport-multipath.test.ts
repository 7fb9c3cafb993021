/**
 * The multipath channel passes the Channel compliance suite in both delivery modes, with 2 and 4
 * subflows over 127.0.0.1; plus options, registry and handshake basics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivemigError } from '../../src/core/index.js';
import {
  connectMultipath, createTransport, listenMultipath, type MultipathChannel, type MultipathOrdering,
} from '../../src/transport/index.js';
import { runChannelCompliance, type ChannelPairFactory } from '../transport/compliance.js';
import { collect, lengthPrefixed, tagged, tagsOf } from '../transport/helpers.js';

const LOOPBACK = { host: '127.0.0.1', port: 0 };

function pairs(subflows: number, ordering: MultipathOrdering): ChannelPairFactory {
  return async (optionsA, optionsB) => {
    const listener = await listenMultipath({ ...(optionsB ?? optionsA), ordering, local: LOOPBACK });
    const [a, b] = await Promise.all([
      connectMultipath({ ...optionsA, ordering, remote: listener.address, subflows }),
      listener.accept(),
    ]);
    return {
      a,
      b,
      teardown: async () => {
        a.destroy();
        b.destroy();
        await listener.close();
      },
    };
  };
}

for (const subflows of [2, 4]) {
  runChannelCompliance(`multipath strict x${subflows}`, pairs(subflows, 'strict'), { ordering: 'strict' });
  runChannelCompliance(`multipath barrier x${subflows}`, pairs(subflows, 'barrier'), { ordering: 'barrier' });
}

test('multipath: connectMultipath opens every subflow and both sides see them up', { timeout: 10_000 }, async () => {
  const listener = await listenMultipath({ local: LOOPBACK, messageLength: lengthPrefixed });
  try {
    const [a, b] = await Promise.all([
      connectMultipath({ remote: listener.address, subflows: 4, messageLength: lengthPrefixed }),
      listener.accept(),
    ]);
    assert.equal(a.stats().subflowsUp, 4);
    for (let i = 0; i < 50 && b.stats().subflowsUp < 4; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(b.stats().subflowsUp, 4);
    assert.deepEqual(listener.stats(), { sessions: 1, joins: 3, refusedJoins: 0, refusedSessions: 0 });
    assert.equal(a.token, b.token);
    for (const p of a.stats().paths) assert.match(p.label, /^127\.0\.0\.1:\d+->127\.0\.0\.1:\d+$/);
    a.destroy();
    b.destroy();
  } finally {
    await listener.close();
  }
});

test('multipath: a wrong pre-shared key fails the first subflow with LIVEMIG_E_AUTH and is counted', { timeout: 10_000 }, async () => {
  const listener = await listenMultipath({ local: LOOPBACK, key: Buffer.from('right key') });
  try {
    await assert.rejects(
      connectMultipath({ remote: listener.address, key: Buffer.from('wrong key') }),
      (err) => isLivemigError(err, 'LIVEMIG_E_AUTH') && /keys differ/.test(err.message),
    );
    // The listener counts once it reads the client's refusal.
    for (let i = 0; i < 50 && listener.stats().refusedSessions === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(listener.stats().refusedSessions, 1);
    assert.equal(listener.stats().sessions, 0);
  } finally {
    await listener.close();
  }
});

test('multipath: createTransport(\'multipath\') connects and listens', { timeout: 10_000 }, async () => {
  const mp = createTransport('multipath');
  assert.equal(mp.name, 'multipath');
  const listener = await mp.listen(LOOPBACK, { messageLength: lengthPrefixed });
  try {
    const [a, b] = await Promise.all([mp.connect(listener.address, { messageLength: lengthPrefixed }), listener.accept()]);
    assert.equal(a.transport, 'multipath');
    await a.send(tagged(0, 3, 40));
    await a.close();
    assert.deepEqual((await collect(b)).map(tagsOf), [{ round: 0, seq: 3 }]);
    b.destroy();
    (a as MultipathChannel).destroy();
  } finally {
    await listener.close();
  }
});

test('multipath: options are validated with precise messages', async () => {
  await assert.rejects(connectMultipath({}), (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /paths.*remote/.test(err.message));
  await assert.rejects(
    connectMultipath({ remote: { host: '127.0.0.1', port: 1 }, subflows: 0 }),
    (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /subflows.*got 0/.test(err.message),
  );
  await assert.rejects(
    // @ts-expect-error: an unknown scheduler name
    connectMultipath({ remote: { host: '127.0.0.1', port: 1 }, scheduler: 'fastest' }),
    (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /round-robin, least-queued, weighted/.test(err.message),
  );
  await assert.rejects(
    // @ts-expect-error: an unknown ordering
    listenMultipath({ local: LOOPBACK, ordering: 'loose' }),
    (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /'strict' or 'barrier'/.test(err.message),
  );
});
