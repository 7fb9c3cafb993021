/**
 * The transport table: a name to a factory, as QEMU's multifd_register_ops. tcp is built in;
 * mptcp and multipath register themselves here when they exist.
 */
import { LivemigError } from '../core/index.js';
import { connectTcp, listenTcp } from './tcp/index.js';
import type { Transport, TransportName } from './types.js';

const factories = new Map<TransportName, () => Transport>([
  ['tcp', () => ({ name: 'tcp', connect: connectTcp, listen: listenTcp })],
]);

/** Adds (or replaces) the factory for a transport name. */
export function registerTransport(name: TransportName, factory: () => Transport): void {
  factories.set(name, factory);
}

/** Names that createTransport accepts. */
export function transportNames(): TransportName[] {
  return [...factories.keys()];
}

/**
 * Returns the transport with this name, e.g. `createTransport('tcp').connect(endpoint, options)`.
 * Throws LIVEMIG_E_INVALID_OPTION for a name with no registered factory ('memory' has no endpoints:
 * use createMemoryPair).
 */
export function createTransport(name: TransportName): Transport {
  const factory = factories.get(name);
  if (factory === undefined) {
    throw new LivemigError(
      'LIVEMIG_E_INVALID_OPTION',
      `Expected transport to be one of ${transportNames().join(', ')}, got '${String(name)}'`
      + (name === 'memory' ? ' (an in-process pair has no endpoints: use createMemoryPair)' : ''),
    );
  }
  return factory();
}
