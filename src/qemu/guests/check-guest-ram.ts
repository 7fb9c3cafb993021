/**
 * The memory checker for the boot-sector guest, in the manner of QEMU's check_guests_ram: the
 * guest increments the first byte of every page in order, so in a consistent image every page's
 * byte equals its predecessor's, except at most at one "edge" where the loop stood, where the
 * predecessor is exactly one ahead. Anything else is a page whose update was lost (or invented).
 */

/** What `checkGuestRam` found. */
export interface GuestRamCheck {
  /** Pages examined. */
  pages: number;
  /** Places where the predecessor was exactly one ahead (0 or 1 in a good image). */
  edges: number;
  /** Pages that break the pattern (0 in a good image). Each second edge also counts here. */
  bad: number;
  /** Up to 10 bad page indices (relative to the start of `image`), for the error message. */
  firstBad: number[];
  /** The byte of the first page, to show that the guest ran (it changes every pass). */
  firstByte: number;
}

/**
 * Checks a dump of the guest's test range (e.g. a QMP `pmemsave` of [1 MiB, N MiB)).
 * @param image the dump; its length must be a multiple of `pageSize`
 * @param pageSize bytes per page, @default 4096
 */
export function checkGuestRam(image: Uint8Array, pageSize = 4096): GuestRamCheck {
  if (image.length === 0 || image.length % pageSize !== 0) {
    throw new RangeError(`guest RAM dump of ${image.length} bytes is not a whole number of ${pageSize}-byte pages`);
  }
  const pages = image.length / pageSize;
  let edges = 0;
  let bad = 0;
  const firstBad: number[] = [];
  let last = image[0];
  for (let p = 1; p < pages; p++) {
    const b = image[p * pageSize];
    if (b === last) continue;
    // The loop stood between p-1 and p: page p has not been incremented yet this pass.
    if (((b + 1) & 0xff) === last && edges === 0) {
      edges++;
    } else {
      bad++;
      if (firstBad.length < 10) firstBad.push(p);
    }
    last = b;
  }
  return { pages, edges, bad, firstBad, firstByte: image[0] };
}
