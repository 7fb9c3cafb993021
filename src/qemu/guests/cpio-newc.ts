/**
 * A minimal writer for the cpio "newc" format (the one the Linux kernel unpacks as an initramfs),
 * so the test guest's initramfs needs neither the cpio tool nor root (device nodes are written as
 * header fields, not created on disk).
 *
 * Grammar (all numbers 8 ASCII hex digits):
 *   entry   = "070701" ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
 *             namesize check, name NUL, pad to 4, data, pad to 4
 *   archive = entry* entry("TRAILER!!!")
 */

/** One archive member. Directories and device nodes have no data; a symlink's data is its target. */
export type CpioEntry =
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char-device'; path: string; major: number; minor: number; mode?: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Serialises `entries` (paths relative, without a leading slash) into a newc archive. */
export function buildCpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const header =
      '070701' +
      [ino++, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0]
        .map(hex8)
        .join('');
    // The 110-byte header plus the name is padded to a multiple of 4, and so is the data.
    parts.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'file':
        push(name, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'dir':
        push(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0));
        break;
      case 'symlink':
        push(name, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'));
        break;
      case 'char-device':
        push(name, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor]);
        break;
    }
  }
  push('TRAILER!!!', 0, new Uint8Array(0));
  return Buffer.concat(parts);
}
