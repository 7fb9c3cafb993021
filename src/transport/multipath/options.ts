/**
 * Multipath options: defaults and validation at the boundary, with precise messages.
 */
import type { Socket } from 'node:net';
import { KiB, LivemigError } from '../../core/index.js';
import { resolveChannelOptions, type ResolvedChannelOptions } from '../options.js';
import type { Endpoint } from '../types.js';
import { createScheduler, SCHEDULER_NAMES } from './scheduler/index.js';
import type {
  MultipathChannelOptions, MultipathConnectOptions, MultipathOrdering, MultipathPath, Scheduler,
} from './types.js';

export const DEFAULT_SUBFLOW_WRITE_HIGH_WATER_BYTES = 256 * KiB;
export const DEFAULT_REJOIN_TIMEOUT_MS = 5000;
export const DEFAULT_REJOIN_INTERVAL_MS = 500;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_SUBFLOW_TIMEOUT_MS = 5000;
export const DEFAULT_REINJECT_AFTER_MS = 200;
/** Most subflows per channel (the slot travels as a u16; more would not help). */
export const MAX_SUBFLOWS = 256;

export interface ResolvedMultipathOptions extends ResolvedChannelOptions {
  ordering: MultipathOrdering;
  newScheduler: () => Scheduler;
  key: Uint8Array;
  subflowWriteHighWaterBytes: number;
  rejoinTimeoutMs: number;
  handshakeTimeoutMs: number;
  subflowTimeoutMs: number;
  reinjectAfterMs: number;
  congestionControl: string;
  onSubflow: ((info: { socket: Socket; slot: number; side: 'connect' | 'listen' }) => void) | undefined;
}

export interface ResolvedMultipathConnectOptions extends ResolvedMultipathOptions {
  /** One entry per subflow slot. */
  slots: MultipathPath[];
  connectTimeoutMs: number;
  connectRetryDelayMs: number;
  rejoinIntervalMs: number;
}

function invalid(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_INVALID_OPTION', message, { phase: 'setup' });
}

function integer(value: number | undefined, name: string, fallback: number, min: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`Expected ${name} to be an integer number of ${unit} from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Throws LIVEMIG_E_INVALID_OPTION unless `endpoint` is { host: non-empty string, port: 0..65535 }. */
export function validateEndpoint(endpoint: Endpoint, name: string): void {
  if (endpoint === null || typeof endpoint !== 'object' || typeof endpoint.host !== 'string' || endpoint.host === '') {
    throw invalid(`Expected ${name} to be an endpoint { host, port } with a non-empty host, got ${JSON.stringify(endpoint)}`);
  }
  if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 65535) {
    throw invalid(`Expected ${name}.port to be an integer from 0 to 65535, got ${String(endpoint.port)}`);
  }
}

export function resolveMultipathOptions(options: MultipathChannelOptions = {}): ResolvedMultipathOptions {
  const base = resolveChannelOptions(options, false);
  const ordering = options.ordering ?? 'barrier';
  if (ordering !== 'strict' && ordering !== 'barrier') {
    throw invalid(`Expected ordering to be 'strict' or 'barrier', got ${String(ordering)}`);
  }
  const scheduler = options.scheduler ?? 'least-queued';
  let newScheduler: () => Scheduler;
  if (typeof scheduler === 'function') newScheduler = scheduler;
  else if ((SCHEDULER_NAMES as readonly string[]).includes(scheduler)) newScheduler = () => createScheduler(scheduler);
  else throw invalid(`Expected scheduler to be one of ${SCHEDULER_NAMES.join(', ')} or a factory function, got ${String(scheduler)}`);
  if (options.key !== undefined && !(options.key instanceof Uint8Array)) {
    throw invalid(`Expected key to be a Uint8Array (a pre-shared key), got ${typeof options.key}`);
  }
  const cc = options.congestionControl ?? 'cubic';
  if (typeof cc !== 'string' || !/^[a-z0-9_]{0,15}$/.test(cc)) {
    throw invalid(`Expected congestionControl to be a kernel congestion control name such as 'cubic' or '', got ${String(cc)}`);
  }
  if (options.onSubflow !== undefined && typeof options.onSubflow !== 'function') {
    throw invalid(`Expected onSubflow to be a function, got ${typeof options.onSubflow}`);
  }
  const big = 2 ** 31;
  return {
    ...base,
    ordering,
    newScheduler,
    key: options.key ?? new Uint8Array(0),
    subflowWriteHighWaterBytes: integer(
      options.subflowWriteHighWaterBytes, 'subflowWriteHighWaterBytes', DEFAULT_SUBFLOW_WRITE_HIGH_WATER_BYTES, 1, big, 'bytes',
    ),
    rejoinTimeoutMs: integer(options.rejoinTimeoutMs, 'rejoinTimeoutMs', DEFAULT_REJOIN_TIMEOUT_MS, 0, big, 'milliseconds'),
    handshakeTimeoutMs: integer(options.handshakeTimeoutMs, 'handshakeTimeoutMs', DEFAULT_HANDSHAKE_TIMEOUT_MS, 1, big, 'milliseconds'),
    subflowTimeoutMs: integer(options.subflowTimeoutMs, 'subflowTimeoutMs', DEFAULT_SUBFLOW_TIMEOUT_MS, 0, big, 'milliseconds'),
    reinjectAfterMs: integer(options.reinjectAfterMs, 'reinjectAfterMs', DEFAULT_REINJECT_AFTER_MS, 0, big, 'milliseconds'),
    congestionControl: cc,
    onSubflow: options.onSubflow,
  };
}

export function resolveMultipathConnectOptions(options: MultipathConnectOptions): ResolvedMultipathConnectOptions {
  if (options === null || typeof options !== 'object') {
    throw invalid(`Expected multipath connect options to be an object, got ${String(options)}`);
  }
  const resolved = resolveMultipathOptions(options);
  let paths: MultipathPath[];
  if (options.paths !== undefined) {
    if (!Array.isArray(options.paths) || options.paths.length === 0) {
      throw invalid(`Expected paths to be a non-empty array of { local?, remote }, got ${JSON.stringify(options.paths)}`);
    }
    paths = options.paths;
  } else if (options.remote !== undefined) {
    paths = [{ remote: options.remote }];
  } else {
    throw invalid('Expected paths (an array of { local?, remote }) or remote (an endpoint { host, port })');
  }
  paths.forEach((p, i) => {
    validateEndpoint(p.remote, `paths[${i}].remote`);
    if (p.local !== undefined && (typeof p.local !== 'string' || p.local === '')) {
      throw invalid(`Expected paths[${i}].local to be a local IP address, got ${JSON.stringify(p.local)}`);
    }
  });
  const perPath = integer(options.subflows, 'subflows', 1, 1, MAX_SUBFLOWS, 'subflows per path');
  if (perPath * paths.length > MAX_SUBFLOWS) {
    throw invalid(`Expected at most ${MAX_SUBFLOWS} subflows in all, got ${paths.length} paths x ${perPath} subflows`);
  }
  const slots: MultipathPath[] = [];
  for (let k = 0; k < perPath; k++) for (const p of paths) slots.push(p);
  return {
    ...resolved,
    slots,
    connectTimeoutMs: integer(options.connectTimeoutMs, 'connectTimeoutMs', 0, 0, 2 ** 31, 'milliseconds'),
    connectRetryDelayMs: integer(options.connectRetryDelayMs, 'connectRetryDelayMs', 100, 1, 2 ** 31, 'milliseconds'),
    rejoinIntervalMs: integer(options.rejoinIntervalMs, 'rejoinIntervalMs', DEFAULT_REJOIN_INTERVAL_MS, 1, 2 ** 31, 'milliseconds'),
  };
}
