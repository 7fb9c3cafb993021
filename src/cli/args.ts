import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LivemigError, parseBytes } from '../core/index.js';

/** Precise option errors, e.g. "Expected --guest-mib to be a positive integer, got 'x'". */
function bad(flag: string, expected: string, got: unknown): never {
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --${flag} to be ${expected}, got '${String(got)}'`, { phase: 'cli' });
}

export function intOpt(values: Record<string, unknown>, flag: string, def: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = values[flag];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) bad(flag, `an integer from ${min} to ${max}`, v);
  return n;
}

export function numOpt(values: Record<string, unknown>, flag: string, def: number, min = 0, max = Infinity): number {
  const v = values[flag];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) bad(flag, `a number from ${min} to ${max}`, v);
  return n;
}

export function bytesOpt(values: Record<string, unknown>, flag: string, def: number): number {
  const v = values[flag];
  return v === undefined ? def : parseBytes(String(v), `--${flag}`);
}

export function choiceOpt<T extends string>(values: Record<string, unknown>, flag: string, choices: readonly T[], def: T): T {
  const v = values[flag];
  if (v === undefined) return def;
  if (!choices.includes(v as T)) bad(flag, `one of ${choices.join(', ')}`, v);
  return v as T;
}

/** Parses HOST:PORT (IPv6 as [addr]:port). */
export function endpointOpt(text: string | undefined, flag: string, required: boolean): { host: string; port: number } | undefined {
  if (text === undefined) {
    if (required) bad(flag, 'HOST:PORT', '(missing)');
    return undefined;
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) bad(flag, 'HOST:PORT, e.g. 127.0.0.1:4444', text);
  return { host: m[1] ?? m[2], port };
}

/** Parsed flags, loosely typed: each value is validated by the *Opt helpers above. */
export type Flags = Record<string, string | boolean | undefined>;

/** Strict parsing of a command's flags (unknown flags are errors). */
export function parseFlags(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Flags {
  return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Flags;
}
