import type { ParseArgsConfig } from 'node:util';
import { LivemigError } from '../core/index.js';
import {
  authenticateChannel, authFraming, connectMultipath, connectTls, createTransport, listenMultipath, listenTls, readKeyFile, readTlsFiles,
  SecureListener, type Channel, type Endpoint, type Listener, type TlsCredentials, type TransportName,
} from '../transport/index.js';
import { checkFrame, encodeAbortFor } from '../wire/index.js';
import { testbedStatus, type TestbedConfig } from '../testbed/index.js';
import { choiceOpt, intOpt, type Flags } from './args.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options that choose how the bytes travel (migrate, send, receive). */
export const TRANSPORT_OPTIONS: Options = {
  transport: { type: 'string' },
  paths: { type: 'string' },
  subflows: { type: 'string' },
  scheduler: { type: 'string' },
  testbed: { type: 'boolean' },
  'testbed-name': { type: 'string' },
};

/** Options that authenticate the peers (migrate, send, receive). */
export const SECURITY_OPTIONS: Options = {
  'key-file': { type: 'string' },
  tls: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
};
Object.assign(TRANSPORT_OPTIONS, SECURITY_OPTIONS);

export const SECURITY_HELP = `Authentication:
  --key-file FILE          pre-shared key (>= 16 bytes, same file on both sides): every
                           connection and subflow proves it by HMAC-SHA256 challenge-response
                           before any migration data; others are refused and counted
  --tls                    tcp inside mutually authenticated TLS 1.3 (tcp only), with:
  --tls-cert F --tls-key F this side's PEM certificate and key
  --tls-ca F               the CA that must have signed the peer's certificate`;

export const TRANSPORT_HELP = `Transport:
  --transport T            tcp | mptcp | multipath (default tcp)
  --paths LIST             multipath: LOCAL>REMOTE address pairs (or REMOTE addresses),
                           comma-separated, one subflow each; the port is the target's
  --subflows N             multipath: subflows per path (default 1)
  --scheduler S            multipath: round-robin | least-queued | weighted (default least-queued)
  --testbed                migrate only: run the source in the testbed's source namespace and
                           the destination in its destination namespace, over all its paths
  --testbed-name NAME      which testbed (default: the default one)
${SECURITY_HELP}`;

const SCHEDULERS = ['round-robin', 'least-queued', 'weighted'] as const;

export interface TransportConfig {
  transport: Exclude<TransportName, 'memory'>;
  paths: Array<{ local?: string; remote: string }> | null;
  subflows: number;
  scheduler: (typeof SCHEDULERS)[number];
  testbed: boolean;
  testbedName: string | undefined;
  /** The pre-shared key and the file it came from, or null. */
  key: { file: string; bytes: Uint8Array } | null;
  /** TLS credentials and their files, or null. */
  tls: { files: { cert: string; key: string; ca: string }; credentials: TlsCredentials } | null;
}

export function transportConfig(v: Flags): TransportConfig {
  const cfg: TransportConfig = {
    transport: choiceOpt(v, 'transport', ['tcp', 'mptcp', 'multipath'] as const, 'tcp'),
    paths: v.paths === undefined ? null : parsePaths(String(v.paths)),
    subflows: intOpt(v, 'subflows', 1, 1, 64),
    scheduler: choiceOpt(v, 'scheduler', SCHEDULERS, 'least-queued'),
    testbed: v.testbed === true,
    testbedName: v['testbed-name'] as string | undefined,
    key: null,
    tls: null,
  };
  securityConfig(v, cfg);
  if (cfg.transport !== 'multipath' && (cfg.paths || v.subflows !== undefined || v.scheduler !== undefined)) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `--paths, --subflows and --scheduler apply to --transport multipath, not ${cfg.transport}`, { phase: 'cli' });
  }
  return cfg;
}

function parsePaths(text: string): Array<{ local?: string; remote: string }> {
  const paths = text.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const [a, b, extra] = p.split('>');
    if (extra !== undefined || !a || b === '') {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --paths to be LOCAL>REMOTE or REMOTE addresses, comma-separated, got '${text}'`, { phase: 'cli' });
    }
    return b === undefined ? { remote: a } : { local: a, remote: b };
  });
  if (paths.length === 0) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --paths to name at least one path, got '${text}'`, { phase: 'cli' });
  return paths;
}

/** Reads --key-file and the --tls options into `cfg`, with precise errors. */
function securityConfig(v: Flags, cfg: TransportConfig): void {
  const bad = (m: string): LivemigError => new LivemigError('LIVEMIG_E_INVALID_OPTION', m, { phase: 'cli' });
  if (v['key-file'] !== undefined) cfg.key = { file: String(v['key-file']), bytes: readKeyFile(String(v['key-file'])) };
  const files = { cert: v['tls-cert'], key: v['tls-key'], ca: v['tls-ca'] };
  if (v.tls !== true) {
    if (Object.values(files).some((f) => f !== undefined)) throw bad('--tls-cert, --tls-key and --tls-ca apply with --tls');
    return;
  }
  if (cfg.transport !== 'tcp') throw bad(`--tls applies to --transport tcp, not ${cfg.transport}; use --key-file to authenticate ${cfg.transport}`);
  for (const [k, f] of Object.entries(files)) if (typeof f !== 'string') throw bad(`Expected --tls-${k} FILE with --tls`);
  const f = files as { cert: string; key: string; ca: string };
  cfg.tls = { files: f, credentials: readTlsFiles(f) };
}

/** The flags that give a child receiver the same authentication as `cfg`. */
export function securityArgs(cfg: TransportConfig): string[] {
  const out: string[] = [];
  if (cfg.key) out.push('--key-file', cfg.key.file);
  if (cfg.tls) out.push('--tls', '--tls-cert', cfg.tls.files.cert, '--tls-key', cfg.tls.files.key, '--tls-ca', cfg.tls.files.ca);
  return out;
}

/** The testbed's configuration, or a clear error when it is not up. */
export async function testbedConfig(name: string | undefined): Promise<TestbedConfig> {
  const status = await testbedStatus({ name });
  if (!status.up || !status.config) {
    throw new LivemigError('LIVEMIG_E_TESTBED', `No testbed${name ? ` '${name}'` : ''} is up: run 'livemig testbed up' first`, { phase: 'setup' });
  }
  return status.config;
}

/** Paths over every testbed path, source address to destination address. */
export function testbedPaths(tb: TestbedConfig): Array<{ local: string; remote: string }> {
  return tb.paths.map((p) => ({ local: p.srcAddr, remote: p.dstAddr }));
}

/** Opens the source's channel to `to` with the chosen transport. */
export async function connectChannel(cfg: TransportConfig, to: Endpoint): Promise<Channel> {
  const key = cfg.key?.bytes;
  const common = { messageLength: key ? authFraming(checkFrame) : checkFrame, connectTimeoutMs: 10_000 };
  if (cfg.transport === 'multipath') {
    const paths = (cfg.paths ?? [{ remote: to.host }]).map((p) => ({ local: p.local, remote: { host: p.remote, port: to.port } }));
    // Multipath proves the key in its own subflow handshake (session creation and every join).
    return connectMultipath({ ...common, messageLength: checkFrame, paths, subflows: cfg.subflows, scheduler: cfg.scheduler, key });
  }
  const channel = cfg.tls ? await connectTls(to, { ...common, tls: cfg.tls.credentials }) : await createTransport(cfg.transport).connect(to, common);
  return key ? authenticateChannel(channel, 'connect', { key }) : channel;
}

/**
 * Listens for sources with the chosen transport. With a key or TLS, only authenticated channels
 * reach accept(); the others are refused, counted (listenerStats) and reported to `onRefused`.
 */
export async function listenChannel(cfg: TransportConfig, at: Endpoint, onRefused?: (err: unknown) => void): Promise<Listener> {
  const key = cfg.key?.bytes;
  if (cfg.transport === 'multipath') return listenMultipath({ local: at, messageLength: checkFrame, key });
  const messageLength = key ? authFraming(checkFrame) : checkFrame;
  const inner = cfg.tls
    ? await listenTls(at, { messageLength, tls: cfg.tls.credentials, onRefused })
    : await createTransport(cfg.transport).listen(at, { messageLength });
  return key ? new SecureListener(inner, (ch) => authenticateChannel(ch, 'listen', { key, refusalMessage: encodeAbortFor }), { onRefused }) : inner;
}

/** Connections a listener refused (wrong key or certificate, garbage, timeouts); null when it keeps no count. */
export function listenerRefusals(listener: Listener): { accepted: number; refused: number } | null {
  const own = (listener as { stats?: () => Record<string, unknown> }).stats?.();
  if (own === undefined) return null;
  if (typeof own.refused === 'number') return { accepted: own.accepted as number, refused: own.refused };
  // A multipath listener: sessions and refused creations or joins.
  return { accepted: Number(own.sessions ?? 0), refused: Number(own.refusedSessions ?? 0) + Number(own.refusedJoins ?? 0) };
}
