/**
 * Wire constants of QEMU's migration stream (QEMU 7.2 and 10.0; migration/savevm.h, migration/ram.h).
 * All multi-byte integers on the main stream are big-endian.
 */

/** "QEVM", the first four bytes of every stream. */
export const QEMU_VM_FILE_MAGIC = 0x5145564d;
/** The only stream version QEMU loads (2 is rejected). */
export const QEMU_VM_FILE_VERSION = 3;

/** Section-type bytes at the top level of the stream. */
export const Section = Object.freeze({
  EOF: 0x00,
  START: 0x01,
  PART: 0x02,
  END: 0x03,
  FULL: 0x04,
  SUBSECTION: 0x05,
  VMDESCRIPTION: 0x06,
  CONFIGURATION: 0x07,
  COMMAND: 0x08,
  FOOTER: 0x7e,
} as const);

/** COMMAND ids whose payload is not self-contained (PACKAGED is followed by a nested stream). */
export const MIG_CMD_PACKAGED = 7;
/** POSTCOPY_ADVISE: after it, START block entries may carry an extra page size we cannot predict. */
export const MIG_CMD_POSTCOPY_ADVISE = 3;

/** RAM_SAVE_FLAG_* bits, in the low bits of a record's be64 (below the target page size). */
export const RamFlag = Object.freeze({
  ZERO: 0x002,
  MEM_SIZE: 0x004,
  PAGE: 0x008,
  EOS: 0x010,
  CONTINUE: 0x020,
  XBZRLE: 0x040,
  HOOK: 0x080,
  COMPRESS_PAGE: 0x100,
  MULTIFD_FLUSH: 0x200,
} as const);

/** The byte after an XBZRLE record header (ENCODING_FLAG_XBZRLE). */
export const ENCODING_FLAG_XBZRLE = 0x01;

/** The idstr of the RAM live section. */
export const RAM_SECTION_IDSTR = 'ram';
/** Target page size bits when the configuration does not say otherwise (x86, aarch64 -cpu max). */
export const DEFAULT_TARGET_PAGE_BITS = 12;
