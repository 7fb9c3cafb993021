/** The QMP client against a scripted fake QEMU on a UNIX socket. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpCommandError } from '../../../src/qemu/qmp/client.js';
import { QemuMonitor } from '../../../src/qemu/qmp/commands.js';
import { isLivemigError } from '../../../src/core/errors.js';

type Handler = (msg: { execute: string; arguments?: Record<string, unknown>; id: number }, sock: Socket) => void;

async function fakeQemu(handler: Handler, greeting = '{"QMP": {"version": {"qemu": {"major": 10, "minor": 0, "micro": 2}, "package": ""}, "capabilities": ["oob"]}}'): Promise<{ path: string; server: Server; seen: string[]; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-qmp-'));
  const path = join(dir, 'qmp.sock');
  const seen: string[] = [];
  const server = createServer((sock) => {
    sock.write(`${greeting}\r\n`);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        seen.push(msg.execute);
        if (msg.execute === 'qmp_capabilities') sock.write(`{"return": {}, "id": ${msg.id}}\r\n`);
        else handler(msg, sock);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, seen, close: () => { server.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('connect negotiates capabilities and commands get their own replies, even out of order', async (t) => {
  const pending: { id: number; sock: Socket }[] = [];
  const fake = await fakeQemu((msg, sock) => {
    pending.push({ id: msg.id, sock });
    if (pending.length === 2) {
      // Answer the second command first: replies are matched by id, not by order.
      for (const p of pending.reverse()) p.sock.write(`{"return": {"n": ${p.id}}, "id": ${p.id}}\r\n`);
    }
  });
  t.after(() => fake.close());
  const qmp = await QmpClient.connect(fake.path);
  t.after(() => qmp.close());
  assert.equal(qmp.greeting.version.qemu.major, 10);
  const [a, b] = await Promise.all([qmp.execute<{ n: number }>('query-status'), qmp.execute<{ n: number }>('query-migrate')]);
  assert.notEqual(a.n, b.n);
  assert.deepEqual(fake.seen, ['qmp_capabilities', 'query-status', 'query-migrate']);
});

test('a QMP error reply becomes a QmpCommandError with code LIVEMIG_E_QMP_COMMAND and phase qmp', async (t) => {
  const fake = await fakeQemu((msg, sock) =>
    sock.write(`{"error": {"class": "GenericError", "desc": "no migration"}, "id": ${msg.id}}\r\n`),
  );
  t.after(() => fake.close());
  const qmp = await QmpClient.connect(fake.path);
  t.after(() => qmp.close());
  await assert.rejects(new QemuMonitor(qmp).migrateCancel(), (err: unknown) => {
    assert.ok(err instanceof QmpCommandError);
    assert.equal(err.code, 'LIVEMIG_E_QMP_COMMAND');
    assert.equal(err.phase, 'qmp');
    assert.equal(err.errorClass, 'GenericError');
    assert.match(err.message, /migrate_cancel.*no migration/);
    return true;
  });
});

test('events are delivered to waiters and kept for includePast', async (t) => {
  const fake = await fakeQemu((msg, sock) => {
    sock.write('{"event": "STOP", "data": {}, "timestamp": {"seconds": 1, "microseconds": 5}}\r\n');
    sock.write(`{"return": {}, "id": ${msg.id}}\r\n`);
    sock.write('{"event": "MIGRATION", "data": {"status": "completed"}, "timestamp": {"seconds": 2, "microseconds": 0}}\r\n');
  });
  t.after(() => fake.close());
  const qmp = await QmpClient.connect(fake.path);
  t.after(() => qmp.close());
  const completed = qmp.waitForEvent('MIGRATION', { filter: (e) => e.data.status === 'completed', timeoutMs: 5000 });
  await new QemuMonitor(qmp).stop();
  assert.equal((await completed).data.status, 'completed');
  const stop = await qmp.waitForEvent('STOP', { includePast: true, timeoutMs: 1000 });
  assert.equal(stop.timestampUs, 1_000_005);
  await assert.rejects(qmp.waitForEvent('RESUME', { timeoutMs: 50 }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_QMP_TIMEOUT'));
});

test('a connection that closes fails the pending command with LIVEMIG_E_QMP_CLOSED', async (t) => {
  const fake = await fakeQemu((_msg, sock) => sock.destroy());
  t.after(() => fake.close());
  const qmp = await QmpClient.connect(fake.path);
  await assert.rejects(qmp.execute('quit'), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_QMP_CLOSED'));
  assert.ok(qmp.closed);
  await assert.rejects(qmp.execute('query-status'), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_QMP_CLOSED'));
});

test('a peer that does not greet in QMP is rejected with LIVEMIG_E_QMP_PROTOCOL', async (t) => {
  const fake = await fakeQemu(() => undefined, '{"hello": 1}');
  t.after(() => fake.close());
  await assert.rejects(QmpClient.connect(fake.path, { timeoutMs: 2000 }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_QMP_PROTOCOL'));
});

test('connecting to a socket that never appears fails with LIVEMIG_E_QMP_CONNECT', async () => {
  await assert.rejects(
    QmpClient.connect(join(tmpdir(), `livemig-no-such-${process.pid}.sock`), { timeoutMs: 200 }),
    (e: unknown) => isLivemigError(e, 'LIVEMIG_E_QMP_CONNECT'),
  );
});
