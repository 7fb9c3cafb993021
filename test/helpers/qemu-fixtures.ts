/** The captured QEMU migration streams in test/fixtures/qemu (see its README). */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** Fixture names: QEMU 10.0.2 paused and xbzrle, QEMU 7.2 paused and running. */
export const QEMU_FIXTURES = ['paused10', 'xbzrle10', 'paused72', 'running72'] as const;

/** Absolute path of a fixture's .bin.gz (this file runs from dist/test/helpers). */
export function qemuFixturePath(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/qemu/${name}.bin.gz`, import.meta.url));
}

const cache = new Map<string, Uint8Array>();

/** A fixture's bytes, uncompressed (a fresh Uint8Array each call; never a pooled Buffer). */
export function loadQemuFixture(name: string): Uint8Array {
  let bytes = cache.get(name);
  if (bytes === undefined) {
    bytes = new Uint8Array(gunzipSync(readFileSync(qemuFixturePath(name))));
    cache.set(name, bytes);
  }
  return new Uint8Array(bytes);
}
