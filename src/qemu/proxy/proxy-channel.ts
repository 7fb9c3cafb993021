/**
 * The livemig channel between the two proxy agents. Driver B needs every frame in order (one QEMU
 * stream), so multipath runs with `ordering: 'strict'`; tcp and mptcp are ordered anyway. The
 * send high-water mark is small so that the channel, not a buffer, sets the pace QEMU sees.
 */
import { KiB } from '../../core/index.js';
import {
  connectMultipath, createTransport, listenMultipath, type Channel, type ChannelOptions, type Endpoint, type Listener,
} from '../../transport/index.js';
import { checkFrame } from '../../wire/index.js';

/** How the agents' channel travels. */
export interface ProxyTransportSpec {
  /** @default 'tcp' */
  transport?: 'tcp' | 'mptcp' | 'multipath';
  /** multipath: one subflow per entry (LOCAL source address → REMOTE destination address). @default one path to the endpoint */
  paths?: Array<{ local?: string; remote: string }>;
  /** multipath: subflows per path, @default 1 */
  subflows?: number;
  /** multipath scheduler, @default 'least-queued' */
  scheduler?: 'round-robin' | 'least-queued' | 'weighted';
  /** Bytes queued in the channel beyond which send() waits, @default 262144 */
  sendHighWaterBytes?: number;
}

function channelOptions(spec: ProxyTransportSpec): ChannelOptions {
  // The destination sends nothing until the end (or an ABORT), so a silent peer is normal here.
  return { messageLength: checkFrame, sendHighWaterBytes: spec.sendHighWaterBytes ?? 256 * KiB, idleTimeoutMs: 0 };
}

/** Listens for the source agent's channel on `at` (port 0 picks one). */
export async function listenProxyChannel(spec: ProxyTransportSpec, at: Endpoint): Promise<Listener> {
  const transport = spec.transport ?? 'tcp';
  if (transport === 'multipath') return listenMultipath({ ...channelOptions(spec), local: at, ordering: 'strict' });
  return createTransport(transport).listen(at, channelOptions(spec));
}

/** Opens the source agent's channel to the destination agent listening on `to`. */
export async function connectProxyChannel(spec: ProxyTransportSpec, to: Endpoint): Promise<Channel> {
  const transport = spec.transport ?? 'tcp';
  const common = { ...channelOptions(spec), connectTimeoutMs: 10_000 };
  if (transport === 'multipath') {
    const paths = (spec.paths ?? [{ remote: to.host }]).map((p) => ({ local: p.local, remote: { host: p.remote, port: to.port } }));
    return connectMultipath({ ...common, paths, subflows: spec.subflows, scheduler: spec.scheduler, ordering: 'strict' });
  }
  return createTransport(transport).connect(to, common);
}
