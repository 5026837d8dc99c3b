/**
 * The fixups entry: what the seed packages' maintainer scripts would have made, since they never
 * run. Pure: a fixed list of entries (the usrmerge symlinks, the alternatives symlinks, minimal
 * account files, the sandbox's mount points).
 *
 * @see specs/seed.md §5
 */

/** One fixup: a directory, a symlink (target verbatim) or a small file. */
export type FixupEntry =
  | { path: string; kind: 'dir' }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'file'; content: string };

/** The top-level directories merged into `usr/` (each becomes a symlink `X -> usr/X`). */
export const USRMERGE_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'] as const;

/**
 * The fixups for a seed whose gcc major version is `gccMajor` (12 for Debian 12).
 * Paths are relative to the world's root.
 */
export function fixupEntries(gccMajor = 12): FixupEntry[] {
  const g = String(gccMajor);
  const e: FixupEntry[] = [
    { path: 'bin', kind: 'symlink', target: 'usr/bin' },
    { path: 'sbin', kind: 'symlink', target: 'usr/sbin' },
    { path: 'lib', kind: 'symlink', target: 'usr/lib' },
    { path: 'lib64', kind: 'symlink', target: 'usr/lib64' },
    { path: 'usr/bin/cc', kind: 'symlink', target: `gcc-${g}` },
    { path: 'usr/bin/gcc', kind: 'symlink', target: `gcc-${g}` },
    { path: 'usr/bin/cpp', kind: 'symlink', target: `cpp-${g}` },
    { path: 'usr/bin/gcc-ar', kind: 'symlink', target: `gcc-ar-${g}` },
    { path: 'usr/bin/gcc-nm', kind: 'symlink', target: `gcc-nm-${g}` },
    { path: 'usr/bin/gcc-ranlib', kind: 'symlink', target: `gcc-ranlib-${g}` },
    { path: 'usr/bin/awk', kind: 'symlink', target: 'mawk' },
    { path: 'usr/bin/nawk', kind: 'symlink', target: 'mawk' },
    { path: 'usr/bin/which', kind: 'symlink', target: 'which.debianutils' },
    {
      path: 'etc/passwd',
      kind: 'file',
      content: 'root:x:0:0:root:/build:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    },
    { path: 'etc/group', kind: 'file', content: 'root:x:0:\nnogroup:x:65534:\n' },
    { path: 'etc/hostname', kind: 'file', content: 'eos\n' },
    { path: 'build', kind: 'dir' },
    { path: 'output', kind: 'dir' },
    { path: 'tmp', kind: 'dir' },
    { path: 'proc', kind: 'dir' },
    { path: 'dev', kind: 'dir' },
  ];
  return e.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
