import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { LivemigError, isLivemigError } from '../core/index.js';
import { requireRoot, run, tryRun } from './exec.js';
import { DEFAULT_TESTBED_NAME, namespaceNames, resolveTestbedConfig } from './options.js';
import { readState, removeState, writeState, type TestbedState } from './state.js';
import type {
  CongestionRecord, PathState, PathStatus, TestbedConfig, TestbedOptions, TestbedStatus, TestbedUpResult,
} from './types.js';

/** Names of every network namespace on the host. */
export async function listNamespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  // Lines look like "lm-src (id: 3)" or just "lm-src".
  return out.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n): n is string => !!n);
}

/** True while process `pid` exists (signal 0 probes without delivering anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function namespacePids(ns: string): Promise<number[]> {
  const out = await tryRun('ip', ['netns', 'pids', ns]);
  return (out?.stdout ?? '').split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0 && p !== process.pid);
}

/**
 * Ends every process living in namespace `ns` (found by id through `ip netns pids`): SIGTERM, then
 * SIGKILL after `graceMs`. A namespace with processes in it outlives `ip netns del`, so this comes first.
 */
async function killNamespaceProcesses(ns: string, graceMs = 2000): Promise<void> {
  let pids = await namespacePids(ns);
  for (const pid of pids) signal(pid, 'SIGTERM');
  for (const deadline = Date.now() + graceMs; pids.length > 0 && Date.now() < deadline; ) {
    await sleep(50);
    pids = pids.filter(isAlive);
  }
  for (const pid of pids) signal(pid, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Removes namespaces (and so their veths and qdiscs) and the processes inside them. */
async function removeNamespaces(names: Iterable<string>): Promise<string[]> {
  const present = new Set(await listNamespaces());
  const removed: string[] = [];
  for (const ns of new Set(names)) {
    if (!present.has(ns)) continue;
    await killNamespaceProcesses(ns);
    await run('ip', ['netns', 'del', ns]);
    removed.push(ns);
  }
  return removed;
}

/** Every namespace a testbed may own: the ones its state recorded and the ones its name implies. */
function ownedNamespaces(name: string, state: TestbedState | null): string[] {
  const { srcNs, dstNs } = namespaceNames(name);
  return [srcNs, dstNs, ...(state ? [state.config.srcNs, state.config.dstNs] : [])];
}

function ip(ns: string, ...args: string[]): Promise<unknown> {
  return run('ip', ['-n', ns, ...args]);
}

/** Creates namespaces, paths, shaping, routes and MPTCP endpoints; the caller cleans up on failure. */
async function build(config: TestbedConfig): Promise<void> {
  const { srcNs, dstNs } = config;
  for (const ns of [srcNs, dstNs]) {
    await run('ip', ['netns', 'add', ns]);
    await ip(ns, 'link', 'set', 'lo', 'up');
    // rp_filter would drop a subflow's packets that arrive on a path other than the route's choice.
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w',
      'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.mptcp.enabled=1']);
  }
  for (const p of config.paths) {
    await run('ip', ['link', 'add', p.srcDev, 'netns', srcNs, 'type', 'veth', 'peer', 'name', p.dstDev, 'netns', dstNs]);
    for (const [ns, dev, addr] of [[srcNs, p.srcDev, p.srcAddr], [dstNs, p.dstDev, p.dstAddr]] as const) {
      // noprefixroute + our own route: the route carries `congctl cubic` (see index.ts on why not sysctl).
      await ip(ns, 'addr', 'add', `${addr}/24`, 'dev', dev, 'noprefixroute');
      await ip(ns, 'link', 'set', dev, 'up');
      await pathRoute(config, ns, dev, addr, p.prefix);
      await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${p.rateBitsPerSec}bit`,
        'burst', String(p.burstBytes), 'latency', `${config.queueLatencyMs}ms`]);
    }
  }
  // Variant A of the reference: the destination announces (signal) paths 1..K-1, the source accepts
  // the announcements and joins each from the address its route picks, i.e. over that path.
  const extra = String(config.paths.length - 1);
  for (const ns of [srcNs, dstNs]) await ip(ns, 'mptcp', 'limits', 'set', 'subflow', extra, 'add_addr_accepted', extra);
  for (const p of config.paths.slice(1)) await ip(dstNs, 'mptcp', 'endpoint', 'add', p.dstAddr, 'dev', p.dstDev, 'signal');
}

/**
 * The path's connected route, carrying the congestion control. `replace` so that it also restores
 * the route the kernel flushes when the link goes down (noprefixroute: nothing else brings it back).
 */
function pathRoute(config: TestbedConfig, ns: string, dev: string, addr: string, prefix: string): Promise<unknown> {
  return ip(ns, 'route', 'replace', prefix, 'dev', dev, 'proto', 'kernel', 'scope', 'link', 'src', addr,
    'congctl', config.congestionControl);
}

/** Both namespaces exist and every path has its veth ends with a tbf qdisc. */
async function isIntact(config: TestbedConfig): Promise<boolean> {
  const present = new Set(await listNamespaces());
  if (!present.has(config.srcNs) || !present.has(config.dstNs)) return false;
  for (const [ns, devs] of [[config.srcNs, config.paths.map((p) => p.srcDev)], [config.dstNs, config.paths.map((p) => p.dstDev)]] as const) {
    const links = await linkTable(ns);
    if (devs.some((d) => links.get(d)?.qdisc !== 'tbf')) return false;
  }
  return true;
}

interface LinkInfo {
  flags: string[];
  qdisc?: string;
}

async function linkTable(ns: string): Promise<Map<string, LinkInfo>> {
  const out = await tryRun('ip', ['-n', ns, '-j', 'link', 'show']);
  const rows = out ? (JSON.parse(out.stdout || '[]') as Array<LinkInfo & { ifname: string }>) : [];
  return new Map(rows.map((r) => [r.ifname, r]));
}

interface QdiscInfo {
  kind: string;
  options?: { rate?: number };
  bytes?: number;
  drops?: number;
}

async function qdiscOf(ns: string, dev: string): Promise<QdiscInfo | undefined> {
  const out = await tryRun('tc', ['-n', ns, '-j', '-s', 'qdisc', 'show', 'dev', dev, 'root']);
  const rows = out ? (JSON.parse(out.stdout || '[]') as QdiscInfo[]) : [];
  return rows.find((q) => q.kind === 'tbf');
}

/**
 * Builds the testbed. Idempotent: with the same configuration as the recorded one (and everything
 * still in place) it does nothing and reports `changed: false`; with another configuration, or when
 * something is missing, it removes the old testbed and builds anew. A failed build removes
 * whatever it had made before the error is thrown.
 */
export async function testbedUp(options: TestbedOptions = {}): Promise<TestbedUpResult> {
  requireRoot('livemig testbed up');
  const config = resolveTestbedConfig(options);
  const state = await readState(config.name);
  if (state && isDeepStrictEqual(state.config, config) && (await isIntact(config))) return { config, changed: false };
  await removeNamespaces(ownedNamespaces(config.name, state));
  await removeState(config.name);
  try {
    await build(config);
    await writeState({ version: 1, config, createdAtMs: Date.now(), congestion: [] });
  } catch (err) {
    await removeNamespaces(ownedNamespaces(config.name, null)).catch(() => undefined);
    await removeState(config.name).catch(() => undefined);
    if (isLivemigError(err)) throw err;
    throw new LivemigError('LIVEMIG_E_TESTBED', `testbed up failed and was rolled back: ${(err as Error).message}`, { cause: err });
  }
  return { config, changed: true };
}

/**
 * Removes testbed `name`: ends every process inside its namespaces, deletes the namespaces (which
 * deletes their veths, qdiscs and MPTCP endpoints) and the state file. Safe to call when nothing exists.
 * @returns the namespaces that were removed.
 */
export async function testbedDown(options: { name?: string } = {}): Promise<{ removed: string[] }> {
  requireRoot('livemig testbed down');
  const name = options.name ?? DEFAULT_TESTBED_NAME;
  const state = await readState(name);
  // Detached cross traffic lives in the namespaces; killNamespaceProcesses finds it by id.
  const removed = await removeNamespaces(ownedNamespaces(name, state));
  await removeState(name);
  return { removed };
}

/**
 * Reports the recorded configuration and the live state of each path: link up/down, the rate tbf
 * really applies on each side, bytes and drops. With `sampleMs` > 0 it also measures each path's
 * current source → destination throughput over that window.
 */
export async function testbedStatus(options: { name?: string; sampleMs?: number } = {}): Promise<TestbedStatus> {
  requireRoot('livemig testbed status');
  const name = options.name ?? DEFAULT_TESTBED_NAME;
  const state = await readState(name);
  const present = new Set(await listNamespaces());
  if (!state) {
    const stray = ownedNamespaces(name, null).filter((ns) => present.has(ns));
    const problems = stray.length ? [`namespaces ${stray.join(', ')} exist without a state file; run 'livemig testbed down' to remove them`] : [];
    return { up: false, config: null, paths: [], mptcpEndpoints: [], congestion: [], problems };
  }
  const { config } = state;
  const problems: string[] = [];
  for (const ns of [config.srcNs, config.dstNs]) if (!present.has(ns)) problems.push(`namespace ${ns} is missing`);
  const srcLinks = await linkTable(config.srcNs);
  const srcRoutes = (await tryRun('ip', ['-n', config.srcNs, 'route', 'show']))?.stdout ?? '';
  const paths: PathStatus[] = [];
  for (const p of config.paths) {
    const [sq, dq] = await Promise.all([qdiscOf(config.srcNs, p.srcDev), qdiscOf(config.dstNs, p.dstDev)]);
    const link = srcLinks.get(p.srcDev);
    if (!link) problems.push(`path ${p.index}: ${p.srcDev} is missing in ${config.srcNs}`);
    if (link?.flags.includes('UP') && !srcRoutes.includes(`${p.prefix} dev ${p.srcDev}`)) {
      problems.push(`path ${p.index}: no route ${p.prefix} via ${p.srcDev} in ${config.srcNs}`);
    }
    if (!sq || !dq) problems.push(`path ${p.index}: tbf is missing on ${!sq ? p.srcDev : p.dstDev}`);
    paths.push({
      index: p.index,
      srcAddr: p.srcAddr,
      dstAddr: p.dstAddr,
      srcDev: p.srcDev,
      dstDev: p.dstDev,
      rateBitsPerSec: p.rateBitsPerSec,
      // tc -j reports tbf's rate in bytes per second.
      shapedSrcBitsPerSec: sq?.options?.rate !== undefined ? sq.options.rate * 8 : null,
      shapedDstBitsPerSec: dq?.options?.rate !== undefined ? dq.options.rate * 8 : null,
      state: link?.flags.includes('UP') ? 'up' : 'down',
      lowerUp: link?.flags.includes('LOWER_UP') ?? false,
      txBytes: sq?.bytes ?? 0,
      drops: sq?.drops ?? 0,
    });
  }
  const sampleMs = options.sampleMs ?? 0;
  if (sampleMs > 0 && paths.length > 0) {
    const t0 = performance.now();
    await sleep(sampleMs);
    const again = await Promise.all(config.paths.map((p) => qdiscOf(config.srcNs, p.srcDev)));
    const seconds = (performance.now() - t0) / 1000;
    paths.forEach((ps, i) => {
      ps.sampledTxBitsPerSec = Math.max(0, ((again[i]?.bytes ?? ps.txBytes) - ps.txBytes) * 8) / seconds;
    });
  }
  const endpoints = await tryRun('ip', ['-n', config.dstNs, 'mptcp', 'endpoint', 'show']);
  const congestion: CongestionRecord[] = state.congestion.filter((c) => c.pids.some(isAlive));
  return {
    up: present.has(config.srcNs) && present.has(config.dstNs),
    config,
    paths,
    mptcpEndpoints: (endpoints?.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean),
    congestion,
    problems,
  };
}

/** The recorded configuration of testbed `name`; throws when it is not up. */
export async function requireTestbed(name = DEFAULT_TESTBED_NAME): Promise<TestbedState> {
  const state = await readState(name);
  if (!state) {
    const flag = name === DEFAULT_TESTBED_NAME ? '' : ` --name ${name}`;
    throw new LivemigError('LIVEMIG_E_TESTBED', `no testbed '${name}' is up; run 'livemig testbed up${flag}' first`);
  }
  return state;
}

/**
 * Takes path `index` down or up, by `ip link set down|up` on its source-side veth (the peer then
 * loses carrier too). Used to test failover; MPTCP does not remove the endpoint when a link goes down.
 */
export async function setPathState(index: number, state: PathState, options: { name?: string } = {}): Promise<void> {
  requireRoot('changing a testbed path');
  if (state !== 'up' && state !== 'down') throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a path state of up or down, got '${String(state)}'`);
  const { config } = await requireTestbed(options.name);
  const path = config.paths[index];
  if (!path) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a path number from 0 to ${config.paths.length - 1}, got '${index}'`);
  await ip(config.srcNs, 'link', 'set', path.srcDev, state);
  if (state === 'up') {
    await pathRoute(config, config.srcNs, path.srcDev, path.srcAddr, path.prefix);
    await pathRoute(config, config.dstNs, path.dstDev, path.dstAddr, path.prefix);
  }
}

/** Appends a background flow to the state file (used by startCongestion). */
export async function recordCongestion(name: string, record: CongestionRecord): Promise<void> {
  const state = await requireTestbed(name);
  state.congestion = [...state.congestion.filter((c) => c.pids.some(isAlive)), record];
  await writeState(state);
}
