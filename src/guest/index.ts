/**
 * The guest folder's public surface: the Guest interface, the synthetic and image guests, and
 * memory digests.
 */
import type { GuestDescription, ImageGuestOptions, SyntheticGuestOptions, Guest } from './types.js';
import { createDestinationGuest, createSyntheticGuest } from './synthetic/synthetic-guest.js';
import { createImageDestination, createImageGuest } from './image/image-guest.js';

export type {
  Guest, GuestDescription, ImageGuestOptions, SelfCheckResult, SyntheticGuestOptions, WorkloadName,
} from './types.js';
export { SyntheticGuest, createDestinationGuest, createSyntheticGuest } from './synthetic/synthetic-guest.js';
export { DEFAULT_DIRTY_RATE } from './synthetic/workloads.js';
export { CONTENT_MIX, type ContentKind, type ContentStats } from './synthetic/initial-content.js';
export { ImageGuest, createImageDestination, createImageGuest, saveMemoryImage } from './image/image-guest.js';
export { DIGEST_ALGORITHM, PageHashTable, hashPage, memoryDigest, zeroPageHash } from './digest.js';

/** A description carries all five of its fields; options never need to. */
function isDescription(x: GuestDescription | SyntheticGuestOptions | ImageGuestOptions): x is GuestDescription {
  return ['kind', 'workload', 'memoryBytes', 'pageSize', 'params'].every((k) => k in x);
}

/**
 * Builds a guest.
 * - a GuestDescription (all of kind, workload, memoryBytes, pageSize, params: as received in the
 *   handshake) → a paused, zeroed destination guest of that kind;
 * - `{ kind: 'image', path }` → a guest over that memory image;
 * - synthetic options → a synthetic source guest (running unless `running: false`).
 */
export async function createGuest(spec: GuestDescription | SyntheticGuestOptions | ImageGuestOptions): Promise<Guest> {
  if (isDescription(spec)) {
    return spec.kind === 'image' ? createImageDestination(spec) : createDestinationGuest(spec);
  }
  if (spec.kind === 'image') return createImageGuest(spec.path, spec.pageSize);
  return createSyntheticGuest(spec);
}
