/**
 * Many paths: livemig's channels over two tbf-shaped paths of the testbed (network namespaces,
 * veth, tbf, cubic), against the sum of the path rates and against kernel MPTCP in the same run.
 *
 *   aggregate   tcp, mptcp and multipath channels over 2 x 200mbit and over 200 + 50mbit (4:1),
 *               steady goodput as % of the sum of the path rates, raw and as % of what tbf lets
 *               TCP carry (~95.5 %: 1448 payload bytes per 1514-byte frame)
 *   subflows    multipath with 1, 2, 4, 8, 16 subflows in all, spread over the two paths
 *   failover    one path taken down mid-transfer: time until the survivor runs at its full rate,
 *               messages lost, duplicated or corrupted (must be 0)
 *   congestion  cross traffic on path 0 mid-transfer: each path's share before and during
 *   migrate     `livemig migrate --testbed --json` with tcp (one path: the baseline), mptcp and
 *               multipath over 2 x 1gbit: idle 1 GiB codec none, and hotset lz4-delta
 *
 * CPU: every transfer reports both ends' process.cpuUsage() and CPU seconds per GB moved; a row
 * is flagged "cpu" when an end used >= 0.9 of a core, or both >= 1.8 of the 2 cores (then the
 * cores, not the link, bound the figure). Migrations are timed with /usr/bin/time (whole
 * processes, guest fill included). The 1-minute load average is printed with every section.
 *
 * Needs root. Builds its own testbeds (lm-pbench-src/dst, then lm-pbmig-src/dst) and removes them
 * at the end, also on failure.
 *
 * Run: `livemig bench paths [--quick] [--json] [--reps N] [--only SECTION,...]`
 * (`node dist/bench/paths.js` works too). --quick: shorter transfers, 256 MiB guests, fewer cases.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  runIn, setPathState, startCongestion, testbedDown, testbedUp, type CongestionHandle, type TestbedConfig,
} from '../src/testbed/index.js';
import type { SchedulerName } from '../src/transport/index.js';
import type { ClientArgs, ClientResult, PeerTransport, ServerResult } from './paths-peer.js';

/** tbf counts whole frames: TCP goodput is ~95.5 % of the shaped rate (testbed/index.ts). */
const TBF_GOODPUT = 0.955;
const SECTIONS = ['aggregate', 'subflows', 'failover', 'congestion', 'migrate'] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  json: boolean;
  quick: boolean;
  reps: number;
  only: Set<Section>;
}

const peerScript = fileURLToPath(new URL('./paths-peer.js', import.meta.url));
const cliMain = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** What one transfer measured. */
interface Transfer {
  server: ServerResult;
  client: ClientResult;
  /** Receiver goodput from 1 s after the first byte to the last, in bits/s. */
  steadyBitsPerSec: number;
  /** Bytes per path index (by address 10.77.i.*), from the sender's last reading. */
  perPath: number[];
  /** CPU seconds (user + system) of sender and receiver per GB (1e9 bytes) moved. */
  cpuSecPerGB: number;
  /** Cores busy over the transfer: sender, receiver. */
  cores: [number, number];
  cpuBound: boolean;
  load: number;
}

let nextPort = 7300;

const load1 = (): number => loadavg()[0];

/** Reads JSON lines of a child until one with `event === want`. */
async function waitEvent<T>(lines: AsyncIterator<string>, want: string, who: string): Promise<T> {
  for (let n = await lines.next(); !n.done; n = await lines.next()) {
    let msg: { event?: string };
    try {
      msg = JSON.parse(n.value) as { event?: string };
    } catch {
      continue;
    }
    if (msg.event === want) return msg as T;
  }
  throw new Error(`the ${who} ended before '${want}'`);
}

function pathIndexOf(label: string): number {
  const m = /^10\.77\.(\d+)\./.exec(label);
  return m ? Number(m[1]) : 0;
}

/** Bytes per path index at one sender sample. */
function byPath(sample: Record<string, number>, paths: number): number[] {
  const out = new Array<number>(paths).fill(0);
  for (const [label, bytes] of Object.entries(sample)) out[Math.min(paths - 1, pathIndexOf(label))] += bytes;
  return out;
}

/** Cumulative receiver bytes at wall time `ms`, interpolated between samples. */
function bytesAt(timeline: Array<[number, number]>, ms: number): number {
  let prev: [number, number] = [timeline[0]?.[0] ?? ms, 0];
  for (const s of timeline) {
    if (s[0] >= ms) {
      const span = s[0] - prev[0];
      return span <= 0 ? s[1] : prev[1] + ((s[1] - prev[1]) * (ms - prev[0])) / span;
    }
    prev = s;
  }
  return prev[1];
}

/** Per-path bytes sent between wall times a and b, from the sender's samples. */
function pathBytesBetween(c: ClientResult, paths: number, a: number, b: number): number[] {
  const at = (ms: number): number[] => {
    let best = c.timeline[0];
    for (const s of c.timeline) if (s[0] <= ms) best = s;
    return best ? byPath(best[1], paths) : new Array<number>(paths).fill(0);
  };
  const x = at(a);
  const y = at(b);
  return y.map((v, i) => v - x[i]);
}

/**
 * One transfer: a server in the destination namespace, a client in the source namespace for
 * `seconds`; `during(firstByteMs)` runs once the first message arrived (path events).
 */
async function transfer(
  tb: TestbedConfig, transport: PeerTransport, seconds: number,
  extra: Partial<ClientArgs> = {}, during?: (firstMs: number) => Promise<void>,
): Promise<Transfer> {
  const port = nextPort++;
  const children: ChildProcess[] = [];
  try {
    const server = runIn(tb.dstNs, [process.execPath, peerScript, JSON.stringify({ role: 'server', transport, port })], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(server);
    const sLines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
    await waitEvent(sLines, 'listening', 'receiver');
    const args: ClientArgs = {
      role: 'client', transport, port, seconds,
      paths: tb.paths.map((p) => ({ local: p.srcAddr, remote: p.dstAddr })),
      ...extra,
    };
    const client = runIn(tb.srcNs, [process.execPath, peerScript, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(client);
    const cLines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    const clientDone = waitEvent<ClientResult>(cLines, 'result', 'sender');
    clientDone.catch(() => undefined);
    const first = await waitEvent<{ ms: number }>(sLines, 'first', 'receiver');
    const duringDone = during ? during(first.ms) : Promise.resolve();
    const serverResult = await waitEvent<ServerResult>(sLines, 'result', 'receiver');
    const clientResult = await clientDone;
    await duringDone;
    const from = serverResult.firstMs + 1000;
    const span = (serverResult.lastMs - from) / 1000;
    const steady = span > 0 ? ((serverResult.bytes - bytesAt(serverResult.timeline, from)) * 8) / span : 0;
    const last = clientResult.timeline[clientResult.timeline.length - 1];
    const wall = (serverResult.lastMs - serverResult.firstMs) / 1000;
    const cs = clientResult.cpu.user + clientResult.cpu.system;
    const ss = serverResult.cpu.user + serverResult.cpu.system;
    const cores: [number, number] = [cs / Math.max(wall, 1e-3), ss / Math.max(wall, 1e-3)];
    return {
      server: serverResult,
      client: clientResult,
      steadyBitsPerSec: steady,
      perPath: last ? byPath(last[1], tb.paths.length) : [],
      cpuSecPerGB: (cs + ss) / (serverResult.bytes / 1e9),
      cores,
      cpuBound: cores[0] >= 0.9 || cores[1] >= 0.9 || cores[0] + cores[1] >= 1.8,
      load: load1(),
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** Best of `reps` by steady goodput (load from others only ever slows a run down). */
async function best(reps: number, run: () => Promise<Transfer>): Promise<{ best: Transfer; all: number[] }> {
  let top: Transfer | undefined;
  const all: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = await run();
    all.push(t.steadyBitsPerSec);
    if (!top || t.steadyBitsPerSec > top.steadyBitsPerSec) top = t;
  }
  return { best: top!, all };
}

const mbit = (bps: number): string => (bps / 1e6).toFixed(1);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const lossOf = (t: Transfer): { lost: number; duplicates: number; corrupt: number } => ({
  lost: t.client.messages - (t.server.messages - t.server.duplicates),
  duplicates: t.server.duplicates,
  corrupt: t.server.corrupt,
});

function table(title: string, head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [title, line(head), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- sections

interface AggregateRow {
  setup: string; transport: string; rates: number[]; steadyBitsPerSec: number; runs: number[];
  ofSum: number; ofAchievable: number; perPath: number[]; cpuSecPerGB: number; cores: [number, number]; cpuBound: boolean; load: number;
}

async function aggregate(o: Options, name: string, rates: number[], label: string): Promise<AggregateRow[]> {
  const { config: tb } = await testbedUp({ name, paths: 2, rateBitsPerSec: rates });
  const seconds = o.quick ? 4 : 8;
  const sum = rates.reduce((a, b) => a + b, 0);
  const rows: AggregateRow[] = [];
  for (const transport of ['tcp', 'mptcp', 'multipath'] as const) {
    const { best: t, all } = await best(o.reps, () => transfer(tb, transport, seconds));
    rows.push({
      setup: label, transport, rates, steadyBitsPerSec: t.steadyBitsPerSec, runs: all,
      ofSum: t.steadyBitsPerSec / sum, ofAchievable: t.steadyBitsPerSec / (sum * TBF_GOODPUT), perPath: t.perPath,
      cpuSecPerGB: t.cpuSecPerGB, cores: t.cores, cpuBound: t.cpuBound, load: t.load,
    });
  }
  return rows;
}

interface SubflowRow { subflows: number; perPath: string; steadyBitsPerSec: number; ofAchievable: number; bytesPerPath: number[]; cpuSecPerGB: number; cpuBound: boolean; load: number }

async function subflows(o: Options, tb: TestbedConfig): Promise<SubflowRow[]> {
  const seconds = o.quick ? 4 : 8;
  const sum = tb.paths.reduce((a, p) => a + p.rateBitsPerSec, 0);
  const rows: SubflowRow[] = [];
  for (const n of o.quick ? [1, 2, 8] : [1, 2, 4, 8, 16]) {
    // One subflow can only use one path; more are spread evenly (n/2 per path).
    const extra: Partial<ClientArgs> = n === 1
      ? { paths: [{ local: tb.paths[0].srcAddr, remote: tb.paths[0].dstAddr }], subflows: 1 }
      : { subflows: n / 2 };
    const { best: t } = await best(o.reps, () => transfer(tb, 'multipath', seconds, extra));
    rows.push({
      subflows: n, perPath: n === 1 ? '1 on path 0' : `${n / 2} per path`, steadyBitsPerSec: t.steadyBitsPerSec,
      ofAchievable: t.steadyBitsPerSec / (sum * TBF_GOODPUT), bytesPerPath: t.perPath, cpuSecPerGB: t.cpuSecPerGB, cpuBound: t.cpuBound, load: t.load,
    });
  }
  return rows;
}

interface FailoverRow {
  transport: string; downPath: number; recoverySec: number | null; stallSec: number; survivorBitsPerSec: number; survivorOfAchievable: number;
  lost: number; duplicates: number; corrupt: number; messages: number; load: number;
}

/** Longest time after `from` during which the receiver got nothing, in seconds. */
function longestStall(timeline: Array<[number, number]>, from: number): number {
  let longest = 0;
  let since = from;
  let prev = bytesAt(timeline, from);
  for (const [ms, bytes] of timeline) {
    if (ms <= from) continue;
    if (bytes > prev) since = ms;
    else longest = Math.max(longest, ms - since);
    prev = bytes;
  }
  return longest / 1000;
}

/** Smallest t >= from whose next `windowMs` carry >= `bps`; seconds after `from`, or null. */
function recoveryAfter(timeline: Array<[number, number]>, from: number, until: number, bps: number, windowMs = 500): number | null {
  for (let t = from; t + windowMs <= until; t += 50) {
    const rate = ((bytesAt(timeline, t + windowMs) - bytesAt(timeline, t)) * 8) / (windowMs / 1000);
    if (rate >= bps) return (t - from) / 1000;
  }
  return null;
}

async function failover(o: Options, tb: TestbedConfig): Promise<FailoverRow[]> {
  const seconds = o.quick ? 8 : 12;
  const downAfterMs = o.quick ? 2500 : 3000;
  const rows: FailoverRow[] = [];
  for (const downPath of o.quick ? [0] : [0, 1]) {
    for (const transport of ['mptcp', 'multipath'] as const) {
      let downAt = 0;
      let t: Transfer;
      try {
        t = await transfer(tb, transport, seconds, {}, async (first) => {
          await sleep(Math.max(0, first + downAfterMs - Date.now()));
          downAt = Date.now();
          await setPathState(downPath, 'down', { name: tb.name });
        });
      } finally {
        await setPathState(downPath, 'up', { name: tb.name });
      }
      const survivor = tb.paths[1 - downPath].rateBitsPerSec * TBF_GOODPUT;
      const recovery = recoveryAfter(t.server.timeline, downAt, t.server.lastMs, 0.9 * survivor);
      const after = recovery === null ? downAt : downAt + recovery * 1000;
      const span = (t.server.lastMs - after) / 1000;
      const rate = span > 0 ? ((t.server.bytes - bytesAt(t.server.timeline, after)) * 8) / span : 0;
      rows.push({
        transport, downPath, recoverySec: recovery, stallSec: longestStall(t.server.timeline, downAt), survivorBitsPerSec: rate, survivorOfAchievable: rate / survivor,
        ...lossOf(t), messages: t.client.messages, load: t.load,
      });
    }
  }
  return rows;
}

interface CongestionRow {
  transport: string; shareBefore: number; shareDuring: number; crossBitsPerSec: number | null;
  channelBefore: number; channelDuring: number; load: number;
}

async function congestion(o: Options, tb: TestbedConfig): Promise<CongestionRow[]> {
  const seconds = o.quick ? 8 : 12;
  const startAfterMs = o.quick ? 3000 : 4000;
  const crossSeconds = o.quick ? 4 : 6;
  const rows: CongestionRow[] = [];
  const cases: Array<[PeerTransport, SchedulerName | undefined]> = [['mptcp', undefined], ['multipath', 'least-queued'], ['multipath', 'weighted']];
  for (const [transport, scheduler] of cases) {
    let start = 0;
    let cross: CongestionHandle | undefined;
    let crossResult: { bitsPerSec: number } | null = null;
    const t = await transfer(tb, transport, seconds, scheduler ? { scheduler } : {}, async (first) => {
      await sleep(Math.max(0, first + startAfterMs - Date.now()));
      start = Date.now();
      cross = await startCongestion({ name: tb.name, path: 0, seconds: crossSeconds, rateBitsPerSec: null });
      crossResult = await cross.done.catch(() => null);
    }).finally(async () => cross?.stop());
    const first = t.server.firstMs;
    const before = pathBytesBetween(t.client, 2, first + 1000, start);
    const during = pathBytesBetween(t.client, 2, start + 1000, start + crossSeconds * 1000);
    const share = (x: number[]): number => x[0] / Math.max(1, x[0] + x[1]);
    const rateOf = (a: number, b: number): number => ((bytesAt(t.server.timeline, b) - bytesAt(t.server.timeline, a)) * 8) / ((b - a) / 1000);
    rows.push({
      transport: scheduler ? `${transport} ${scheduler}` : transport,
      shareBefore: share(before), shareDuring: share(during),
      crossBitsPerSec: (crossResult as { bitsPerSec: number } | null)?.bitsPerSec ?? null,
      channelBefore: rateOf(first + 1000, start), channelDuring: rateOf(start + 1000, start + crossSeconds * 1000), load: t.load,
    });
  }
  return rows;
}

interface MigrateRow {
  case: string; transport: string; totalMs: number; downtimeMs: number; wireBytes: number; verified: boolean; selfCheck: boolean;
  vsTcp: number; perPath: number[]; cpuSec: number | null; cpuSecPerGB: number | null; cores: number | null; wallSec: number; load: number;
  /** Cores both ends would need to move the bytes at the paths' achievable rate (cpuSecPerGB x GB/s). */
  coresAtLinkRate: number | null;
  /** true when coresAtLinkRate >= 1: with the guest's own work, the 2 shared cores bound the run before the link. */
  cpuBound: boolean;
}

async function migrateOnce(tb: TestbedConfig, transport: string, args: string[]): Promise<{ report: Record<string, unknown>; cpuSec: number | null; wallSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-bench-paths-'));
  const timeFile = join(dir, 'time');
  const haveTime = spawnSync('/usr/bin/time', ['-f', '%U', 'true']).status === 0;
  const argv = [process.execPath, cliMain, 'migrate', '--testbed', '--testbed-name', tb.name, '--transport', transport, '--json', ...args];
  const [cmd, cmdArgs] = haveTime ? ['/usr/bin/time', ['-f', '%U %S', '-o', timeFile, ...argv]] : [argv[0], argv.slice(1)];
  const t0 = Date.now();
  try {
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    await new Promise((r) => child.once('exit', r));
    clearTimeout(timer);
    const wallSec = (Date.now() - t0) / 1000;
    const line = out.trim().split('\n').pop() ?? '';
    let report: Record<string, unknown>;
    try {
      report = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`livemig migrate --transport ${transport} printed no report: ${err.slice(-500)}`);
    }
    let cpuSec: number | null = null;
    if (haveTime) {
      const [u, s] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      if (Number.isFinite(u) && Number.isFinite(s)) cpuSec = u + s;
    }
    return { report, cpuSec, wallSec };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function migrations(o: Options, name: string): Promise<MigrateRow[]> {
  const { config: tb } = await testbedUp({ name, paths: 2, rateBitsPerSec: 1e9 });
  const mib = o.quick ? 256 : 1024;
  const cases: Array<[string, string[]]> = [
    [`idle ${mib} MiB, codec none`, ['--guest-mib', String(mib), '--workload', 'idle', '--codec', 'none']],
    [`hotset ${mib} MiB, lz4-delta`, ['--guest-mib', String(mib), '--workload', 'hotset', '--codec', 'lz4-delta']],
  ];
  const rows: MigrateRow[] = [];
  for (const [label, args] of cases) {
    const group: MigrateRow[] = [];
    for (const transport of ['tcp', 'mptcp', 'multipath']) {
      let top: MigrateRow | undefined;
      for (let r = 0; r < o.reps; r++) {
        const { report, cpuSec, wallSec } = await migrateOnce(tb, transport, args);
        const paths = (report.paths as Array<{ label: string; bytesSent: number; subflow?: { bytesAcked: number } }>) ?? [];
        const perPath = [0, 0];
        for (const p of paths) perPath[Math.min(1, pathIndexOf(p.label))] += p.subflow?.bytesAcked ?? p.bytesSent;
        const wire = Number(report['wire-bytes'] ?? 0);
        const row: MigrateRow = {
          case: label, transport, totalMs: Number(report['total-time']), downtimeMs: Number(report.downtime),
          wireBytes: wire, verified: report.verified === true, selfCheck: (report['self-check'] as { ok?: boolean } | null)?.ok !== false,
          vsTcp: 1, perPath, cpuSec, cpuSecPerGB: cpuSec === null ? null : cpuSec / (wire / 1e9),
          cores: cpuSec === null ? null : cpuSec / wallSec, wallSec, load: load1(), coresAtLinkRate: null, cpuBound: false,
        };
        const usedPaths = transport === 'tcp' ? 1 : tb.paths.length;
        const linkGBps = (tb.paths.slice(0, usedPaths).reduce((a, p) => a + p.rateBitsPerSec, 0) * TBF_GOODPUT) / 8 / 1e9;
        row.coresAtLinkRate = row.cpuSecPerGB === null ? null : row.cpuSecPerGB * linkGBps;
        row.cpuBound = (row.coresAtLinkRate ?? 0) >= 1;
        if (!top || row.totalMs < top.totalMs) top = row;
      }
      group.push(top!);
    }
    for (const r of group) r.vsTcp = r.totalMs / group[0].totalMs;
    rows.push(...group);
  }
  return rows;
}

// ---------------------------------------------------------------- main

function parseArgs(argv: string[]): Options {
  const o: Options = { json: false, quick: false, reps: 0, only: new Set(SECTIONS) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--quick') o.quick = true;
    else if (a === '--reps') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n < 1 || n > 10) throw new Error(`Expected --reps to be an integer from 1 to 10, got '${argv[i]}'`);
      o.reps = n;
    } else if (a === '--only') {
      const list = String(argv[++i] ?? '').split(',');
      for (const s of list) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`Expected --only to list sections of ${SECTIONS.join(', ')}, got '${s}'`);
      o.only = new Set(list as Section[]);
    } else throw new Error(`Unknown argument '${a}'; expected --json, --quick, --reps N or --only SECTION,...`);
  }
  if (o.reps === 0) o.reps = o.quick ? 1 : 2;
  return o;
}

export interface PathsBenchResult {
  quick: boolean;
  reps: number;
  loadStart: number;
  loadEnd: number;
  aggregate: AggregateRow[];
  subflows: SubflowRow[];
  failover: FailoverRow[];
  congestion: CongestionRow[];
  migrate: MigrateRow[];
  targets: Array<{ target: string; measured: string; met: boolean | null }>;
}

function targetsOf(r: PathsBenchResult): PathsBenchResult['targets'] {
  const out: PathsBenchResult['targets'] = [];
  const agg = (setup: string, t: string): AggregateRow | undefined => r.aggregate.find((x) => x.setup === setup && x.transport === t);
  for (const t of ['mptcp', 'multipath']) {
    const eq = agg('2 x 200mbit', t);
    if (eq) out.push({ target: `${t}: two equal paths >= 95% of the sum`, measured: `${pct(eq.ofSum)} raw, ${pct(eq.ofAchievable)} of achievable`, met: eq.ofSum >= 0.95 });
    const uneq = agg('200 + 50mbit', t);
    if (uneq) out.push({ target: `${t}: unequal 4:1 >= 90% of the sum`, measured: `${pct(uneq.ofSum)} raw, ${pct(uneq.ofAchievable)} of achievable`, met: uneq.ofSum >= 0.9 });
  }
  for (const setup of ['2 x 200mbit', '200 + 50mbit']) {
    const k = agg(setup, 'mptcp');
    const m = agg(setup, 'multipath');
    if (k && m) out.push({ target: `multipath within 5% of mptcp (${setup})`, measured: `${mbit(m.steadyBitsPerSec)} vs ${mbit(k.steadyBitsPerSec)} Mbit/s (${pct(m.steadyBitsPerSec / k.steadyBitsPerSec)})`, met: m.steadyBitsPerSec >= 0.95 * k.steadyBitsPerSec });
  }
  for (const f of r.failover) {
    out.push({
      target: `${f.transport}, path ${f.downPath} down: survivor's full rate within 2 s, nothing lost`,
      measured: `${f.recoverySec === null ? 'never' : `${f.recoverySec.toFixed(2)} s`}, lost ${f.lost}, dup ${f.duplicates}, corrupt ${f.corrupt}`,
      met: f.recoverySec !== null && f.recoverySec <= 2 && f.lost === 0 && f.corrupt === 0 && f.duplicates === 0,
    });
  }
  for (const m of r.migrate) {
    if (m.transport === 'tcp') continue;
    out.push({
      target: `migration ${m.case}, ${m.transport}: two paths <= 0.55x one path`,
      measured: `${m.vsTcp.toFixed(2)}x (${m.totalMs.toFixed(0)} ms)${m.cpuBound ? ', cpu-bound' : ''}`, met: m.vsTcp <= 0.55,
    });
  }
  return out;
}

function print(r: PathsBenchResult): void {
  const out: string[] = [];
  out.push(`livemig bench paths${r.quick ? ' --quick' : ''}: best of ${r.reps}; load average (1 min) ${r.loadStart.toFixed(2)} at start, ${r.loadEnd.toFixed(2)} at end; 2 cores shared`);
  out.push(`achievable = ${TBF_GOODPUT * 100}% of the tbf rate (TCP goodput over tbf); "cpu" flags a figure bound by the cores`);
  if (r.aggregate.length) {
    out.push('', table('aggregate goodput over two paths (steady: from 1 s after the first byte)',
      ['setup', 'transport', 'Mbit/s', '% of sum', '% of achievable', 'path0 / path1 MB', 'CPU s/GB', 'cores snd+rcv', 'load', ''],
      r.aggregate.map((a) => [a.setup, a.transport, mbit(a.steadyBitsPerSec), pct(a.ofSum), pct(a.ofAchievable),
        a.perPath.map((b) => (b / 1e6).toFixed(0)).join(' / '), a.cpuSecPerGB.toFixed(2), `${a.cores[0].toFixed(2)}+${a.cores[1].toFixed(2)}`,
        a.load.toFixed(2), a.cpuBound ? 'cpu' : ''])));
  }
  if (r.subflows.length) {
    out.push('', table('multipath subflows over 2 x 200mbit (least-queued)',
      ['subflows', 'placement', 'Mbit/s', '% of achievable', 'path0 / path1 MB', 'CPU s/GB', 'load', ''],
      r.subflows.map((s) => [String(s.subflows), s.perPath, mbit(s.steadyBitsPerSec), pct(s.ofAchievable),
        s.bytesPerPath.map((b) => (b / 1e6).toFixed(0)).join(' / '), s.cpuSecPerGB.toFixed(2), s.load.toFixed(2), s.cpuBound ? 'cpu' : ''])));
  }
  if (r.failover.length) {
    out.push('', table('one path down mid-transfer (2 x 200mbit; full rate = 90% of the survivor\'s achievable over 500 ms)',
      ['transport', 'path down', 'back to full rate', 'longest stall', 'survivor Mbit/s', '% of achievable', 'messages', 'lost', 'dup', 'corrupt', 'load'],
      r.failover.map((f) => [f.transport, String(f.downPath), f.recoverySec === null ? 'never' : `${f.recoverySec.toFixed(2)} s`,
        `${f.stallSec.toFixed(2)} s`, mbit(f.survivorBitsPerSec), pct(f.survivorOfAchievable), String(f.messages), String(f.lost), String(f.duplicates), String(f.corrupt), f.load.toFixed(2)])));
  }
  if (r.congestion.length) {
    out.push('', table('cross traffic (one cubic flow at full speed) on path 0 mid-transfer (2 x 200mbit)',
      ['transport', 'path0 share before', 'during', 'channel Mbit/s before', 'during', 'cross Mbit/s', 'load'],
      r.congestion.map((c) => [c.transport, pct(c.shareBefore), pct(c.shareDuring), mbit(c.channelBefore), mbit(c.channelDuring),
        c.crossBitsPerSec === null ? '-' : mbit(c.crossBitsPerSec), c.load.toFixed(2)])));
  }
  if (r.migrate.length) {
    out.push('', table('migrations over 2 x 1gbit (livemig migrate --testbed; tcp uses one path: the baseline)',
      ['case', 'transport', 'total ms', 'vs tcp', 'downtime ms', 'wire MB', 'path0 / path1 MB', 'verified', 'CPU s', 'CPU s/GB', 'cores', 'cores at link rate', 'load', ''],
      r.migrate.map((m) => [m.case, m.transport, m.totalMs.toFixed(0), `${m.vsTcp.toFixed(2)}x`, m.downtimeMs.toFixed(0), (m.wireBytes / 1e6).toFixed(0),
        m.perPath.map((b) => (b / 1e6).toFixed(0)).join(' / '), m.verified && m.selfCheck ? 'yes' : 'NO',
        m.cpuSec === null ? '-' : m.cpuSec.toFixed(2), m.cpuSecPerGB === null ? '-' : m.cpuSecPerGB.toFixed(2),
        m.cores === null ? '-' : m.cores.toFixed(2), m.coresAtLinkRate === null ? '-' : m.coresAtLinkRate.toFixed(2), m.load.toFixed(2), m.cpuBound ? 'cpu' : ''])));
    out.push('CPU s = user + system of every process of the run (/usr/bin/time: source, destination, guest fill and workload);',
      'cores at link rate = CPU s/GB x the paths\' achievable GB/s: >= 1 ("cpu") means the 2 shared cores, not the links, bound the time');
  }
  out.push('', table('targets', ['target', 'measured', 'met'], r.targets.map((t) => [t.target, t.measured, t.met === null ? '-' : t.met ? 'yes' : 'NO'])));
  console.log(out.join('\n'));
}

/** Runs the benchmark and prints tables (or JSON with --json); returns the figures. */
export async function main(argv: string[] = []): Promise<PathsBenchResult> {
  const o = parseArgs(argv);
  if (process.getuid?.() !== 0) throw new Error('livemig bench paths needs root: it builds network namespaces');
  const r: PathsBenchResult = {
    quick: o.quick, reps: o.reps, loadStart: load1(), loadEnd: 0, aggregate: [], subflows: [], failover: [], congestion: [], migrate: [], targets: [],
  };
  const log = (s: string): void => void process.stderr.write(`bench paths: ${s} (load ${load1().toFixed(2)})\n`);
  const NAME = 'pbench';
  const MIG = 'pbmig';
  try {
    if (o.only.has('aggregate')) {
      log('aggregate, 200 + 50mbit');
      r.aggregate.push(...await aggregate(o, NAME, [200e6, 50e6], '200 + 50mbit'));
    }
    if (o.only.has('aggregate') || o.only.has('subflows') || o.only.has('failover') || o.only.has('congestion')) {
      const { config: tb } = await testbedUp({ name: NAME, paths: 2, rateBitsPerSec: 200e6 });
      if (o.only.has('aggregate')) {
        log('aggregate, 2 x 200mbit');
        r.aggregate.unshift(...await aggregate(o, NAME, [200e6, 200e6], '2 x 200mbit'));
      }
      if (o.only.has('subflows')) {
        log('subflows');
        r.subflows = await subflows(o, tb);
      }
      if (o.only.has('failover')) {
        log('failover');
        r.failover = await failover(o, tb);
      }
      if (o.only.has('congestion')) {
        log('congestion');
        r.congestion = await congestion(o, tb);
      }
    }
    await testbedDown({ name: NAME });
    if (o.only.has('migrate')) {
      log('migrations');
      r.migrate = await migrations(o, MIG);
    }
  } finally {
    await testbedDown({ name: NAME }).catch(() => undefined);
    await testbedDown({ name: MIG }).catch(() => undefined);
  }
  r.loadEnd = load1();
  r.targets = targetsOf(r);
  if (o.json) console.log(JSON.stringify(r, null, 2));
  else print(r);
  return r;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
