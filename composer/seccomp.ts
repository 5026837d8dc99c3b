/**
 * The sandbox seccomp filter (pure): a classic-BPF program (the `struct sock_filter` array that
 * bubblewrap's `--seccomp FD` reads and installs with `no_new_privs`) that refuses the system calls
 * Docker's default profile refuses: foreign architectures are killed, x32 calls and the deny list
 * fail with `EPERM`, `clone3` with `ENOSYS` (so libc falls back to `clone`, whose flags are
 * checked), `clone` with a namespace flag with `EPERM`, `personality` outside Docker's allowed
 * values with `EPERM`. `eos run` and the build sandbox install the same program.
 *
 * @see specs/sandbox-seccomp.md
 */

/** `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`). */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** The bit that marks an x32 system call number. */
export const X32_SYSCALL_BIT = 0x40000000;
/** Every `CLONE_NEW*` flag: NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020080;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const ENOSYS = 38;

const NR_CLONE = 56;
const NR_PERSONALITY = 135;
const NR_CLONE3 = 435;

/** The `personality(2)` arguments allowed (Docker's: PER_LINUX, 0x8, 0x20000, 0x20008, query). */
export const PERSONALITY_ALLOWED = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff] as const;

/**
 * The x86_64 system calls refused with `EPERM`, by name and number (sorted by number). Docker's
 * default profile refuses each of them (for a container without extra capabilities); the
 * `io_uring_*`, new mount API, `pidfd_getfd` and `process_madvise` calls are refused too.
 */
export const SECCOMP_DENIED: ReadonlyArray<readonly [string, number]> = [
  ['ptrace', 101],
  ['syslog', 103],
  ['uselib', 134],
  ['ustat', 136],
  ['sysfs', 139],
  ['vhangup', 153],
  ['pivot_root', 155],
  ['_sysctl', 156],
  ['acct', 163],
  ['settimeofday', 164],
  ['mount', 165],
  ['umount2', 166],
  ['swapon', 167],
  ['swapoff', 168],
  ['reboot', 169],
  ['iopl', 172],
  ['ioperm', 173],
  ['create_module', 174],
  ['init_module', 175],
  ['delete_module', 176],
  ['get_kernel_syms', 177],
  ['query_module', 178],
  ['quotactl', 179],
  ['nfsservctl', 180],
  ['getpmsg', 181],
  ['putpmsg', 182],
  ['afs_syscall', 183],
  ['tuxcall', 184],
  ['security', 185],
  ['lookup_dcookie', 212],
  ['clock_settime', 227],
  ['vserver', 236],
  ['mbind', 237],
  ['set_mempolicy', 238],
  ['get_mempolicy', 239],
  ['kexec_load', 246],
  ['add_key', 248],
  ['request_key', 249],
  ['keyctl', 250],
  ['unshare', 272],
  ['move_pages', 279],
  ['perf_event_open', 298],
  ['fanotify_init', 300],
  ['name_to_handle_at', 303],
  ['open_by_handle_at', 304],
  ['clock_adjtime', 305],
  ['setns', 308],
  ['process_vm_readv', 310],
  ['process_vm_writev', 311],
  ['kcmp', 312],
  ['finit_module', 313],
  ['kexec_file_load', 320],
  ['bpf', 321],
  ['userfaultfd', 323],
  ['io_uring_setup', 425],
  ['io_uring_enter', 426],
  ['io_uring_register', 427],
  ['open_tree', 428],
  ['move_mount', 429],
  ['fsopen', 430],
  ['fsconfig', 431],
  ['fsmount', 432],
  ['fspick', 433],
  ['pidfd_getfd', 438],
  ['process_madvise', 440],
  ['mount_setattr', 442],
  ['quotactl_fd', 443],
];

/** One classic-BPF instruction (`struct sock_filter`). */
interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/** Offsets in `struct seccomp_data`: nr, arch, args[0] (low 32 bits, little-endian). */
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LO = 16;

/**
 * The filter as instructions. Jumps name labels and are resolved to relative offsets; the layout
 * is fixed (specs/sandbox-seccomp.md §2) so that the bytes, and their digest, are reproducible.
 */
function program(): Insn[] {
  type Jump = number | string; // a label, or 0 (fall through)
  const out: Array<{ code: number; jt: Jump; jf: Jump; k: number; label?: string }> = [];
  const emit = (code: number, k: number, jt: Jump = 0, jf: Jump = 0, label?: string): void => {
    out.push({ code, jt, jf, k, ...(label ? { label } : {}) });
  };
  emit(LD_W_ABS, OFF_ARCH);
  emit(JEQ_K, AUDIT_ARCH_X86_64, 1, 0);
  emit(RET_K, SECCOMP_RET_KILL_PROCESS);
  emit(LD_W_ABS, OFF_NR);
  emit(JGE_K, X32_SYSCALL_BIT, 'eperm', 0);
  for (const [, nr] of SECCOMP_DENIED) emit(JEQ_K, nr, 'eperm', 0);
  emit(JEQ_K, NR_CLONE3, 'enosys', 0);
  emit(JEQ_K, NR_CLONE, 'clone', 0);
  emit(JEQ_K, NR_PERSONALITY, 'personality', 0);
  emit(RET_K, SECCOMP_RET_ALLOW);
  emit(LD_W_ABS, OFF_ARG0_LO, 0, 0, 'clone');
  emit(JSET_K, CLONE_NAMESPACE_FLAGS, 'eperm', 'allow');
  emit(LD_W_ABS, OFF_ARG0_LO, 0, 0, 'personality');
  for (const v of PERSONALITY_ALLOWED) emit(JEQ_K, v, 'allow', 0);
  emit(RET_K, SECCOMP_RET_ERRNO | EPERM, 0, 0, 'eperm');
  emit(RET_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0, 'enosys');
  emit(RET_K, SECCOMP_RET_ALLOW, 0, 0, 'allow');
  const at = new Map<string, number>();
  out.forEach((i, n) => i.label && at.set(i.label, n));
  const rel = (n: number, j: Jump): number => {
    if (typeof j === 'number') return j;
    const d = at.get(j)! - n - 1;
    if (d < 0 || d > 255) throw new Error(`seccomp: jump to ${j} out of range (${d})`);
    return d;
  };
  return out.map((i, n) => ({ code: i.code, jt: rel(n, i.jt), jf: rel(n, i.jf), k: i.k >>> 0 }));
}

let cached: Buffer | undefined;

/**
 * The filter's bytes: each instruction as `struct sock_filter` (u16 code, u8 jt, u8 jf, u32 k,
 * little-endian), 8 bytes each, as bubblewrap's `--seccomp FD` reads them.
 * @returns a fresh copy of the program bytes
 * @see specs/sandbox-seccomp.md §2
 */
export function seccompProgram(): Buffer {
  if (!cached) {
    const insns = program();
    const b = Buffer.alloc(insns.length * 8);
    insns.forEach((i, n) => {
      b.writeUInt16LE(i.code, n * 8);
      b.writeUInt8(i.jt, n * 8 + 2);
      b.writeUInt8(i.jf, n * 8 + 3);
      b.writeUInt32LE(i.k, n * 8 + 4);
    });
    cached = b;
  }
  return Buffer.from(cached);
}
