/**
 * Faults during a migration, each injected by the test, each ending with the guest intact on exactly
 * one side: a killed destination (pre-copy and stop-and-copy), a killed source, corrupted control
 * frames, and peers that stop reading or answering. Processes are real where a kill is the fault;
 * the rest runs in-process over TCP loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, LivemigError } from '../../../src/core/index.js';
import { createSyntheticGuest, createDestinationGuest, type Guest } from '../../../src/guest/index.js';
import { createPageCache } from '../../../src/cache/index.js';
import { connectTcp, listenTcp, type Channel } from '../../../src/transport/index.js';
import { checkFrame, FrameType } from '../../../src/wire/index.js';
import { runDestination, runSource } from '../../../src/engine/index.js';
import { FaultyChannel } from '../../helpers/faulty-channel.js';
import { StallingChannel, frameType, sleep, startCli, startReceiver, until } from './kit.js';

const cache = () => createPageCache('2way', { capacityBytes: 4 * MiB });

/** The source guest is running, still changing, and passes its self-check: it was not lost. */
async function assertIntact(guest: Guest): Promise<void> {
  assert.equal(guest.running, true, 'the source guest runs');
  const before = Buffer.from(guest.memory);
  await sleep(200);
  assert.ok(!before.equals(Buffer.from(guest.memory)), 'its workload keeps writing');
  await guest.pause();
  const check = await guest.selfCheck();
  assert.equal(check.ok, true, check.detail);
}

for (const phase of ['pre-copy', 'stop-and-copy'] as const) {
  test(`destination process killed in ${phase}: the source fails with a clear error and its guest runs on`, async () => {
    const agent = await startReceiver(['--once', '--json']);
    const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 21 });
    try {
      const inner = await connectTcp({ host: '127.0.0.1', port: agent.port }, { messageLength: checkFrame });
      let sent = 0;
      let killedAt = '';
      const channel = new FaultyChannel(inner, (m) => {
        sent += m.length;
        const t = frameType(m);
        // SIGKILL is synchronous to deliver: the frame being sent never reaches a live process.
        if (!killedAt && phase === 'pre-copy' && t === FrameType.PAGES && sent > 2 * MiB) killedAt = 'round 0';
        if (!killedAt && phase === 'stop-and-copy' && t === FrameType.STOP_COPY) killedAt = 'stop-copy';
        if (killedAt && agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
      });
      const err = await runSource({ guest, channel, codec: 'lz4-delta', cache: cache(), maxBandwidthBytesPerSec: 20e6, answerTimeoutMs: 20_000 })
        .then(() => null, (e: unknown) => e);
      assert.ok(killedAt, 'the fault was injected');
      assert.ok(err instanceof LivemigError, `a LivemigError, got ${String(err)}`);
      assert.match(err.code, /^LIVEMIG_E_TRANSPORT_(CLOSED|TIMEOUT)$/, `${err.code}: ${err.message}`);
      assert.equal(await agent.exited, null, 'the destination died by the signal');
      await assertIntact(guest);
    } finally {
      await guest.close();
      await agent.stop();
    }
  });
}

test('source process killed mid pre-copy: the destination discards its partial guest with a clear error', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  let destGuest: Guest | null = null;
  const destP = listener.accept().then((channel) => runDestination({
    channel, createGuest: async (d) => (destGuest = await createDestinationGuest(d)),
  }));
  const src = startCli(['send', '--to', `127.0.0.1:${listener.address.port}`, '--guest-mib', '32', '--warmup-ms', '0', '--max-bandwidth', '8MB', '--json']);
  try {
    await until(() => destGuest !== null, 'the destination guest to exist');
    await sleep(500);
    src.child.kill('SIGKILL');
    const err = await destP.then(() => null, (e: unknown) => e);
    assert.ok(err instanceof LivemigError, String(err));
    assert.equal(err.code, 'LIVEMIG_E_TRANSPORT_CLOSED', err.message);
    assert.equal(destGuest!.running, false, 'the partial guest never ran here');
    assert.equal(await src.exited, null);
  } finally {
    await src.stop();
    await listener.close();
  }
});

for (const [name, type] of [['ROUND_END', FrameType.ROUND_END], ['STOP_COPY', FrameType.STOP_COPY], ['DIGEST', FrameType.DIGEST]] as const) {
  test(`a bit flipped in a ${name} control frame is caught by the checksum: nothing resumes at the destination, the source guest runs on`, async () => {
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
    const guest = await createSyntheticGuest({ memoryBytes: 8 * MiB, workload: 'hotset', seed: 31 });
    try {
      let destGuest: Guest | null = null;
      const destP = listener.accept().then((channel) =>
        runDestination({ channel, createGuest: async (d) => (destGuest = await createDestinationGuest(d)) }),
      );
      let hit = false;
      const channel = new FaultyChannel(await connectTcp(listener.address, { messageLength: checkFrame }), (m) => {
        if (!hit && frameType(m) === type) {
          hit = true;
          m[24 + ((m.length - 24) >> 1)] ^= 0x04; // inside the body
        }
      });
      const [d, s] = await Promise.allSettled([destP, runSource({ guest, channel, codec: 'lz4-delta', cache: cache() })]);
      assert.ok(hit, 'the fault was injected');
      assert.equal(d.status, 'rejected');
      assert.equal((d as PromiseRejectedResult).reason.code, 'LIVEMIG_E_WIRE_CHECKSUM');
      assert.equal(s.status, 'rejected');
      assert.equal(destGuest!.running, false, 'the corrupted destination guest never ran');
      await assertIntact(guest);
    } finally {
      await guest.close();
      await listener.close();
    }
  });
}

test('a destination that stops reading: the source times out with a clear message, no hang, and its guest runs on', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 32 * MiB, workload: 'hotset', seed: 41 });
  let stalled: StallingChannel | null = null;
  try {
    const destP = listener.accept().then((ch) => {
      stalled = new StallingChannel(ch);
      // Reads HELLO and answers, then never reads again.
      stalled.stallOnReceive = (m) => frameType(m) !== FrameType.HELLO;
      return runDestination({ channel: stalled, createGuest: createDestinationGuest, idleTimeoutMs: 120_000 });
    });
    const channel = await connectTcp(listener.address, { messageLength: checkFrame, idleTimeoutMs: 1500 });
    const t0 = Date.now();
    const err = await runSource({ guest, channel, codec: 'none', cache: null }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof LivemigError, String(err));
    assert.equal(err.code, 'LIVEMIG_E_TRANSPORT_TIMEOUT', err.message);
    assert.match(err.message, /idleTimeoutMs/);
    assert.ok(Date.now() - t0 < 60_000, 'no hang');
    await assertIntact(guest);
    stalled!.release(new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', 'test over'));
    await assert.rejects(destP);
  } finally {
    await guest.close();
    await listener.close();
  }
});

test('a destination that never answers the handshake: the source times out and its guest runs on', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 4 * MiB, workload: 'hotset', seed: 43 });
  let silent: Channel | null = null;
  try {
    void listener.accept().then((ch) => (silent = ch));
    const channel = await connectTcp(listener.address, { messageLength: checkFrame });
    const err = await runSource({ guest, channel, codec: 'lz4', answerTimeoutMs: 1500 }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof LivemigError, String(err));
    assert.equal(err.code, 'LIVEMIG_E_TRANSPORT_TIMEOUT', err.message);
    await assertIntact(guest);
  } finally {
    (silent as Channel | null)?.destroy();
    await guest.close();
    await listener.close();
  }
});

test('a source that stops sending mid pre-copy: the destination times out and discards its partial guest', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 47 });
  try {
    let destGuest: Guest | null = null;
    const destP = listener.accept().then((channel) =>
      runDestination({ channel, idleTimeoutMs: 1500, createGuest: async (d) => (destGuest = await createDestinationGuest(d)) }),
    );
    const channel = new StallingChannel(await connectTcp(listener.address, { messageLength: checkFrame, idleTimeoutMs: 0 }));
    let pages = 0;
    channel.onSend = (m) => {
      if (frameType(m) === FrameType.PAGES && ++pages === 5) channel.stall();
    };
    const srcP = runSource({ guest, channel, codec: 'lz4-delta', cache: cache(), answerTimeoutMs: 120_000 });
    const err = await destP.then(() => null, (e: unknown) => e);
    assert.ok(err instanceof LivemigError, String(err));
    assert.equal(err.code, 'LIVEMIG_E_TRANSPORT_TIMEOUT', err.message);
    assert.equal(destGuest!.running, false);
    // The stalled source learns of it when its channel fails.
    channel.release(new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', 'the destination gave up'));
    await assert.rejects(srcP);
    await assertIntact(guest);
  } finally {
    await guest.close();
    await listener.close();
  }
});
