// The seccomp filter every sandboxed process runs under, as the classic BPF program that
// bubblewrap's `--seccomp FD` loads. No maintained Node binding of libseccomp exists, and the
// program is small: check the architecture, then refuse (EPERM) the system calls a tool server has
// no business making: kernel modules and kexec, mounts and namespaces, tracing other processes,
// BPF and perf, keyrings, clock and host changes, io_uring. Everything else is allowed; the mount,
// user, network and PID namespaces do the confining, and this removes the kernel surface that
// escapes from namespaces have used.

/** Syscalls refused with EPERM, by name. */
export const DENIED_SYSCALLS = [
  'acct',
  'add_key',
  'adjtimex',
  'bpf',
  'clock_adjtime',
  'clock_settime',
  'delete_module',
  'fanotify_init',
  'finit_module',
  'fsconfig',
  'fsmount',
  'fsopen',
  'fspick',
  'init_module',
  'io_uring_enter',
  'io_uring_register',
  'io_uring_setup',
  'kcmp',
  'kexec_file_load',
  'kexec_load',
  'keyctl',
  'lookup_dcookie',
  'mount',
  'mount_setattr',
  'move_mount',
  'name_to_handle_at',
  'open_by_handle_at',
  'open_tree',
  'perf_event_open',
  'pivot_root',
  'process_vm_readv',
  'process_vm_writev',
  'ptrace',
  'quotactl',
  'reboot',
  'request_key',
  'setdomainname',
  'sethostname',
  'setns',
  'settimeofday',
  'swapoff',
  'swapon',
  'syslog',
  'umount2',
  'unshare',
  'userfaultfd',
  'vhangup',
] as const;
export type DeniedSyscall = (typeof DENIED_SYSCALLS)[number];

interface Arch {
  /** AUDIT_ARCH_* of <linux/audit.h>. */
  audit: number;
  numbers: Record<DeniedSyscall, number>;
  /** Numbers at or above this are another ABI on the same architecture (x32): refused. */
  abiLimit?: number;
}

// Generic numbers (include/uapi/asm-generic/unistd.h) shared by the newer calls on every arch.
const NEWER = {
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  mount_setattr: 442,
} as const;

const ARCHES: Record<string, Arch> = {
  // arch/x86/entry/syscalls/syscall_64.tbl
  x64: {
    audit: 0xc000003e,
    abiLimit: 0x40000000,
    numbers: {
      ...NEWER,
      acct: 163,
      add_key: 248,
      adjtimex: 159,
      bpf: 321,
      clock_adjtime: 305,
      clock_settime: 227,
      delete_module: 176,
      fanotify_init: 300,
      finit_module: 313,
      init_module: 175,
      kcmp: 312,
      kexec_file_load: 320,
      kexec_load: 246,
      keyctl: 250,
      lookup_dcookie: 212,
      mount: 165,
      name_to_handle_at: 303,
      open_by_handle_at: 304,
      perf_event_open: 298,
      pivot_root: 155,
      process_vm_readv: 310,
      process_vm_writev: 311,
      ptrace: 101,
      quotactl: 179,
      reboot: 169,
      request_key: 249,
      setdomainname: 171,
      sethostname: 170,
      setns: 308,
      settimeofday: 164,
      swapoff: 168,
      swapon: 167,
      syslog: 103,
      umount2: 166,
      unshare: 272,
      userfaultfd: 323,
      vhangup: 153,
    },
  },
  // include/uapi/asm-generic/unistd.h
  arm64: {
    audit: 0xc00000b7,
    numbers: {
      ...NEWER,
      acct: 89,
      add_key: 217,
      adjtimex: 171,
      bpf: 280,
      clock_adjtime: 266,
      clock_settime: 112,
      delete_module: 106,
      fanotify_init: 262,
      finit_module: 273,
      init_module: 105,
      kcmp: 272,
      kexec_file_load: 294,
      kexec_load: 104,
      keyctl: 219,
      lookup_dcookie: 18,
      mount: 40,
      name_to_handle_at: 264,
      open_by_handle_at: 265,
      perf_event_open: 241,
      pivot_root: 41,
      process_vm_readv: 270,
      process_vm_writev: 271,
      ptrace: 117,
      quotactl: 60,
      reboot: 142,
      request_key: 218,
      setdomainname: 162,
      sethostname: 161,
      setns: 268,
      settimeofday: 170,
      swapoff: 225,
      swapon: 224,
      syslog: 116,
      umount2: 39,
      unshare: 97,
      userfaultfd: 282,
      vhangup: 58,
    },
  },
};

// <linux/filter.h> and <linux/seccomp.h>
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const EPERM = 1;
// struct seccomp_data: int nr; __u32 arch; ...
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;

/** True when Warden has a filter for this CPU architecture (`process.arch` names). */
export function seccompSupported(arch: string = process.arch): boolean {
  return Object.hasOwn(ARCHES, arch);
}

/**
 * The filter for `arch` as bytes of `struct sock_filter` (little endian, as on both supported
 * architectures). A process of another architecture (a 32-bit binary) is killed outright.
 */
export function seccompProgram(arch: string = process.arch): Buffer {
  const a = ARCHES[arch];
  if (!a) throw new Error(`no seccomp filter for the ${arch} architecture`);
  const ins: Array<[code: number, jt: number, jf: number, k: number]> = [];
  ins.push([BPF_LD_W_ABS, 0, 0, OFFSET_ARCH]);
  ins.push([BPF_JMP_JEQ_K, 1, 0, a.audit]);
  ins.push([BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS]);
  ins.push([BPF_LD_W_ABS, 0, 0, OFFSET_NR]);
  const numbers = [...new Set(Object.values(a.numbers))].sort((x, y) => x - y);
  // Jumps are relative to the next instruction; the deny return sits right after the allow.
  const checks = numbers.length + (a.abiLimit !== undefined ? 1 : 0);
  let remaining = checks;
  if (a.abiLimit !== undefined) ins.push([BPF_JMP_JGE_K, --remaining + 1, 0, a.abiLimit]);
  for (const nr of numbers) ins.push([BPF_JMP_JEQ_K, --remaining + 1, 0, nr]);
  ins.push([BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW]);
  ins.push([BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM]);
  if (checks > 255) throw new Error('seccomp program too long for 8-bit jumps');
  const out = Buffer.alloc(ins.length * 8);
  ins.forEach(([code, jt, jf, k], i) => {
    out.writeUInt16LE(code, i * 8);
    out.writeUInt8(jt, i * 8 + 2);
    out.writeUInt8(jf, i * 8 + 3);
    out.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return out;
}
