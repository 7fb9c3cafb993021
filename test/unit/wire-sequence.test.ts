import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from './wire-test-kit.js';
import { FrameType, ReceiverSequence } from '../../src/wire/index.js';

const T = FrameType;

test('a whole migration walks the receiver through every state in order', () => {
  const s = new ReceiverSequence();
  assert.equal(s.observe(T.HELLO, 0), 'negotiated');
  assert.equal(s.observe(T.ROUND_START, 0), 'in-round');
  assert.equal(s.observe(T.PAGES, 0), 'in-round');
  assert.equal(s.observe(T.PING, 0), 'in-round');
  assert.equal(s.observe(T.ROUND_END, 0), 'between-rounds');
  assert.equal(s.observe(T.PAGES, 0), 'between-rounds', 'a lagging path may deliver PAGES after ROUND_END');
  assert.equal(s.observe(T.ROUND_START, 1), 'in-round');
  assert.equal(s.observe(T.PAGES, 0), 'in-round');
  assert.equal(s.observe(T.ROUND_END, 1), 'between-rounds');
  assert.equal(s.observe(T.STOP_COPY, 2), 'stop-copy');
  assert.equal(s.observe(T.PAGES, 2), 'stop-copy');
  assert.equal(s.observe(T.DIGEST, 2), 'verifying');
  s.resultSent();
  assert.equal(s.state, 'done');
  throwsCode(() => s.observe(T.PING, 2), 'LIVEMIG_E_WIRE_SEQUENCE', /over/);
});

test('frames out of order are LIVEMIG_E_WIRE_SEQUENCE', () => {
  const fresh = () => new ReceiverSequence();
  throwsCode(() => fresh().observe(T.PAGES, 0), 'LIVEMIG_E_WIRE_SEQUENCE', /first frame must be HELLO/);
  const s = fresh();
  s.observe(T.HELLO, 0);
  throwsCode(() => s.observe(T.HELLO, 0), 'LIVEMIG_E_WIRE_SEQUENCE');
  throwsCode(() => s.observe(T.ROUND_START, 1), 'LIVEMIG_E_WIRE_SEQUENCE', /expected round 0/);
  throwsCode(() => s.observe(T.DIGEST, 0), 'LIVEMIG_E_WIRE_SEQUENCE', /after STOP_COPY/);
  throwsCode(() => s.observe(T.RESULT, 0), 'LIVEMIG_E_WIRE_SEQUENCE', /never receives/);
  s.observe(T.ROUND_START, 0);
  throwsCode(() => s.observe(T.PAGES, 1), 'LIVEMIG_E_WIRE_SEQUENCE', /not started/);
  throwsCode(() => s.observe(T.STOP_COPY, 1), 'LIVEMIG_E_WIRE_SEQUENCE', /still open/);
  throwsCode(() => s.observe(T.ROUND_END, 1), 'LIVEMIG_E_WIRE_SEQUENCE', /not the open round/);
});

test('ABORT ends the migration from any state', () => {
  const s = new ReceiverSequence();
  s.observe(T.HELLO, 0);
  s.observe(T.STOP_COPY, 0);
  assert.equal(s.observe(T.ABORT, 0), 'aborted');
  throwsCode(() => s.observe(T.DIGEST, 0), 'LIVEMIG_E_WIRE_SEQUENCE');
  assert.equal(new ReceiverSequence().observe(T.ABORT, 0), 'aborted');
});
