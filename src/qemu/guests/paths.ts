/** Where the repository (and so qemu-guests/ and build/) is, seen from the compiled module. */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';

/** The repository root: the nearest ancestor of this module holding package.json and qemu-guests/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'qemu-guests'))) return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('cannot find the livemig repository root (package.json + qemu-guests/)');
    dir = up;
  }
}

/** Sources of the test guests (see qemu-guests/README.md). */
export function guestSourceDir(): string {
  return join(repoRoot(), 'qemu-guests');
}

/** Build output of the test guests (git-ignored). */
export function guestBuildDir(): string {
  return join(repoRoot(), 'build', 'qemu-guests');
}
