/**
 * The codec registry: name and wire id → PageCodec. A `CodecRegistry` can be built over any set of
 * codecs (strategies are injected); `defaultCodecRegistry` holds every codec livemig ships.
 */

import { LivemigError } from '../core/errors.js';
import { adaptiveCodec } from './adaptive.js';
import { lz4DeltaCodec } from './lz4-delta.js';
import { lz4Codec } from './lz4.js';
import { rawCodec } from './raw.js';
import type { CodecName, CodecOptions, PageCodec } from './types.js';
import { xbzrleCodec } from './xbzrle.js';
import { zeroCodec } from './zero.js';
import { zstdDeltaCodec } from './zstd-delta.js';
import { zstdCodec } from './zstd.js';

/** Looks codecs up by name (`--codec`) and by wire id (a received frame). */
export class CodecRegistry {
  readonly #byName = new Map<string, PageCodec>();
  readonly #byId = new Map<number, PageCodec>();

  /** Throws LIVEMIG_E_INVALID_OPTION when two codecs share a name or an id. */
  constructor(codecs: readonly PageCodec[]) {
    for (const codec of codecs) {
      if (this.#byName.has(codec.name) || this.#byId.has(codec.id)) {
        throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Codec ${codec.name} (id ${codec.id}) is registered twice`, { phase: 'codec' });
      }
      if (!Number.isInteger(codec.id) || codec.id < 0 || codec.id > 0xff) {
        throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Codec ${codec.name} has id ${codec.id}; ids are one byte (0..255)`, { phase: 'codec' });
      }
      this.#byName.set(codec.name, codec);
      this.#byId.set(codec.id, codec);
    }
  }

  /**
   * The codec called `name`; LIVEMIG_E_CODEC_UNKNOWN (listing the known names) otherwise. With
   * `options`, a codec that has encode parameters (zstd levels) comes configured with them; the
   * others ignore them. Throws LIVEMIG_E_INVALID_OPTION for an out-of-range option.
   */
  get(name: string, options?: CodecOptions): PageCodec {
    const codec = this.#byName.get(name);
    if (codec === undefined) {
      throw new LivemigError('LIVEMIG_E_CODEC_UNKNOWN', `Unknown codec '${name}'; expected one of: ${this.names().join(', ')}`);
    }
    return options !== undefined && codec.configure !== undefined ? codec.configure(options) : codec;
  }

  /** The codec with wire id `id`; LIVEMIG_E_CODEC_UNKNOWN (listing the known names) otherwise. */
  byId(id: number): PageCodec {
    const codec = this.#byId.get(id);
    if (codec === undefined) {
      const known = [...this.#byId.values()].map((c) => `${c.name}=${c.id}`).join(', ');
      throw new LivemigError('LIVEMIG_E_CODEC_UNKNOWN', `Unknown codec id ${id}; this version knows: ${known}`);
    }
    return codec;
  }

  /** Registered names, in registration order. */
  names(): CodecName[] {
    return [...this.#byName.values()].map((c) => c.name);
  }

  /** Registered codecs, in registration order. */
  list(): PageCodec[] {
    return [...this.#byName.values()];
  }
}

/** Every codec livemig ships, in wire-id order. */
export const defaultCodecRegistry = new CodecRegistry([
  zeroCodec, rawCodec, lz4Codec, xbzrleCodec, lz4DeltaCodec, adaptiveCodec, zstdCodec, zstdDeltaCodec,
]);

/**
 * The shipped codec called `name` (throws LIVEMIG_E_CODEC_UNKNOWN with the list of names),
 * configured with `options` when given (e.g. `getCodec('zstd', { zstdLevel: 3 })`).
 */
export function getCodec(name: string, options?: CodecOptions): PageCodec {
  return defaultCodecRegistry.get(name, options);
}

/** The shipped codec with wire id `id` (throws LIVEMIG_E_CODEC_UNKNOWN with the list of names). */
export function getCodecById(id: number): PageCodec {
  return defaultCodecRegistry.byId(id);
}

/** Names of the shipped codecs, in wire-id order. */
export function codecNames(): CodecName[] {
  return defaultCodecRegistry.names();
}
