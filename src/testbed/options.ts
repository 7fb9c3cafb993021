import { LivemigError } from '../core/index.js';
import type { PathConfig, TestbedConfig, TestbedOptions } from './types.js';

/** MPTCP's in-kernel path manager accepts at most 8 subflows and 8 endpoints per connection. */
export const MAX_PATHS = 8;

/** Name of the testbed whose namespaces are plain `lm-src` / `lm-dst`. */
export const DEFAULT_TESTBED_NAME = 'default';

/** Smallest tbf bucket, in bytes: ≥ one MTU frame with room for a few (reference: 16 KiB worked at 50 mbit). */
export const MIN_BURST_BYTES = 32 * 1024;

/** tbf queue latency in milliseconds (the reference recipe's `latency 20ms`). */
export const DEFAULT_QUEUE_LATENCY_MS = 20;

const RATE_UNITS: Record<string, number> = {
  '': 1, bit: 1,
  k: 1e3, kbit: 1e3, m: 1e6, mbit: 1e6, g: 1e9, gbit: 1e9, t: 1e12, tbit: 1e12,
};

function invalid(optionName: string, expected: string, got: unknown): never {
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected ${optionName} to be ${expected}, got '${String(got)}'`);
}

/**
 * Parses a link rate in tc's bit units: `1gbit`, `300mbit`, `64kbit`, `2.5g`, `1e8` (bits per
 * second). tc's byte units (`mbps` = megabytes) are refused on purpose: they are a classic mix-up.
 */
export function parseRate(text: string, optionName = 'a rate'): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? RATE_UNITS[m[2].toLowerCase()] : undefined;
  const bits = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(bits >= 8_000 && bits <= 1e12)) invalid(optionName, 'a rate from 8kbit to 1tbit such as 1gbit, 300mbit or 1e8', text);
  return bits;
}

/** Parses `1gbit` or a comma-separated list `1gbit,300mbit` into bits per second. */
export function parseRateList(text: string, optionName = '--rate'): number[] {
  return text.split(',').map((part) => parseRate(part, optionName));
}

/** Formats bits per second the way tc does: `1gbit`, `300mbit`, `1.5mbit`. */
export function formatRate(bitsPerSec: number): string {
  for (const [unit, scale] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) {
    if (bitsPerSec >= scale) return `${Number((bitsPerSec / scale).toFixed(3))}${unit}`;
  }
  return `${bitsPerSec}bit`;
}

/**
 * tbf bucket for a rate: the reference measured that the bucket must hold at least rate/HZ and
 * one MTU; we take 4 ms of traffic (rate/HZ at HZ=250) with a floor of `MIN_BURST_BYTES`. A larger
 * bucket only lets a short burst through at line rate; the long-run rate stays the configured one.
 */
export function burstBytesFor(rateBitsPerSec: number): number {
  return Math.max(MIN_BURST_BYTES, Math.ceil(rateBitsPerSec / 8 / 250));
}

/** Namespace names of a testbed: `lm-src`/`lm-dst`, or `lm-NAME-src`/`lm-NAME-dst`. */
export function namespaceNames(name = DEFAULT_TESTBED_NAME): { srcNs: string; dstNs: string } {
  checkName(name);
  const stem = name === DEFAULT_TESTBED_NAME ? 'lm' : `lm-${name}`;
  return { srcNs: `${stem}-src`, dstNs: `${stem}-dst` };
}

function checkName(name: string): void {
  if (!/^[a-z0-9]{1,12}$/.test(name)) invalid('the testbed name', '1 to 12 lowercase letters or digits', name);
}

/**
 * Addresses and interface names of path i (0-based): 10.77.i.1 on `lm-si` in the source namespace,
 * 10.77.i.2 on `lm-di` in the destination namespace, network 10.77.i.0/24.
 */
export function pathAddresses(index: number): Omit<PathConfig, 'rateBitsPerSec' | 'burstBytes'> {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_PATHS) invalid('a path number', `an integer from 0 to ${MAX_PATHS - 1}`, index);
  return {
    index,
    srcDev: `lm-s${index}`,
    dstDev: `lm-d${index}`,
    srcAddr: `10.77.${index}.1`,
    dstAddr: `10.77.${index}.2`,
    prefix: `10.77.${index}.0/24`,
  };
}

/** Validates options once, at the boundary, and fills in every default. */
export function resolveTestbedConfig(options: TestbedOptions = {}): TestbedConfig {
  const name = options.name ?? DEFAULT_TESTBED_NAME;
  const { srcNs, dstNs } = namespaceNames(name);
  const rates = options.rateBitsPerSec ?? 1e9;
  const count = options.paths ?? (Array.isArray(rates) ? rates.length : 2);
  if (!Number.isInteger(count) || count < 1 || count > MAX_PATHS) invalid('--paths', `an integer from 1 to ${MAX_PATHS}`, count);
  const list: readonly number[] = typeof rates === 'number' ? new Array<number>(count).fill(rates) : rates;
  if (list.length !== count) invalid('--rate', `one rate or ${count} comma-separated rates (one per path)`, list.map(formatRate).join(','));
  for (const r of list) {
    if (!Number.isFinite(r) || r < 8_000 || r > 1e12) invalid('--rate', 'a rate from 8kbit to 1tbit', r);
  }
  const queueLatencyMs = options.queueLatencyMs ?? DEFAULT_QUEUE_LATENCY_MS;
  if (!Number.isFinite(queueLatencyMs) || queueLatencyMs < 1 || queueLatencyMs > 10_000) {
    invalid('--queue-ms', 'a number of milliseconds from 1 to 10000', queueLatencyMs);
  }
  return {
    name,
    srcNs,
    dstNs,
    queueLatencyMs,
    congestionControl: 'cubic',
    paths: list.map((rate, i) => ({ ...pathAddresses(i), rateBitsPerSec: Math.round(rate), burstBytes: burstBytesFor(rate) })),
  };
}
