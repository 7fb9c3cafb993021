/**
 * The report of a QEMU migration through livemig: QEMU's own figures (query-migrate, QEMU's names
 * kept) beside livemig's (stream and wire bytes, codec, buffering, paths).
 */
import type { PathStats } from '../../transport/index.js';
import type { MigrationInfo } from '../qmp/commands.js';
import type { DirectRamStats } from '../stream/direct-ram.js';
import type { SourceEncoderStats } from '../stream/pipeline.js';
import type { BlendSummary } from './blend-controller.js';

/** QEMU's side, from the source's final `query-migrate`. Times in ms, sizes in bytes. */
export interface QemuFigures {
  status: string;
  'total-time': number | null;
  downtime: number | null;
  'setup-time': number | null;
  /** Bytes QEMU wrote into its migration socket. */
  transferred: number | null;
  'dirty-sync-count': number | null;
  normal: number | null;
  duplicate: number | null;
  /** Megabits per second, as QEMU computes it. */
  mbps: number | null;
  'xbzrle-cache': MigrationInfo['xbzrle-cache'] | null;
}

/** livemig's side of the migration. */
export interface LivemigFigures {
  codec: string;
  transport: string;
  /** QEMU stream bytes the source agent read. */
  streamBytes: number;
  /** Bytes the channel sent (frames; all paths). */
  wireBytes: number;
  /** wireBytes / streamBytes. */
  wireRatio: number;
  encoder: SourceEncoderStats;
  passthroughReason: string | null;
  /** Times the source agent paused reading QEMU's socket, and for how long in all (backpressure). */
  pauses: number;
  pausedMs: number;
  peakBufferedBytes: number;
  /** `adaptive` in blocks: the zstd share of the blocks, window by window, and why (blend-controller.ts). */
  blend?: BlendSummary | null;
  /** Per path/subflow figures of the channel. */
  paths: PathStats[];
  capturePath: string | null;
  /**
   * Stream bytes the destination agent wrote into the destination QEMU's socket; with the bytes of
   * the records it wrote straight into guest memory (directRam.bytes), this equals streamBytes.
   */
  destinationStreamBytes: number | null;
  /** What direct RAM delivery did on the destination, or null when it was off. */
  directRam: DirectRamStats | null;
  /** The RAM file written directly, or why not ("off: ..."); null where unknown (the source half alone). */
  directRamNote: string | null;
  /**
   * The source side of the switchover, also in the two-host form: stream bytes from the ram END
   * section to QEMU's end of stream, and ms after the source's STOP event at which the END section
   * arrived, the stream ended and the last frame was handed to the channel (null when unknown).
   * `bandwidthBytesPerSec`: the avail-switchover-bandwidth livemig last gave QEMU (0 or null: QEMU's own estimate).
   */
  switchover?: {
    bytes: number | null; endSectionMs: number | null; qemuEofMs: number | null; lastFrameSentMs: number | null; bandwidthBytesPerSec?: number | null;
  } | null;
}

/** The whole report (`livemig qemu migrate --json`). */
export interface QemuProxyReport {
  status: 'completed';
  qemu: QemuFigures;
  livemig: LivemigFigures;
  /**
   * From the source's STOP event to the destination's RESUME event (both QMP host timestamps): the
   * guest's real pause, which also covers the destination's loading. null when either is unknown
   * (e.g. the two sides ran on different hosts).
   */
  observedDowntimeMs: number | null;
  destination: { status: string | null };
  /**
   * Where the downtime went, in ms after the source's STOP event (host clock; one-host runs only):
   * the ram END section reaching the source agent, QEMU's end of stream, the last frame handed to
   * the channel, the destination agent's last write into the destination QEMU, and its RESUME.
   */
  switchover?: SwitchoverTimeline | null;
  /** CPU (user + system) of each agent process from its start, ms, when the agents ran as processes of their own. */
  agentsCpuMs?: { source: number | null; destination: number | null } | null;
}

/** See QemuProxyReport.switchover; each figure is ms after STOP, or null when not seen. */
export interface SwitchoverTimeline {
  /** Stream bytes QEMU sent from the ram END section on (while the guest was stopped). */
  switchoverBytes: number | null;
  endSectionMs: number | null;
  qemuEofMs: number | null;
  lastFrameSentMs: number | null;
  lastWriteMs: number | null;
  resumeMs: number | null;
}

/** QEMU's figures from a `query-migrate` result. */
export function qemuFigures(info: MigrationInfo): QemuFigures {
  const ram = info.ram;
  return {
    status: info.status ?? 'unknown',
    'total-time': info['total-time'] ?? null,
    downtime: info.downtime ?? null,
    'setup-time': info['setup-time'] ?? null,
    transferred: ram?.transferred ?? null,
    'dirty-sync-count': ram?.['dirty-sync-count'] ?? null,
    normal: ram?.normal ?? null,
    duplicate: ram?.duplicate ?? null,
    mbps: ram?.mbps ?? null,
    'xbzrle-cache': info['xbzrle-cache'] ?? null,
  };
}
