import { LivemigError } from './errors.js';

/** Bytes in one guest page; livemig works on 4 KiB pages, as x86 QEMU does. */
export const PAGE_SIZE = 4096;
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  ki: KiB, kib: KiB, mi: MiB, mib: MiB, gi: GiB, gib: GiB,
};

/**
 * Parses a byte quantity such as `125MB`, `64MiB`, `1e9` or `4096`. Decimal suffixes are powers
 * of 1000 (as QEMU's `max-bandwidth` examples), binary ones powers of 1024.
 */
export function parseBytes(text: string, optionName: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new LivemigError(
      'LIVEMIG_E_INVALID_OPTION',
      `Expected ${optionName} to be a byte count such as 4096, 125MB or 64MiB, got '${text}'`,
    );
  }
  return Math.round(Number(m[1]) * unit);
}

/** Formats bytes for people: 1.50 GiB, 12.0 MiB, 512 B. */
export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB) return `${(bytes / KiB).toFixed(1)} KiB`;
  return `${bytes} B`;
}
