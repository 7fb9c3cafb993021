/**
 * Soak: one guest migrated back and forth many times over authenticated TCP loopback, every trip
 * verified; prints RSS, open fds and threads at the start and the end (and after each tenth trip),
 * so a leak shows as growth. Baseline: the same figures before the first trip.
 *
 *   livemig bench soak [--trips 50] [--guest-mib 16] [--codec lz4-delta]
 */
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MiB } from '../src/core/index.js';
import { createSyntheticGuest, createDestinationGuest, type Guest } from '../src/guest/index.js';
import { createPageCache } from '../src/cache/index.js';
import { authenticateChannel, authFraming, connectTcp, listenTcp, SecureListener } from '../src/transport/index.js';
import { checkFrame } from '../src/wire/index.js';
import { MIGRATION_CODECS, runDestination, runSource, type MigrationCodec } from '../src/engine/index.js';

/** One reading of this process's resources. */
export interface ResourceSample {
  trip: number;
  rssMiB: number;
  fds: number;
  threads: number;
}

/** Result of a soak run. */
export interface SoakResult {
  trips: number;
  verified: number;
  samples: ResourceSample[];
  elapsedMs: number;
}

function sample(trip: number): ResourceSample {
  const count = (dir: string) => {
    try {
      return readdirSync(dir).length;
    } catch {
      return -1;
    }
  };
  return { trip, rssMiB: process.memoryUsage().rss / MiB, fds: count('/proc/self/fd'), threads: count('/proc/self/task') };
}

/**
 * Migrates one synthetic guest `trips` times (A→B, B→A, ...) in this process over a keyed TCP
 * listener, each trip verified (digest and self-check); throws on the first unverified trip.
 */
export async function soak(o: { trips: number; guestMiB: number; codec: MigrationCodec; onTrip?: (s: ResourceSample) => void }): Promise<SoakResult> {
  const key = randomBytes(32);
  const framing = authFraming(checkFrame);
  const listener = new SecureListener(
    await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: framing }),
    (ch) => authenticateChannel(ch, 'listen', { key }),
  );
  let guest: Guest = await createSyntheticGuest({ memoryBytes: o.guestMiB * MiB, workload: 'hotset', seed: 5 });
  const samples = [sample(0)];
  const t0 = performance.now();
  let verified = 0;
  try {
    await guest.resume();
    for (let trip = 1; trip <= o.trips; trip++) {
      const destP = listener.accept().then((channel) => runDestination({ channel, createGuest: createDestinationGuest, keepGuest: true }));
      const channel = await authenticateChannel(await connectTcp(listener.address, { messageLength: framing }), 'connect', { key });
      const cache = o.codec === 'none' || o.codec === 'lz4' ? null : createPageCache('2way', { capacityBytes: 4 * MiB });
      const [report, dest] = await Promise.all([runSource({ guest, channel, codec: o.codec, cache, convergence: { downtimeLimitMs: 300 } }), destP]);
      if (!report.verified || !dest.verified || report['self-check']?.ok !== true || dest.guest === null) {
        throw new Error(`trip ${trip} did not verify: ${JSON.stringify({ verified: report.verified, selfCheck: report['self-check'] })}`);
      }
      verified++;
      // The old side's copy is gone: the guest lives on where it arrived.
      await guest.close();
      guest = dest.guest;
      if (trip % 10 === 0 || trip === o.trips) {
        const s = sample(trip);
        samples.push(s);
        o.onTrip?.(s);
      }
    }
  } finally {
    await guest.close();
    await listener.close();
  }
  return { trips: o.trips, verified, samples, elapsedMs: performance.now() - t0 };
}

/** `livemig bench soak`: prints the resource table; exits 1 when a trip fails or fds/threads grew. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { trips: { type: 'string', default: '50' }, 'guest-mib': { type: 'string', default: '16' }, codec: { type: 'string', default: 'lz4-delta' } } });
  const trips = Number(values.trips);
  const guestMiB = Number(values['guest-mib']);
  const codec = values.codec as MigrationCodec;
  if (!Number.isInteger(trips) || trips < 1) throw new Error(`Expected --trips to be a positive integer, got '${values.trips}'`);
  if (!Number.isInteger(guestMiB) || guestMiB < 4) throw new Error(`Expected --guest-mib to be an integer >= 4, got '${values['guest-mib']}'`);
  if (!MIGRATION_CODECS.includes(codec)) throw new Error(`Expected --codec to be one of ${MIGRATION_CODECS.join(', ')}, got '${codec}'`);
  console.log(`soak: ${trips} migrations of one ${guestMiB} MiB hotset guest (${codec}), back and forth over keyed TCP loopback`);
  const r = await soak({ trips, guestMiB, codec });
  console.log(`${'trip'.padStart(5)} ${'rss MiB'.padStart(8)} ${'fds'.padStart(5)} ${'threads'.padStart(8)}`);
  for (const s of r.samples) console.log(`${String(s.trip).padStart(5)} ${s.rssMiB.toFixed(1).padStart(8)} ${String(s.fds).padStart(5)} ${String(s.threads).padStart(8)}${s.trip === 0 ? '  (baseline)' : ''}`);
  const first = r.samples[0];
  const last = r.samples.at(-1)!;
  console.log(`${r.verified}/${r.trips} verified in ${(r.elapsedMs / 1000).toFixed(1)} s; fds ${first.fds} -> ${last.fds}, threads ${first.threads} -> ${last.threads}, rss ${first.rssMiB.toFixed(0)} -> ${last.rssMiB.toFixed(0)} MiB`);
  return r.verified === r.trips && last.fds <= first.fds + 2 && last.threads <= first.threads + 2 ? 0 : 1;
}
