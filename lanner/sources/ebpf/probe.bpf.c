// SPDX-License-Identifier: GPL-2.0
/*
 * lanner live-capture probe (CO-RE).
 *
 * Emits Falco-compatible event records (event-model.md section 1: 26-byte header, u16 param
 * lengths, values) into one BPF ring buffer. Exit events only: everything is read at sys_exit from
 * pt_regs, except a successful execve, whose data comes from sched_process_exec (the argument
 * registers are gone by then). Flags are translated to PPM values here.
 *
 * Filtering in the kernel: a per-syscall table (native nr -> event code + "interesting" bit) set from
 * Python, a self-tgid filter, and a predicate push-down for the open family (flag classes and path
 * prefixes). Per-CPU counters say what was seen, emitted, filtered and dropped.
 *
 * Two interchangeable syscall hooks share one handler; the loader loads only the one in use:
 * lanner_sys_exit (tp_btf/sys_exit, every syscall of every process) and lanner_tp_exit (attached to
 * the classic syscalls:sys_exit_<name> tracepoint of each wanted syscall only; lanner_ia32_exit then
 * adds the 32-bit syscalls those tracepoints never see).
 *
 * 32-bit (ia32) syscalls are mapped to the native event: number through lanner_ia32, arguments from
 * ebx..ebp, socketcall/ipc unpacked, 32-bit msghdr/iovec layouts. Data buffers (read/write family)
 * hold the first snaplen bytes, gathered across iovecs, as Falco's modern probe does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define HDR_LEN 26
#define HALF 16384
#define OFF(x) ((x) & (HALF - 1))
#define TMP_SZ 4096
#define MAX_PATH 4096
#define MAX_ARGS 4096
#define MAX_ENV 4096
#define MAX_CGROUPS 1024
#define MAX_DEPTH 32
#define NR_SYSCALLS 512
#define N_PREFIX 16
#define PREFIX_WORDS 8

#define DF_ALL 1
#define DF_CLOSE 2

#define SC_INTERESTING 1
#define SC_OPENFAM 2
#define SC_KEEP_OK 4	/* result push-down: keep successful exits */
#define SC_KEEP_ERR 8	/* result push-down: keep failed exits */
#define SC_RULE 16	/* some rule can match this event: never shed under overload */
#define SC_KEEP_INPROG 32	/* result push-down: keep a connect returning EINPROGRESS */
#define SC_KEEP_ALL (SC_KEEP_OK | SC_KEEP_ERR | SC_KEEP_INPROG)

/* push-down families (lanner.sources.ebpf.filters.FAMILIES): per-family filtered counters */
#define FAM_OPEN 1
#define FAM_CLOSE 2
#define FAM_EXEC 3
#define FAM_PTRACE 6
#define FAM_PROCEXIT 9
#define N_FAM 16

/* open push-down classes: flags (bits 0-2) x result (bits 3-4); an entry matches an event that
 * shares a bit with it in both dimensions. OC_EXACT marks an entry whose path must end with it. */
#define OC_READ 1
#define OC_WRITE 2
#define OC_CREATE 4
#define OC_OK 8
#define OC_ERR 16
#define OC_FLAGS 7
#define OC_RESULT 24
#define OC_EXACT 128
#define NONNORM_SCAN 256
#define SUPP_WORDS 16 /* fds 0..1023 tracked for close suppression */

struct lw_sc_entry {
	u16 code;
	u8 flags;
	u8 fam;
};

struct lw_config {
	u32 self_tgid;
	u32 snaplen;
	u64 boot_epoch_ns;
	u32 procexit_on;
	u32 exec_on;
	u32 open_filter_on;
	u32 open_classes;	/* union of the entries' classes: relative / non-normalised paths */
	u32 n_prefix;
	u32 close_filter_on;	/* skip close of fds whose open was filtered out */
	u32 drop_failed;	/* DF_ALL: every failed syscall exit; DF_CLOSE: failed close */
	u32 pad2;
	u32 prefix_len[N_PREFIX];
	u32 prefix_cls[N_PREFIX];
	u64 prefix[N_PREFIX][PREFIX_WORDS];
	u64 prefix_mask[N_PREFIX][PREFIX_WORDS];
	u64 ptrace_mask;	/* PPM request codes kept when ptrace_filter_on */
	u32 ptrace_filter_on;
	u32 shed_bytes;		/* ring fill above which events no rule can match are shed (0: never) */
	u32 exec_rule;		/* a rule can match execve (sched_process_exec records are rule events) */
	u32 procexit_rule;	/* a rule can match procexit */
};

struct lw_counters {
	u64 seen;	  /* syscall exits looked at */
	u64 emitted;	  /* records written to the ring */
	u64 drops_full;	  /* ring buffer full */
	u64 filtered;	  /* dropped by the open push-down */
	u64 drops_large;  /* record too large for the scratch buffer */
	u64 skipped;	  /* not interesting / self */
	u64 failed_dropped;	/* failed exits dropped by drop_failed (Falco's drop_failed_exit, failed close) */
	u64 shed;	  /* events no rule can match, shed above the ring watermark */
	u64 drops_full_state;	/* of drops_full: events no rule can match */
	u64 cur_state_only;	/* the event being written is one no rule can match (scratch, not a count) */
	u64 cur_fam;	  /* its family (scratch, not a count) */
	u64 filtered_fam[N_FAM];	/* of filtered: per push-down family */
	u64 dropped_fam[N_FAM];	/* shed + drops_full per family */
};

struct lw_scratch {
	/* writer state lives in the map: the verifier then sees unknown (masked) offsets, identical
	 * on every path, and prunes states instead of exploring each offset range */
	u32 off;
	u32 idx;
	u32 bad;
	u32 pad;
	u8 evt[2 * HALF];
	u8 tmp[TMP_SZ + 512];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} lanner_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_SYSCALLS);
	__type(key, u32);
	__type(value, struct lw_sc_entry);
} lanner_sc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct lw_config);
} lanner_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct lw_counters);
} lanner_cnt SEC(".maps");

/* per process (group leader's task storage): bitmap of fds whose open the push-down dropped; their
 * close is dropped too. Freed by the kernel with the task. */
struct lw_fdbits {
	u64 bits[SUPP_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lw_fdbits);
} lanner_supp SEC(".maps");

/* max_entries is set to the number of possible CPUs by the loader */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct lw_scratch);
} lanner_scratch SEC(".maps");

/* kernel-version flavours */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 __i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct lw_writer {
	struct lw_scratch *s;
	u8 *buf;
	u8 *tmp;
};

static __always_inline struct lw_counters *lw_cnt(void)
{
	u32 k = 0;
	return bpf_map_lookup_elem(&lanner_cnt, &k);
}

static __always_inline struct lw_config *lw_cfg(void)
{
	u32 k = 0;
	return bpf_map_lookup_elem(&lanner_cfg, &k);
}

static __always_inline int w_begin(struct lw_writer *w, struct lw_config *cfg, u16 type, u32 np)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct lw_scratch *s = bpf_map_lookup_elem(&lanner_scratch, &cpu);
	if (!s)
		return 0;
	w->s = s;
	w->buf = s->evt;
	w->tmp = s->tmp;
	np &= 63;
	*(u64 *)&w->buf[0] = bpf_ktime_get_boot_ns() + cfg->boot_epoch_ns;
	*(u64 *)&w->buf[8] = (u32)bpf_get_current_pid_tgid();
	*(u16 *)&w->buf[20] = type;
	*(u32 *)&w->buf[22] = np;
	s->idx = 0;
	s->off = HDR_LEN + 2 * np;
	s->bad = 0;
	return 1;
}

static __always_inline void w_len(struct lw_writer *w, u32 len)
{
	struct lw_scratch *s = w->s;
	u32 i = s->idx & 63;
	*(u16 *)&w->buf[(HDR_LEN + 2 * i) & 255] = (u16)len;
	s->idx = i + 1;
	u32 off = s->off + len;
	s->off = off;
	if (off >= HALF)
		s->bad = 1;
}

static __always_inline void w_u8(struct lw_writer *w, u8 v)
{
	w->buf[OFF(w->s->off)] = v;
	w_len(w, 1);
}

static __always_inline void w_u16(struct lw_writer *w, u16 v)
{
	*(u16 *)&w->buf[OFF(w->s->off)] = v;
	w_len(w, 2);
}

static __always_inline void w_u32(struct lw_writer *w, u32 v)
{
	*(u32 *)&w->buf[OFF(w->s->off)] = v;
	w_len(w, 4);
}

static __always_inline void w_u64(struct lw_writer *w, u64 v)
{
	*(u64 *)&w->buf[OFF(w->s->off)] = v;
	w_len(w, 8);
}

static __always_inline void w_empty(struct lw_writer *w)
{
	w_len(w, 0);
}

static __always_inline void w_ustr(struct lw_writer *w, const void *p, u32 max)
{
	long n = 0;
	if (p)
		n = bpf_probe_read_user_str(&w->buf[OFF(w->s->off)], max & (MAX_PATH * 2 - 1), p);
	w_len(w, n > 0 ? (u32)n : 0);
}

static __always_inline void w_kstr(struct lw_writer *w, const void *p, u32 max)
{
	long n = 0;
	if (p)
		n = bpf_probe_read_kernel_str(&w->buf[OFF(w->s->off)], max & (MAX_PATH * 2 - 1), p);
	w_len(w, n > 0 ? (u32)n : 0);
}

static __always_inline void w_ubuf(struct lw_writer *w, const void *p, u64 len, u32 max)
{
	if (!p || (s64)len <= 0) {
		w_empty(w);
		return;
	}
	if (len > max)
		len = max;
	len &= (MAX_PATH - 1);
	if (bpf_probe_read_user(&w->buf[OFF(w->s->off)], len, p))
		len = 0;
	w_len(w, len);
}

static __always_inline void filt(struct lw_counters *c, u32 fam)
{
	c->filtered++;
	c->filtered_fam[fam & (N_FAM - 1)]++;
}

static __always_inline int w_end(struct lw_writer *w, struct lw_counters *c)
{
	u32 len = w->s->off;
	if (w->s->bad || len >= HALF) {
		if (c)
			c->drops_large++;
		return 0;
	}
	*(u32 *)&w->buf[16] = len;
	asm volatile("" : "+r"(len));
	len &= (HALF - 1);
	if (c && c->cur_state_only) {
		/* overload: an event no rule can match gives way to rule events above the watermark */
		struct lw_config *cfg = lw_cfg();
		if (cfg && cfg->shed_bytes && bpf_ringbuf_query(&lanner_rb, BPF_RB_AVAIL_DATA) + len > cfg->shed_bytes) {
			c->shed++;
			c->dropped_fam[c->cur_fam & (N_FAM - 1)]++;
			return 0;
		}
	}
	if (bpf_ringbuf_output(&lanner_rb, w->buf, len, BPF_RB_NO_WAKEUP)) {
		if (c) {
			c->drops_full++;
			c->dropped_fam[c->cur_fam & (N_FAM - 1)]++;
			if (c->cur_state_only)
				c->drops_full_state++;
		}
		return 0;
	}
	if (c)
		c->emitted++;
	return 1;
}

/* ---------------------------------------------------------------- flag translation (Linux -> PPM) */

#if defined(__TARGET_ARCH_arm64)
#define L_O_DIRECTORY 040000
#define L_O_DIRECT 0200000
#define L_O_LARGEFILE 0400000
#else
#define L_O_DIRECTORY 0200000
#define L_O_DIRECT 040000
#define L_O_LARGEFILE 0100000
#endif

static __always_inline u32 open_flags_to_ppm(u32 f)
{
	u32 r = 0;
	switch (f & 3) {
	case 0: r = 1; break;
	case 1: r = 2; break;
	default: r = 3; break;
	}
	if (f & 0100) r |= 4;
	if (f & 02000) r |= 8;
	if (f & 010000) r |= 0x10;
	if (f & 0200) r |= 0x20;
	if (f & 04000) r |= 0x40;
	if (f & 04000000) r |= 0x80;
	if (f & 01000) r |= 0x100;
	if (f & L_O_DIRECT) r |= 0x200;
	if ((f & L_O_DIRECTORY) && !(f & 020000000)) r |= 0x400;
	if (f & L_O_LARGEFILE) r |= 0x800;
	if (f & 02000000) r |= 0x1000;
	if (f & 020000000) r |= 0x2000;
	return r;
}

static __always_inline u32 clone_flags_to_ppm(u64 f)
{
	u32 r = 0;
	if (f & 0x400) r |= 0x1;
	if (f & 0x200) r |= 0x2;
	if (f & 0x80000000ULL) r |= 0x4;
	if (f & 0x08000000) r |= 0x8;
	if (f & 0x40000000) r |= 0x10;
	if (f & 0x20000) r |= 0x20;
	if (f & 0x20000000) r |= 0x40;
	if (f & 0x04000000) r |= 0x80;
	if (f & 0x8000) r |= 0x100;
	if (f & 0x100000) r |= 0x200;
	if (f & 0x2000) r |= 0x400;
	if (f & 0x800) r |= 0x800;
	if (f & 0x40000) r |= 0x1000;
	if (f & 0x10000) r |= 0x2000;
	if (f & 0x800000) r |= 0x4000;
	if (f & 0x100) r |= 0x8000;
	if (f & 0x10000000) r |= 0x100000;
	if (f & 0x200000) r |= 0x800000;
	if (f & 0x01000000) r |= 0x1000000;
	if (f & 0x80000) r |= 0x2000000;
	if (f & 0x4000) r |= 0x8000000;
	if (f & 0x02000000) r |= 0x10000000;
	return r;
}

static __always_inline u32 socket_type_to_ppm_flags(u32 t)
{
	u32 r = 0;
	if (t & 04000) r |= 0x40;	/* SOCK_NONBLOCK */
	if (t & 02000000) r |= 0x1000;	/* SOCK_CLOEXEC */
	return r;
}

/* ptrace requests: PPM enum differs from Linux numbers */
static __always_inline u16 ptrace_req_to_ppm(s64 r)
{
	switch (r) {
	case 0: return 1;	/* TRACEME */
	case 1: return 2;
	case 2: return 3;
	case 3: return 4;
	case 4: return 5;
	case 5: return 6;
	case 6: return 7;
	case 7: return 8;
	case 8: return 9;
	case 9: return 10;
	case 16: return 11;	/* ATTACH */
	case 17: return 12;	/* DETACH */
	case 24: return 13;	/* SYSCALL */
	case 0x4200: return 14;	/* SETOPTIONS */
	case 0x4201: return 15;
	case 0x4202: return 16;
	case 0x4203: return 17;
	case 0x4204: return 18;
	case 0x4205: return 19;
	case 0x4206: return 20;	/* SEIZE */
	case 0x4207: return 21;
	case 0x4208: return 22;
	case 0x4209: return 23;
	case 0x420a: return 24;
	case 0x420b: return 25;
	case 12: return 26;
	case 13: return 27;
	case 14: return 28;
	case 15: return 29;
	case 18: return 30;
	case 19: return 31;
	case 21: return 32;
	case 25: return 33;
	case 26: return 34;
	case 30: return 35;
	case 31: return 36;
	case 32: return 37;
	case 33: return 38;
	}
	return 0;
}

static __always_inline u32 mount_flags_to_ppm(u64 f)
{
	/* MS_* bits coincide with the PPM table for the low bits; drop the magic number */
	if ((f & 0xffff0000) == 0xC0ED0000)
		f &= 0xffff;
	return (u32)f;
}

static __always_inline u8 family_to_ppm(u16 fam)
{
	return (u8)fam; /* PPM AF values equal Linux ones for the families that matter */
}

/* ---------------------------------------------------------------- syscall arguments */

/* tp_btf hands a BTF-typed pt_regs: plain (CO-RE relocated) loads, no probe_read helper calls */
static __always_inline u64 arg(struct pt_regs *r, int i)
{
#if defined(__TARGET_ARCH_arm64)
	switch (i) {
	case 0: return r->orig_x0;
	case 1: return r->regs[1];
	case 2: return r->regs[2];
	case 3: return r->regs[3];
	case 4: return r->regs[4];
	default: return r->regs[5];
	}
#else
	switch (i) {
	case 0: return r->di;
	case 1: return r->si;
	case 2: return r->dx;
	case 3: return r->r10;
	case 4: return r->r8;
	default: return r->r9;
	}
#endif
}

/* One syscall's arguments whatever its ABI. A 32-bit (ia32) call passes them in ebx, ecx, edx, esi,
 * edi, ebp, and its user structures (msghdr, iovec) have 32-bit pointers: handlers read A(i) and
 * branch on k->compat for those structures. */
struct lw_call {
	u64 a[6];
	u32 compat;
};
#define A(i) (k->a[(i)])
#define SA(i) ((s64)(s32)k->a[(i)])

static __always_inline long sc_nr(struct pt_regs *r)
{
#if defined(__TARGET_ARCH_arm64)
	return r->syscallno;
#else
	return r->orig_ax;
#endif
}

static __always_inline void call_native(struct lw_call *k, struct pt_regs *r)
{
	for (int i = 0; i < 6; i++)
		k->a[i] = arg(r, i);
	k->compat = 0;
}

/* ---------------------------------------------------------------- 32-bit (ia32) syscalls */

#define TS_COMPAT_BIT 0x0002
#define IA32_SOCKETCALL 102
#define IA32_IPC 117
#define NR_EXECVE 59
#define NR_EXECVEAT 322

/* ia32 syscall number -> native number + 1 (0: no native counterpart), filled by the loader */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_SYSCALLS);
	__type(key, u32);
	__type(value, u32);
} lanner_ia32 SEC(".maps");

/* the kernel marks a task running a 32-bit syscall with TS_COMPAT (what in_ia32_syscall() tests); this
 * runs on every syscall, so ``t`` (from bpf_get_current_task_btf) is read with a direct load, not a
 * bpf_probe_read_kernel call */
static __always_inline int in_ia32(struct task_struct *t)
{
#if defined(__TARGET_ARCH_x86)
	if (!bpf_core_field_exists(t->thread_info.status))
		return 0;
	return (t->thread_info.status & TS_COMPAT_BIT) != 0;
#else
	return 0;
#endif
}

/* socketcall(call, args): native number and argument count of the call it stands for (-1: none) */
static __always_inline long socketcall_nr(u32 call, u32 *nargs)
{
	switch (call) {
	case 1: *nargs = 3; return 41;	/* socket */
	case 2: *nargs = 3; return 49;	/* bind */
	case 3: *nargs = 3; return 42;	/* connect */
	case 4: *nargs = 2; return 50;	/* listen */
	case 5: *nargs = 3; return 43;	/* accept */
	case 6: *nargs = 3; return 51;	/* getsockname */
	case 7: *nargs = 3; return 52;	/* getpeername */
	case 8: *nargs = 4; return 53;	/* socketpair */
	case 9: *nargs = 4; return 44;	/* send = sendto without address */
	case 10: *nargs = 4; return 45;	/* recv = recvfrom without address */
	case 11: *nargs = 6; return 44;	/* sendto */
	case 12: *nargs = 6; return 45;	/* recvfrom */
	case 13: *nargs = 2; return 48;	/* shutdown */
	case 14: *nargs = 5; return 54;	/* setsockopt */
	case 15: *nargs = 5; return 55;	/* getsockopt */
	case 16: *nargs = 3; return 46;	/* sendmsg */
	case 17: *nargs = 3; return 47;	/* recvmsg */
	case 18: *nargs = 4; return 288; /* accept4 */
	case 19: *nargs = 5; return 299; /* recvmmsg */
	case 20: *nargs = 4; return 307; /* sendmmsg */
	}
	return -1;
}

/* ipc(call, first, second, third, ptr, fifth): native number, arguments rearranged as the native
 * call takes them (-1: unknown call) */
static __always_inline long ipc_unpack(struct lw_call *k)
{
	u64 first = A(1), second = A(2), third = A(3), ptr = A(4), fifth = A(5);
	long nr;
	switch (A(0) & 0xffff) {
	case 1: nr = 65; k->a[0] = first; k->a[1] = ptr; k->a[2] = second; break;		/* semop */
	case 2: nr = 64; k->a[0] = first; k->a[1] = second; k->a[2] = third; break;		/* semget */
	case 3: { /* semctl: the fourth argument is read through ptr */
		u32 v = 0;
		bpf_probe_read_user(&v, sizeof(v), (void *)ptr);
		nr = 66; k->a[0] = first; k->a[1] = second; k->a[2] = third; k->a[3] = v;
		break;
	}
	case 4: nr = 220; k->a[0] = first; k->a[1] = ptr; k->a[2] = second; k->a[3] = fifth; break;	/* semtimedop */
	case 11: nr = 69; k->a[0] = first; k->a[1] = ptr; k->a[2] = second; k->a[3] = third; break;	/* msgsnd */
	case 12: nr = 70; k->a[0] = first; k->a[1] = ptr; k->a[2] = second; k->a[3] = fifth; k->a[4] = third; break;
	case 13: nr = 68; k->a[0] = first; k->a[1] = second; break;				/* msgget */
	case 14: nr = 71; k->a[0] = first; k->a[1] = second; k->a[2] = ptr; break;		/* msgctl */
	case 21: nr = 30; k->a[0] = first; k->a[1] = ptr; k->a[2] = second; break;		/* shmat */
	case 22: nr = 67; k->a[0] = ptr; break;							/* shmdt */
	case 23: nr = 29; k->a[0] = first; k->a[1] = second; k->a[2] = third; break;		/* shmget */
	case 24: nr = 31; k->a[0] = first; k->a[1] = second; k->a[2] = ptr; break;		/* shmctl */
	default: return -1;
	}
	return nr;
}

/* A 32-bit syscall as the native one it stands for: number mapped through lanner_ia32, arguments
 * from the ia32 registers, socketcall and ipc unpacked. Returns the native number, -1 to skip. */
static __always_inline long ia32_call(struct pt_regs *r, long nr, struct lw_call *k)
{
	/* an execve from a 64-bit program into a 32-bit one exits with TS_COMPAT set but the native
	 * number and registers */
	if (nr == NR_EXECVE || nr == NR_EXECVEAT) {
		call_native(k, r);
		return nr;
	}
#if defined(__TARGET_ARCH_x86)
	k->a[0] = (u32)r->bx;
	k->a[1] = (u32)r->cx;
	k->a[2] = (u32)r->dx;
	k->a[3] = (u32)r->si;
	k->a[4] = (u32)r->di;
	k->a[5] = (u32)r->bp;
#endif
	k->compat = 1;
	if (nr == IA32_SOCKETCALL) {
		u32 na = 0;
		long n = socketcall_nr((u32)A(0), &na);
		if (n < 0)
			return -1;
		u32 v[8] = {};
		bpf_probe_read_user(v, (na & 7) * 4, (void *)A(1));
		for (int i = 0; i < 6; i++)
			k->a[i] = v[i];
		return n;
	}
	if (nr == IA32_IPC)
		return ipc_unpack(k);
	if (nr < 0 || nr >= NR_SYSCALLS)
		return -1;
	u32 key = (u32)nr;
	u32 *m = bpf_map_lookup_elem(&lanner_ia32, &key);
	if (!m || !*m)
		return -1;
	return (long)*m - 1;
}

/* ---------------------------------------------------------------- kernel object helpers */

static __always_inline struct file *fd_file(struct task_struct *t, s64 fd)
{
	if (fd < 0)
		return NULL;
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt)
		return NULL;
	u32 max = BPF_CORE_READ(fdt, max_fds);
	if ((u64)fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline u32 new_encode_dev(u32 dev)
{
	u32 major = dev >> 20, minor = dev & ((1U << 20) - 1);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

static __always_inline u32 task_tid_ns(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	u32 lvl = BPF_CORE_READ(p, level);
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[lvl & 31]);
	return up.nr;
}

static __always_inline u8 *scratch_tmp(void)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct lw_scratch *s = bpf_map_lookup_elem(&lanner_scratch, &cpu);
	return s ? s->tmp : NULL;
}

/* bpf_loop callbacks are verified once, not once per iteration: path walks stay cheap to verify */
struct walk_ctx {
	struct dentry *d;
	struct mount *mnt;
	struct kernfs_node *kn;
	u32 pos;
};

static long dentry_step(u64 i, struct walk_ctx *c)
{
	u8 *tmp = scratch_tmp();
	if (!tmp)
		return 1;
	struct dentry *d = c->d;
	struct mount *mnt = c->mnt;
	struct dentry *mroot = BPF_CORE_READ(mnt, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == mroot) {
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
		if (mp == mnt)
			return 1;
		c->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mp;
		return 0;
	}
	if (d == parent)
		return 1;
	struct qstr q = BPF_CORE_READ(d, d_name);
	u32 len = q.len & 255;
	u32 pos = c->pos;
	if (pos > TMP_SZ || pos < len + 1)
		return 1;
	pos -= len;
	bpf_probe_read_kernel(&tmp[pos & (TMP_SZ - 1)], len, q.name);
	pos -= 1;
	tmp[pos & (TMP_SZ - 1)] = '/';
	c->pos = pos;
	c->d = parent;
	return 0;
}

static long kernfs_step(u64 i, struct walk_ctx *c)
{
	u8 *tmp = scratch_tmp();
	struct kernfs_node *kn = c->kn;
	if (!tmp || !kn)
		return 1;
	struct kernfs_node *parent;
	if (bpf_core_field_exists(struct kernfs_node___old, parent))
		parent = BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
	else
		parent = BPF_CORE_READ(kn, __parent);
	if (!parent)
		return 1;
	const char *name = BPF_CORE_READ(kn, name);
	char nb[128];
	long n = bpf_probe_read_kernel_str(nb, sizeof(nb), name);
	if (n <= 1)
		return 1;
	u32 len = (n - 1) & 127;
	u32 pos = c->pos;
	if (pos > TMP_SZ || pos < len + 1)
		return 1;
	pos -= len;
	bpf_probe_read_kernel(&tmp[pos & (TMP_SZ - 1)], len, nb);
	pos -= 1;
	tmp[pos & (TMP_SZ - 1)] = '/';
	c->pos = pos;
	c->kn = parent;
	return 0;
}

/* copy tmp[pos..TMP_SZ) (+ NUL when with_nul) to the event; returns bytes copied */
static __always_inline u32 copy_tmp(struct lw_writer *w, u32 pos, int with_nul)
{
	u8 *tmp = w->tmp;
	if (pos >= TMP_SZ) {
		pos = TMP_SZ - 1;
		tmp[pos] = '/';
	}
	tmp[TMP_SZ] = 0;
	u32 sz = (TMP_SZ + (with_nul ? 1 : 0) - pos) & (2 * TMP_SZ - 1);
	bpf_probe_read_kernel(&w->buf[OFF(w->s->off)], sz, &tmp[pos & (TMP_SZ - 1)]);
	return sz;
}

/* Walk a struct path to an absolute path string. Writes the param (NUL included). */
static __always_inline void w_path(struct lw_writer *w, struct path *kp)
{
	struct walk_ctx c = {};
	c.d = BPF_CORE_READ(kp, dentry);
	struct vfsmount *vm = BPF_CORE_READ(kp, mnt);
	c.mnt = container_of(vm, struct mount, mnt);
	c.pos = TMP_SZ;
	if (!c.d) {
		w_empty(w);
		return;
	}
	bpf_loop(MAX_DEPTH, dentry_step, &c, 0);
	w_len(w, copy_tmp(w, c.pos, 1));
}

/* kernfs path of a cgroup into buf at the current offset, without NUL; returns bytes written */
static __always_inline u32 put_kernfs_path(struct lw_writer *w, struct kernfs_node *kn)
{
	struct walk_ctx c = {};
	c.kn = kn;
	c.pos = TMP_SZ;
	bpf_loop(16, kernfs_step, &c, 0);
	return copy_tmp(w, c.pos, 0);
}

/* cgroups as "subsys=path\0" entries. All controllers of a cgroup-v2 host share the default
 * hierarchy's path: it is walked once and repeated for the common controller names (a cgroup-v1
 * host gets the v1 path of the cpu controller's hierarchy when the default one is the root). */
static __always_inline void w_cgroups(struct lw_writer *w, struct task_struct *t)
{
	struct css_set *cs = BPF_CORE_READ(t, cgroups);
	if (!cs) {
		w_empty(w);
		return;
	}
	struct kernfs_node *kn = BPF_CORE_READ(cs, dfl_cgrp, kn);
	struct cgroup_subsys_state *css = NULL;
	bpf_probe_read_kernel(&css, sizeof(css), &cs->subsys[1]);
	struct kernfs_node *kn1 = css ? BPF_CORE_READ(css, cgroup, kn) : NULL;
	if (kn1 && kn1 != kn) {
		struct kernfs_node *p1;
		if (bpf_core_field_exists(struct kernfs_node___old, parent))
			p1 = BPF_CORE_READ((struct kernfs_node___old *)kn1, parent);
		else
			p1 = BPF_CORE_READ(kn1, __parent);
		if (p1)
			kn = kn1;
	}
	u32 start = w->s->off;
	/* first entry: "cpuset=" + path */
	const char pfx[] = "cpuset=";
	__builtin_memcpy(&w->buf[OFF(start)], pfx, 7);
	w->s->off = start + 7;
	u32 plen = put_kernfs_path(w, kn) & (MAX_PATH - 1);
	w->buf[OFF(start + 7 + plen)] = 0;
	u32 total = 7 + plen + 1;
	const char *names[] = {"cpu=", "cpuacct=", "memory=", "pids=", "blkio=", "devices="};
	const u8 nlen[] = {4, 8, 7, 5, 6, 8};
	for (int i = 0; i < 6; i++) {
		if (total + 16 + plen > 2 * MAX_CGROUPS)
			break;
		u32 nl = nlen[i];
		bpf_probe_read_kernel(&w->buf[OFF(start + total)], nl & 15, names[i]);
		total += nl;
		bpf_probe_read_kernel(&w->buf[OFF(start + total)], (plen + 1) & (MAX_PATH - 1), &w->buf[OFF(start + 7)]);
		total += plen + 1;
	}
	w->s->off = start;
	w_len(w, total & (4 * MAX_CGROUPS - 1));
}

/* ---------------------------------------------------------------- sockets */

static __always_inline struct sock *fd_sock(struct task_struct *t, s64 fd)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & 0170000) != 0140000)
		return NULL;
	struct socket *so = BPF_CORE_READ(f, private_data);
	if (!so)
		return NULL;
	return BPF_CORE_READ(so, sk);
}

static __always_inline void put_unix_path(struct lw_writer *w, struct sock *sk, u32 *total, u32 start)
{
	struct unix_sock *us = (struct unix_sock *)sk;
	struct unix_address *ua = BPF_CORE_READ(us, addr);
	long n = 0;
	if (ua) {
		int alen = BPF_CORE_READ(ua, len);
		char *p = (char *)&ua->name[0].sun_path[0];
		char first = 0;
		bpf_probe_read_kernel(&first, 1, p);
		if (first == 0 && alen > 3)
			p++;
		n = bpf_probe_read_kernel_str(&w->buf[OFF(start + *total)], 108, p);
	}
	if (n <= 0) {
		w->buf[OFF(start + *total)] = 0;
		n = 1;
	}
	*total += n;
}

/* outbound: local->remote; inbound: remote->local. An unconnected (UDP) socket has no remote port:
 * the remote end then comes from the caller's address argument `uaddr` (sendto/recvfrom address,
 * msghdr name), as Falco's modern probe takes it. */
static __always_inline void w_socktuple(struct lw_writer *w, struct sock *sk, int inbound, const void *uaddr)
{
	if (!sk) {
		w_empty(w);
		return;
	}
	u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	u8 *b = w->buf;
	u32 o = w->s->off;
	if (fam == 2) {
		u32 sa = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		u32 da = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		u16 sp = BPF_CORE_READ(sk, __sk_common.skc_num);
		u16 dp = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!dp && uaddr) {
			struct sockaddr_in sin = {};
			bpf_probe_read_user(&sin, sizeof(sin), uaddr);
			da = sin.sin_addr.s_addr;
			dp = bpf_ntohs(sin.sin_port);
		}
		b[OFF(o)] = 2;
		if (inbound) {
			*(u32 *)&b[OFF(o + 1)] = da; *(u16 *)&b[OFF(o + 5)] = dp;
			*(u32 *)&b[OFF(o + 7)] = sa; *(u16 *)&b[OFF(o + 11)] = sp;
		} else {
			*(u32 *)&b[OFF(o + 1)] = sa; *(u16 *)&b[OFF(o + 5)] = sp;
			*(u32 *)&b[OFF(o + 7)] = da; *(u16 *)&b[OFF(o + 11)] = dp;
		}
		w_len(w, 13);
	} else if (fam == 10) {
		struct in6_addr sa = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr da = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		u16 sp = BPF_CORE_READ(sk, __sk_common.skc_num);
		u16 dp = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!dp && uaddr) {
			struct sockaddr_in6 s6 = {};
			bpf_probe_read_user(&s6, sizeof(s6), uaddr);
			__builtin_memcpy(&da, &s6.sin6_addr, 16);
			dp = bpf_ntohs(s6.sin6_port);
		}
		b[OFF(o)] = 10;
		if (inbound) {
			__builtin_memcpy(&b[OFF(o + 1)], &da, 16); *(u16 *)&b[OFF(o + 17)] = dp;
			__builtin_memcpy(&b[OFF(o + 19)], &sa, 16); *(u16 *)&b[OFF(o + 35)] = sp;
		} else {
			__builtin_memcpy(&b[OFF(o + 1)], &sa, 16); *(u16 *)&b[OFF(o + 17)] = sp;
			__builtin_memcpy(&b[OFF(o + 19)], &da, 16); *(u16 *)&b[OFF(o + 35)] = dp;
		}
		w_len(w, 37);
	} else if (fam == 1) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		u64 s = (u64)sk, d = (u64)peer;
		b[OFF(o)] = 1;
		*(u64 *)&b[OFF(o + 1)] = inbound ? d : s;
		*(u64 *)&b[OFF(o + 9)] = inbound ? s : d;
		u32 total = 17;
		put_unix_path(w, peer ? peer : sk, &total, o);
		w_len(w, total & 255);
	} else {
		w_empty(w);
	}
}

/* sockaddr from user memory, PPM encoding */
static __always_inline void w_usockaddr(struct lw_writer *w, const void *p, u32 alen)
{
	u16 fam = 0;
	if (!p || alen < 2 || bpf_probe_read_user(&fam, 2, p)) {
		w_empty(w);
		return;
	}
	u8 *b = w->buf;
	u32 o = w->s->off;
	if (fam == 2) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), p);
		b[OFF(o)] = 2;
		*(u32 *)&b[OFF(o + 1)] = sin.sin_addr.s_addr;
		*(u16 *)&b[OFF(o + 5)] = bpf_ntohs(sin.sin_port);
		w_len(w, 7);
	} else if (fam == 10) {
		struct sockaddr_in6 s6 = {};
		bpf_probe_read_user(&s6, sizeof(s6), p);
		b[OFF(o)] = 10;
		__builtin_memcpy(&b[OFF(o + 1)], &s6.sin6_addr, 16);
		*(u16 *)&b[OFF(o + 17)] = bpf_ntohs(s6.sin6_port);
		w_len(w, 19);
	} else if (fam == 1) {
		const char *path = (const char *)p + 2;
		char first = 0;
		bpf_probe_read_user(&first, 1, path);
		if (first == 0)
			path++;
		b[OFF(o)] = 1;
		long n = bpf_probe_read_user_str(&b[OFF(o + 1)], 108, path);
		if (n <= 0) {
			b[OFF(o + 1)] = 0;
			n = 1;
		}
		w_len(w, (1 + n) & 255);
	} else {
		b[OFF(o)] = family_to_ppm(fam);
		w_len(w, 1);
	}
}

/* ---------------------------------------------------------------- process info */

static __always_inline u64 cap_val(kernel_cap_t *c)
{
	u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), c);
	return v;
}

static __always_inline u32 tty_of(struct task_struct *t)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (!tty)
		return 0;
	int index = BPF_CORE_READ(tty, index);
	int major = BPF_CORE_READ(tty, driver, major);
	int minor_start = BPF_CORE_READ(tty, driver, minor_start);
	u32 minor = minor_start + index;
	return (minor & 0xff) | ((u32)major << 8) | ((minor & ~0xffU) << 12);
}

/* params 1..14 shared by execve and clone exit events: exe, args, tid, pid, ptid, cwd, fdlimit,
 * pgft_maj, pgft_min, vm_size, vm_rss, vm_swap, comm, cgroups */
static __always_inline void w_proc_common(struct lw_writer *w, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	u64 as = 0, ae = 0;
	if (mm) {
		as = BPF_CORE_READ(mm, arg_start);
		ae = BPF_CORE_READ(mm, arg_end);
	}
	/* exe = argv[0] */
	long n0 = 0;
	if (as && ae > as) {
		n0 = bpf_probe_read_user_str(&w->buf[OFF(w->s->off)], MAX_PATH, (void *)as);
		if (n0 < 0)
			n0 = 0;
	}
	w_len(w, (u32)n0);
	/* args = argv[1..] */
	if (as && ae > as + n0)
		w_ubuf(w, (void *)(as + n0), ae - as - n0, MAX_ARGS - 1);
	else
		w_empty(w);
	w_u64(w, BPF_CORE_READ(t, pid));
	w_u64(w, BPF_CORE_READ(t, tgid));
	w_u64(w, BPF_CORE_READ(t, real_parent, pid));
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	if (fs)
		w_path(w, &fs->pwd);
	else
		w_empty(w);
	w_u64(w, BPF_CORE_READ(t, signal, rlim[7].rlim_cur));
	w_u64(w, BPF_CORE_READ(t, maj_flt));
	w_u64(w, BPF_CORE_READ(t, min_flt));
	u64 tvm = mm ? BPF_CORE_READ(mm, total_vm) : 0;
	w_u32(w, (u32)(tvm << 2)); /* pages -> KiB (4 KiB pages) */
	w_u32(w, 0);
	w_u32(w, 0);
	char comm[16];
	__builtin_memset(comm, 0, sizeof(comm));
	bpf_probe_read_kernel_str(comm, sizeof(comm), t->comm);
	long cn = bpf_probe_read_kernel_str(&w->buf[OFF(w->s->off)], 16, comm);
	w_len(w, cn > 0 ? (u32)cn : 0);
	w_cgroups(w, t);
}

static __always_inline void emit_exec(struct lw_config *cfg, struct lw_counters *c, struct task_struct *t,
				      u16 code, s64 res, const void *filename, int user_fname)
{
	struct lw_writer w;
	if (!w_begin(&w, cfg, code, code == 293 ? 31 : 30))
		return;
	w_u64(&w, res);
	w_proc_common(&w, t);
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	u64 es = mm ? BPF_CORE_READ(mm, env_start) : 0, ee = mm ? BPF_CORE_READ(mm, env_end) : 0;
	if (es && ee > es)
		w_ubuf(&w, (void *)es, ee - es, MAX_ENV - 1);
	else
		w_empty(&w);
	w_u32(&w, tty_of(t));
	struct pid *pg = BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]);
	u32 pgid = pg ? BPF_CORE_READ(pg, numbers[0].nr) : 0;
	w_u64(&w, pgid);	/* vpgid (host view) */
	w_u32(&w, BPF_CORE_READ(t, loginuid.val));
	/* exe flags */
	struct file *exe = mm ? BPF_CORE_READ(mm, exe_file) : NULL;
	struct inode *ino = exe ? BPF_CORE_READ(exe, f_inode) : NULL;
	const struct cred *cr = BPF_CORE_READ(t, cred);
	u32 euid = BPF_CORE_READ(cr, euid.val);
	u32 egid = BPF_CORE_READ(cr, egid.val);
	u64 capeff = cap_val(&((struct cred *)cr)->cap_effective);
	u32 xflags = 0;
	if (ino) {
		u16 mode = BPF_CORE_READ(ino, i_mode);
		u32 iuid = BPF_CORE_READ(ino, i_uid.val);
		u32 igid = BPF_CORE_READ(ino, i_gid.val);
		if ((mode & 0002) || (iuid == euid && (mode & 0200)) || (igid == egid && (mode & 0020)) ||
		    (capeff & 2))
			xflags |= 1; /* EXE_WRITABLE */
		char nm[8] = {};
		const unsigned char *dn = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
		bpf_probe_read_kernel(nm, 6, dn);
		if (nm[0] == 'm' && nm[1] == 'e' && nm[2] == 'm' && nm[3] == 'f' && nm[4] == 'd' && nm[5] == ':')
			xflags |= 4; /* EXE_FROM_MEMFD */
		/* overlayfs: struct ovl_inode keeps __upperdentry right after its embedded vfs inode; it is set
		 * when the file lives in (or was copied up to) the container's writable layer. */
		if (BPF_CORE_READ(ino, i_sb, s_magic) == 0x794c7630) {
			struct dentry *upper = NULL;
			u32 isz = bpf_core_type_size(struct inode);
			if (isz) {
				bpf_probe_read_kernel(&upper, sizeof(upper), (char *)ino + isz);
				xflags |= upper ? 2 : 8; /* EXE_UPPER_LAYER : EXE_LOWER_LAYER */
			}
		}
	}
	w_u32(&w, xflags);
	w_u64(&w, cap_val(&((struct cred *)cr)->cap_inheritable));
	w_u64(&w, cap_val(&((struct cred *)cr)->cap_permitted));
	w_u64(&w, capeff);
	u64 ct = 0, mt = 0;
	if (ino) {
		if (bpf_core_field_exists(struct inode, i_ctime_sec)) {
			ct = BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ULL + (BPF_CORE_READ(ino, i_ctime_nsec) & 0x3fffffff);
			mt = BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ULL + (BPF_CORE_READ(ino, i_mtime_nsec) & 0x3fffffff);
		} else {
			struct inode___old *io = (void *)ino;
			ct = BPF_CORE_READ(io, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(io, __i_ctime.tv_nsec);
			mt = BPF_CORE_READ(io, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(io, i_mtime.tv_nsec);
		}
	}
	w_u64(&w, ino ? BPF_CORE_READ(ino, i_ino) : 0);
	w_u64(&w, ct);
	w_u64(&w, mt);
	w_u32(&w, euid);
	if (exe)
		w_path(&w, &exe->f_path);
	else
		w_empty(&w);
	w_u64(&w, pgid);
	w_u32(&w, egid);
	if (code == 293) {
		if (user_fname)
			w_ustr(&w, filename, MAX_PATH);
		else
			w_kstr(&w, filename, MAX_PATH);
	}
	w_end(&w, c);
}

static __always_inline void emit_clone(struct lw_config *cfg, struct lw_counters *c, struct task_struct *t,
				       struct lw_call *k, u16 code, s64 res)
{
	struct lw_writer w;
	if (!w_begin(&w, cfg, code, 21))
		return;
	w_u64(&w, res);
	w_proc_common(&w, t);
	u64 lf = 0;
	if (code == 223)
		lf = A(0);
	else if (code == 335) {
		void *ua = (void *)A(0);
		bpf_probe_read_user(&lf, sizeof(lf), ua);
	} else if (code == 227)
		lf = 0x4000 | 0x100;
	u32 f = clone_flags_to_ppm(lf);
	struct pid *tp = BPF_CORE_READ(t, thread_pid);
	u32 lvl = BPF_CORE_READ(tp, level);
	if (lvl > 0)
		f |= 0x20000000; /* CLONE_CHILD_IN_PIDNS */
	w_u32(&w, f);
	const struct cred *cr = BPF_CORE_READ(t, cred);
	w_u32(&w, BPF_CORE_READ(cr, euid.val));
	w_u32(&w, BPF_CORE_READ(cr, egid.val));
	w_u64(&w, task_tid_ns(t));
	struct task_struct *gl = BPF_CORE_READ(t, group_leader);
	w_u64(&w, gl ? task_tid_ns(gl) : 0);
	u64 st = 0;
	if (lvl > 0) {
		struct upid up = {};
		bpf_probe_read_kernel(&up, sizeof(up), &tp->numbers[lvl & 31]);
		struct task_struct *reaper = BPF_CORE_READ(up.ns, child_reaper);
		if (reaper)
			st = BPF_CORE_READ(reaper, start_time);
	}
	w_u64(&w, st);
	w_end(&w, c);
}

/* ---------------------------------------------------------------- open family + push-down */

static __always_inline int cls_match(u32 ev, u32 cls)
{
	return (ev & cls & OC_FLAGS) && (ev & cls & OC_RESULT);
}

static __always_inline int entry_match(struct lw_config *cfg, u32 ev, u8 *path, u32 len)
{
	u32 n = cfg->n_prefix;
	for (int i = 0; i < N_PREFIX; i++) {
		if (i >= n)
			break;
		u32 cls = cfg->prefix_cls[i];
		if (!cls_match(ev, cls))
			continue;
		u32 pl = cfg->prefix_len[i];
		if (cls & OC_EXACT) {
			if (pl + 1 != len) /* len includes the NUL */
				continue;
		} else if (pl >= len) {
			continue;
		}
		int ok = 1;
		for (int j = 0; j < PREFIX_WORDS; j++) {
			u64 m = cfg->prefix_mask[i][j];
			if (!m)
				break;
			u64 v = *(u64 *)(path + 8 * j);
			if ((v & m) != cfg->prefix[i][j]) {
				ok = 0;
				break;
			}
		}
		if (ok)
			return 1;
	}
	return 0;
}

/* "//", "/.", ".." anywhere, or a trailing '/': fd.name (normalised) differs from the raw path.
 * len includes the NUL. */
static __always_inline int nonnorm(u8 *path, u32 len)
{
	if (len > NONNORM_SCAN)
		return 1;
	if (len >= 3 && path[(len - 2) & (NONNORM_SCAN - 1)] == '/')
		return 1;
	u8 prev = 0;
	for (int i = 0; i < NONNORM_SCAN; i++) {
		if (i + 1 >= len)
			break;
		u8 ch = path[i];
		if ((prev == '/' && (ch == '/' || ch == '.')) || (prev == '.' && ch == '.'))
			return 1;
		prev = ch;
	}
	return 0;
}

/* returns 1 to keep */
static __always_inline int open_keep(struct lw_config *cfg, s64 res, u32 ppmflags, u8 *path, u32 plen)
{
	if (!cfg->open_filter_on)
		return 1;
	u32 ev = 0;
	if (ppmflags & 1)
		ev |= OC_READ;
	if (ppmflags & 2)
		ev |= OC_WRITE;
	if (ppmflags & (4 | 0x4000 | 0x2000))
		ev |= OC_CREATE;
	if (!ev)
		ev = OC_READ;
	ev |= res < 0 ? OC_ERR : OC_OK;
	if (!cls_match(ev, cfg->open_classes))
		return 0;
	if (plen <= 1)
		return 1;
	if (path[0] != '/')
		return 1; /* relative: resolved against the cwd in userspace */
	if (entry_match(cfg, ev, path, plen))
		return 1;
	return nonnorm(path, plen);
}

static __always_inline u32 fd_word(u32 fd)
{
	u32 i = fd >> 6;
	asm volatile("" : "+r"(i));
	return i & (SUPP_WORDS - 1);
}

static __always_inline struct lw_fdbits *supp_bits(int create)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_struct *leader = t->group_leader;
	if (!leader)
		return NULL;
	return bpf_task_storage_get(&lanner_supp, leader, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline void supp_set(u32 fd)
{
	if (fd >= SUPP_WORDS * 64)
		return;
	struct lw_fdbits *b = supp_bits(1);
	u32 i = fd_word(fd);
	if (b)
		b->bits[i] |= 1ULL << (fd & 63);
}

static __always_inline void supp_clear(struct lw_config *cfg, s64 fd)
{
	if (!cfg->close_filter_on || fd < 0 || fd >= SUPP_WORDS * 64)
		return;
	struct lw_fdbits *b = supp_bits(0);
	u32 i = fd_word((u32)fd);
	if (b)
		b->bits[i] &= ~(1ULL << (fd & 63));
}

/* 1: this close is of a file whose open was filtered out (the bit is consumed) */
static __always_inline int supp_take(struct lw_config *cfg, s64 fd)
{
	if (!cfg->close_filter_on || fd < 0 || fd >= SUPP_WORDS * 64)
		return 0;
	struct lw_fdbits *b = supp_bits(0);
	if (!b)
		return 0;
	u32 i = fd_word((u32)fd);
	u64 m = 1ULL << (fd & 63);
	if (!(b->bits[i] & m))
		return 0;
	b->bits[i] &= ~m;
	return 1;
}

static __always_inline void emit_open(struct lw_config *cfg, struct lw_counters *c, struct task_struct *t,
				      struct lw_call *k, u16 code, s64 res)
{
	struct lw_writer w;
	const void *name;
	s64 dirfd = -100;
	u64 lflags = 0, mode = 0, resolve = 0;
	u32 np;
	if (code == 3) {
		name = (void *)A(0); lflags = A(1); mode = A(2); np = 6;
	} else if (code == 59) {
		name = (void *)A(0); lflags = 01 | 0100 | 01000; mode = A(1); np = 6;
	} else if (code == 307) {
		dirfd = SA(0); name = (void *)A(1); lflags = A(2); mode = A(3); np = 7;
	} else {
		struct open_how how = {};
		dirfd = SA(0); name = (void *)A(1);
		bpf_probe_read_user(&how, sizeof(how), (void *)A(2));
		lflags = how.flags; mode = how.mode; resolve = how.resolve; np = 8;
	}
	u32 pf = open_flags_to_ppm((u32)lflags);
	if (!(pf & (4 | 0x2000)))
		mode = 0;
	if (!w_begin(&w, cfg, code, np))
		return;
	w_u64(&w, res);
	if (code == 307 || code == 327)
		w_u64(&w, dirfd);
	u32 poff = w.s->off;
	w_ustr(&w, name, MAX_PATH);
	u32 plen = w.s->off - poff;
	if (!open_keep(cfg, res, pf, &w.buf[OFF(poff)], plen)) {
		if (c)
			filt(c, FAM_OPEN);
		if (res >= 0 && cfg->close_filter_on)
			supp_set((u32)res);
		return;
	}
	supp_clear(cfg, res);
	u32 dev = 0;
	u64 ino = 0;
	u32 layer = 0;
	if (res >= 0) {
		struct file *f = fd_file(t, res);
		if (f) {
			u32 fmode = BPF_CORE_READ(f, f_mode);
			if (fmode & 0x100000) /* FMODE_CREATED */
				pf |= 0x4000;
			struct inode *in = BPF_CORE_READ(f, f_inode);
			ino = BPF_CORE_READ(in, i_ino);
			dev = new_encode_dev(BPF_CORE_READ(in, i_sb, s_dev));
		}
	}
	if (code != 59)
		w_u32(&w, pf);
	w_u32(&w, (u32)mode);
	if (code == 327)
		w_u32(&w, (u32)resolve);
	w_u32(&w, dev);
	w_u64(&w, ino);
	if (code == 59)
		w_u16(&w, (u16)layer);
	w_end(&w, c);
}

/* ---------------------------------------------------------------- data buffers (snaplen) */

#define MAX_IOV 32
#define MAX_MMSG 1024

/* what a user msghdr (native or 32-bit layout) points to */
struct lw_msg {
	u64 name;
	u64 iov;
	u64 iovlen;
	u64 control;
	u64 controllen;
};

struct lw_compat_msghdr {
	u32 name;
	s32 namelen;
	u32 iov;
	u32 iovlen;
	u32 control;
	u32 controllen;
	u32 flags;
};

static __always_inline void read_msg(const void *p, u32 compat, struct lw_msg *m)
{
	if (compat) {
		struct lw_compat_msghdr cm = {};
		bpf_probe_read_user(&cm, sizeof(cm), p);
		m->name = cm.name; m->iov = cm.iov; m->iovlen = cm.iovlen;
		m->control = cm.control; m->controllen = cm.controllen;
	} else {
		struct user_msghdr mh = {};
		bpf_probe_read_user(&mh, sizeof(mh), p);
		m->name = (u64)mh.msg_name; m->iov = (u64)mh.msg_iov; m->iovlen = mh.msg_iovlen;
		m->control = (u64)mh.msg_control; m->controllen = mh.msg_controllen;
	}
}

struct iov_ctx {
	u64 iov;
	u64 total;	/* sum of iov_len: the size param of the write family */
	u32 compat;
	u32 left;	/* data bytes still to copy */
	u32 pos;	/* where the next data byte goes in the event */
};

/* one iovec: add its length, copy its first bytes while the data param wants more */
static long iov_step(u64 i, struct iov_ctx *c)
{
	u64 base, len;
	if (c->compat) {
		u32 v[2] = {};
		if (bpf_probe_read_user(v, sizeof(v), (void *)(c->iov + i * 8)))
			return 1;
		base = v[0];
		len = v[1];
	} else {
		u64 v[2] = {};
		if (bpf_probe_read_user(v, sizeof(v), (void *)(c->iov + i * 16)))
			return 1;
		base = v[0];
		len = v[1];
	}
	c->total += len;
	if (!c->left || !len)
		return 0;
	u32 n = len < c->left ? (u32)len : c->left;
	u32 cpu = bpf_get_smp_processor_id();
	struct lw_scratch *s = bpf_map_lookup_elem(&lanner_scratch, &cpu);
	if (!s)
		return 1;
	n &= (MAX_PATH - 1);
	if (bpf_probe_read_user(&s->evt[OFF(c->pos)], n, (void *)base)) {
		c->left = 0;
		return 0;
	}
	c->pos += n;
	c->left -= n;
	return 0;
}

/* data param gathered from an iovec array: its first `want` bytes (capped by the caller at snaplen).
 * Returns the sum of the iovec lengths (first MAX_IOV entries). */
static __always_inline u64 w_iov(struct lw_writer *w, u64 iov, u64 cnt, s64 want, u32 compat)
{
	u32 start = w->s->off;
	struct iov_ctx c = {};
	c.iov = iov;
	c.compat = compat;
	c.left = want > 0 ? (u32)want & (MAX_PATH - 1) : 0;
	c.pos = start;
	if (iov && cnt)
		bpf_loop(cnt < MAX_IOV ? cnt : MAX_IOV, iov_step, &c, 0);
	w_len(w, (c.pos - start) & (MAX_PATH - 1));
	return c.total;
}

/* the iovec lengths only (size params written before the data) */
static __always_inline u64 iov_total(u64 iov, u64 cnt, u32 compat)
{
	struct iov_ctx c = {};
	c.iov = iov;
	c.compat = compat;
	if (iov && cnt)
		bpf_loop(cnt < MAX_IOV ? cnt : MAX_IOV, iov_step, &c, 0);
	return c.total;
}

/* bytes of a read-family data param: what was read, at most snaplen; write family: what was
 * written, or on failure what was asked, at most snaplen */
static __always_inline u64 rd_len(s64 res, u32 snap)
{
	return res > 0 ? ((u64)res < snap ? (u64)res : snap) : 0;
}

static __always_inline u64 wr_len(s64 res, u64 size, u32 snap)
{
	u64 n = res > 0 ? (u64)res : size;
	return n < snap ? n : snap;
}

/* sendmmsg / recvmmsg: one event per message transferred, as Falco's modern probe emits them */
struct mmsg_ctx {
	u64 vec;
	s64 fd;
	u32 compat;
	u32 snap;
	u16 code;
};

static long mmsg_step(u64 i, struct mmsg_ctx *m)
{
	struct lw_config *cfg = lw_cfg();
	struct lw_counters *c = lw_cnt();
	if (!cfg)
		return 1;
	struct lw_msg msg = {};
	u32 mlen = 0;
	u64 p = m->vec + i * (m->compat ? 32 : 64);
	read_msg((void *)p, m->compat, &msg);
	bpf_probe_read_user(&mlen, sizeof(mlen), (void *)(p + (m->compat ? 28 : 56)));
	struct lw_writer w;
	struct task_struct *t = bpf_get_current_task_btf();
	if (m->code == 51) {
		if (!w_begin(&w, cfg, 51, 5))
			return 1;
		w_u64(&w, mlen); w_u64(&w, m->fd);
		u64 total = iov_total(msg.iov, msg.iovlen, m->compat);
		w_u32(&w, (u32)total);
		w_iov(&w, msg.iov, msg.iovlen, wr_len(mlen, total, m->snap), m->compat);
		w_socktuple(&w, fd_sock(t, m->fd), 0, (void *)msg.name);
	} else {
		if (!w_begin(&w, cfg, 55, 6))
			return 1;
		w_u64(&w, mlen); w_u64(&w, m->fd); w_u32(&w, mlen);
		w_iov(&w, msg.iov, msg.iovlen, rd_len(mlen, m->snap), m->compat);
		w_socktuple(&w, fd_sock(t, m->fd), 1, (void *)msg.name);
		if (msg.control && msg.controllen)
			w_ubuf(&w, (void *)msg.control, msg.controllen, MAX_PATH - 1);
		else
			w_empty(&w);
	}
	w_end(&w, c);
	return 0;
}

static __always_inline void emit_mmsg(struct lw_config *cfg, struct lw_counters *c, struct lw_call *k, u16 code,
				      s64 res, u32 snap)
{
	struct lw_writer w;
	if (res <= 0) {
		if (!w_begin(&w, cfg, code, code == 51 ? 5 : 6))
			return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u32(&w, 0); w_empty(&w); w_empty(&w);
		if (code == 55)
			w_empty(&w);
		w_end(&w, c);
		return;
	}
	struct mmsg_ctx m = {};
	m.vec = A(1);
	m.fd = SA(0);
	m.compat = k->compat;
	m.snap = snap;
	m.code = code;
	bpf_loop(res < MAX_MMSG ? res : MAX_MMSG, mmsg_step, &m, 0);
}

/* ---------------------------------------------------------------- generic dispatch */

static __always_inline void emit_syscall(struct lw_config *cfg, struct lw_counters *c, struct task_struct *t,
					 struct lw_call *k, u16 code, long nr, s64 res)
{
	struct lw_writer w;
	u32 snap = cfg->snaplen & (MAX_PATH - 1);

	switch (code) {
	case 3: case 59: case 307: case 327:
		emit_open(cfg, c, t, k, code, res);
		return;
	case 223: case 225: case 227: case 335:
		emit_clone(cfg, c, t, k, code, res);
		return;
	case 293:
		if (res >= 0)
			return; /* success comes from sched_process_exec */
		emit_exec(cfg, c, t, 293, res, (void *)A(0), 1);
		return;
	case 331:
		if (res >= 0)
			return;
		emit_exec(cfg, c, t, 331, res, NULL, 1);
		return;
	case 5: /* close */
		if (supp_take(cfg, SA(0))) {
			if (c)
				filt(c, FAM_CLOSE);
			return;
		}
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u64(&w, SA(0));
		break;
	case 7: case 9: /* read / write */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res);
		w_ubuf(&w, (void *)A(1), code == 7 ? rd_len(res, snap) : wr_len(res, A(2), snap), snap);
		w_u64(&w, SA(0)); w_u32(&w, (u32)A(2));
		break;
	case 113: case 115: /* pread, pwrite: a 32-bit caller splits pos over two registers */
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res);
		w_ubuf(&w, (void *)A(1), code == 113 ? rd_len(res, snap) : wr_len(res, A(2), snap), snap);
		w_u64(&w, SA(0)); w_u32(&w, (u32)A(2));
		w_u64(&w, k->compat ? (A(3) | (A(4) << 32)) : A(3));
		break;
	case 117: case 121: /* readv, preadv: size is what was read */
		if (!w_begin(&w, cfg, code, code == 121 ? 5 : 4)) return;
		w_u64(&w, res); w_u32(&w, res > 0 ? (u32)res : 0);
		if (res > 0)
			w_iov(&w, A(1), A(2), rd_len(res, snap), k->compat);
		else
			w_empty(&w);
		w_u64(&w, SA(0));
		if (code == 121)
			w_u64(&w, k->compat ? (A(3) | (A(4) << 32)) : A(3));
		break;
	case 119: case 123: { /* writev, pwritev: size is what was asked */
		if (!w_begin(&w, cfg, code, code == 123 ? 5 : 4)) return;
		w_u64(&w, res);
		u64 total = w_iov(&w, A(1), A(2), res > 0 ? rd_len(res, snap) : snap, k->compat);
		w_u64(&w, SA(0)); w_u32(&w, (u32)total);
		if (code == 123)
			w_u64(&w, k->compat ? (A(3) | (A(4) << 32)) : A(3));
		break;
	}
	case 51: case 55: /* sendmmsg, recvmmsg */
		emit_mmsg(cfg, c, k, code, res, snap);
		return;
	case 19: { /* socket */
		u32 ty = (u32)A(1);
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res); w_u32(&w, family_to_ppm((u16)A(0)));
		w_u32(&w, ty); w_u32(&w, (u32)A(2)); w_u32(&w, socket_type_to_ppm_flags(ty));
		break;
	}
	case 21: /* bind */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_usockaddr(&w, (void *)A(1), (u32)A(2));
		w_u64(&w, SA(0));
		break;
	case 23: { /* connect */
		s64 fd = SA(0);
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res);
		if (res == 0 || res == -115)
			w_socktuple(&w, fd_sock(t, fd), 0, NULL);
		else
			w_empty(&w);
		w_u64(&w, fd); w_usockaddr(&w, (void *)A(1), (u32)A(2));
		break;
	}
	case 25: /* listen */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u32(&w, (u32)A(1));
		break;
	case 247: case 389: { /* accept, accept4 */
		struct sock *lsk = fd_sock(t, SA(0));
		if (!w_begin(&w, cfg, code, code == 389 ? 6 : 5)) return;
		w_u64(&w, res);
		if (res >= 0)
			w_socktuple(&w, fd_sock(t, res), 1, NULL);
		else
			w_empty(&w);
		u32 ql = 0, qm = 0;
		if (lsk) {
			ql = BPF_CORE_READ(lsk, sk_ack_backlog);
			qm = BPF_CORE_READ(lsk, sk_max_ack_backlog);
		}
		w_u8(&w, qm ? (u8)(ql * 100 / qm) : 0); w_u32(&w, ql); w_u32(&w, qm);
		if (code == 389)
			w_u32(&w, socket_type_to_ppm_flags((u32)A(3)));
		break;
	}
	case 31: case 29: { /* sendto, send */
		s64 fd = SA(0);
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res); w_ubuf(&w, (void *)A(1), wr_len(res, A(2), snap), snap);
		w_u64(&w, fd); w_u32(&w, (u32)A(2));
		w_socktuple(&w, fd_sock(t, fd), 0, (void *)A(4));
		break;
	}
	case 35: { /* recvfrom */
		s64 fd = SA(0);
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res); w_ubuf(&w, (void *)A(1), rd_len(res, snap), snap);
		w_socktuple(&w, fd_sock(t, fd), 1, res >= 0 ? (void *)A(4) : NULL);
		w_u64(&w, fd); w_u32(&w, (u32)A(2));
		break;
	}
	case 49: { /* sendmsg */
		s64 fd = SA(0);
		struct lw_msg msg = {};
		read_msg((void *)A(1), k->compat, &msg);
		u64 total = iov_total(msg.iov, msg.iovlen, k->compat);
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res);
		w_iov(&w, msg.iov, msg.iovlen, wr_len(res, total, snap), k->compat);
		w_u64(&w, fd); w_u32(&w, (u32)total);
		w_socktuple(&w, fd_sock(t, fd), 0, (void *)msg.name);
		break;
	}
	case 53: { /* recvmsg */
		s64 fd = SA(0);
		struct lw_msg msg = {};
		if (res > 0)
			read_msg((void *)A(1), k->compat, &msg);
		if (!w_begin(&w, cfg, code, 6)) return;
		w_u64(&w, res); w_u32(&w, res > 0 ? (u32)res : 0);
		if (res > 0) {
			w_iov(&w, msg.iov, msg.iovlen, rd_len(res, snap), k->compat);
			w_socktuple(&w, fd_sock(t, fd), 1, (void *)msg.name);
		} else {
			w_empty(&w);
			w_empty(&w);
		}
		if (res > 0 && msg.control && msg.controllen)
			w_ubuf(&w, (void *)msg.control, msg.controllen, MAX_PATH - 1);
		else
			w_empty(&w);
		w_u64(&w, fd);
		break;
	}
	case 61: case 393: { /* pipe, pipe2 */
		int fds[2] = {-1, -1};
		bpf_probe_read_user(fds, sizeof(fds), (void *)A(0));
		if (res >= 0) {
			supp_clear(cfg, fds[0]);
			supp_clear(cfg, fds[1]);
		}
		u64 ino = 0;
		if (res >= 0) {
			struct file *f = fd_file(t, fds[0]);
			if (f)
				ino = BPF_CORE_READ(f, f_inode, i_ino);
		}
		if (!w_begin(&w, cfg, code, code == 393 ? 5 : 4)) return;
		w_u64(&w, res); w_u64(&w, (s64)fds[0]); w_u64(&w, (s64)fds[1]); w_u64(&w, ino);
		if (code == 393)
			w_u32(&w, open_flags_to_ppm((u32)A(1)) & ~3U);
		break;
	}
	case 95: /* chdir */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH);
		break;
	case 97: /* fchdir */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u64(&w, SA(0));
		break;
	case 267: case 301: case 279: case 387: /* chroot, unlink, rmdir, umount */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH);
		break;
	case 303: /* unlinkat */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_ustr(&w, (void *)A(1), MAX_PATH);
		w_u32(&w, (u32)A(2) & 0x200);
		break;
	case 175: case 309: /* rename, link */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_ustr(&w, (void *)A(1), MAX_PATH);
		break;
	case 177: case 319: case 311: /* renameat, renameat2, linkat */
		if (!w_begin(&w, cfg, code, code == 177 ? 5 : 6)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_ustr(&w, (void *)A(1), MAX_PATH);
		w_u64(&w, SA(2)); w_ustr(&w, (void *)A(3), MAX_PATH);
		if (code != 177)
			w_u32(&w, (u32)A(4));
		break;
	case 179: /* symlink */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_ustr(&w, (void *)A(1), MAX_PATH);
		break;
	case 181: /* symlinkat */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_u64(&w, SA(1));
		w_ustr(&w, (void *)A(2), MAX_PATH);
		break;
	case 277: /* mkdir */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_u32(&w, (u32)A(1));
		break;
	case 305: /* mkdirat */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_ustr(&w, (void *)A(1), MAX_PATH);
		w_u32(&w, (u32)A(2));
		break;
	case 315: /* chmod */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_u32(&w, (u32)A(1) & 07777);
		break;
	case 317: /* fchmod */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u32(&w, (u32)A(1) & 07777);
		break;
	case 313: /* fchmodat */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_ustr(&w, (void *)A(1), MAX_PATH);
		w_u32(&w, (u32)A(2) & 07777);
		break;
	case 199: case 201: /* setuid, setgid */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u32(&w, (u32)A(0));
		break;
	case 427: case 429: /* setreuid, setregid */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_u32(&w, (u32)A(0)); w_u32(&w, (u32)A(1));
		break;
	case 193: case 195: /* setresuid, setresgid */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u32(&w, (u32)A(0)); w_u32(&w, (u32)A(1)); w_u32(&w, (u32)A(2));
		break;
	case 169: { /* ptrace: addr/data as DYN selector 0 (u64) */
		u16 rq = ptrace_req_to_ppm((s64)A(0));
		if (cfg->ptrace_filter_on && !((cfg->ptrace_mask >> (rq & 63)) & 1)) {
			if (c)
				filt(c, FAM_PTRACE);
			return;
		}
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res);
		w.buf[OFF(w.s->off)] = 0; *(u64 *)&w.buf[OFF(w.s->off + 1)] = A(2); w_len(&w, 9);
		w.buf[OFF(w.s->off)] = 0; *(u64 *)&w.buf[OFF(w.s->off + 1)] = A(3); w_len(&w, 9);
		w_u16(&w, rq); w_u64(&w, SA(1));
		break;
	}
	case 257: /* mount */
		if (!w_begin(&w, cfg, code, 5)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_ustr(&w, (void *)A(1), MAX_PATH);
		w_ustr(&w, (void *)A(2), 256); w_u32(&w, mount_flags_to_ppm(A(3)));
		break;
	case 391: /* umount2 */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), MAX_PATH); w_u32(&w, (u32)A(1) & 0xf);
		break;
	case 411: /* init_module */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_ubuf(&w, (void *)A(0), A(1), snap);
		w_u64(&w, A(1)); w_ustr(&w, (void *)A(2), 256);
		break;
	case 413: /* finit_module */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_ustr(&w, (void *)A(1), 256);
		w_u32(&w, (u32)A(2));
		break;
	case 425: /* delete_module */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), 256); w_u32(&w, (u32)A(1) & 3);
		break;
	case 369: /* bpf */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u32(&w, (u32)A(0));
		break;
	case 405: /* memfd_create */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_ustr(&w, (void *)A(0), 256); w_u32(&w, (u32)A(1) & 7);
		break;
	case 367: /* dup */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u64(&w, SA(0));
		break;
	case 363: case 365: /* dup2, dup3 */
		if (!w_begin(&w, cfg, code, code == 365 ? 4 : 3)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u64(&w, SA(1));
		if (code == 365)
			w_u32(&w, (A(2) & 02000000) ? 0x1000 : 0);
		break;
	case 241: /* setns */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u32(&w, clone_flags_to_ppm(A(1)));
		break;
	case 285: /* unshare */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u32(&w, clone_flags_to_ppm(A(0)));
		break;
	case 321: /* userfaultfd */
		if (!w_begin(&w, cfg, code, 2)) return;
		w_u64(&w, res); w_u32(&w, open_flags_to_ppm((u32)A(0)) & ~3U);
		break;
	case 401: { /* prctl */
		u64 opt = A(0);
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u32(&w, (u32)opt);
		if (opt == 15 || opt == 16) {
			w_ustr(&w, (void *)A(1), 16); w_u64(&w, 0);
		} else {
			w_empty(&w); w_u64(&w, A(1));
		}
		break;
	}
	case 129: /* kill */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u8(&w, (u8)A(1));
		break;
	case 131: /* tkill */
		if (!w_begin(&w, cfg, code, 3)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u8(&w, (u8)A(1));
		break;
	case 133: /* tgkill */
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res); w_u64(&w, SA(0)); w_u64(&w, SA(1)); w_u8(&w, (u8)A(2));
		break;
	case 353: { /* capset: report the resulting sets */
		const struct cred *cr = BPF_CORE_READ(t, cred);
		if (!w_begin(&w, cfg, code, 4)) return;
		w_u64(&w, res);
		w_u64(&w, cap_val(&((struct cred *)cr)->cap_inheritable));
		w_u64(&w, cap_val(&((struct cred *)cr)->cap_permitted));
		w_u64(&w, cap_val(&((struct cred *)cr)->cap_effective));
		break;
	}
	case 275: /* setsid */
		if (!w_begin(&w, cfg, code, 1)) return;
		w_u64(&w, res);
		break;
	default: /* generic: ID (ppm_sc, 0 = look up by native nr), nativeID */
		if (!w_begin(&w, cfg, 1, 2)) return;
		w_u16(&w, 0); w_u16(&w, (u16)nr);
		break;
	}
	if (w_end(&w, c) && res >= 0) {
		switch (code) {
		case 19: case 247: case 389: case 363: case 365: case 367: case 405:
			supp_clear(cfg, res);
			break;
		}
	}
}

/* ---------------------------------------------------------------- programs */

static __always_inline int is_self(struct lw_config *cfg)
{
	return (u32)(bpf_get_current_pid_tgid() >> 32) == cfg->self_tgid;
}

/* the shared sys_exit handler: syscall table lookup, self and failure filters, then the capture */
static __always_inline int on_sys_exit(struct pt_regs *regs, long nr, long ret, int compat)
{
	struct lw_counters *c = lw_cnt();
	if (!c)
		return 0;
	c->seen++;
	struct lw_call k = {};
	if (compat)
		nr = ia32_call(regs, nr, &k);
	if (nr < 0 || nr >= NR_SYSCALLS)
		return 0;
	u32 key = (u32)nr;
	struct lw_sc_entry *e = bpf_map_lookup_elem(&lanner_sc, &key);
	if (!e || !(e->flags & SC_INTERESTING)) {
		c->skipped++;
		return 0;
	}
	struct lw_config *cfg = lw_cfg();
	if (!cfg || is_self(cfg)) {
		c->skipped++;
		return 0;
	}
	if (ret < 0 && cfg->drop_failed && ((cfg->drop_failed & DF_ALL) || e->code == 5)) {
		/* a failed close changes no state; Falco's drop_failed_exit drops every failure */
		c->failed_dropped++;
		return 0;
	}
	u8 fl = e->flags;
	if ((fl & SC_KEEP_ALL) != SC_KEEP_ALL) {
		/* result push-down: success, failure, or a connect in progress (EINPROGRESS) */
		u8 rc = ret >= 0 ? SC_KEEP_OK : SC_KEEP_ERR;
		if (e->code == 23 && ret == -115)
			rc = SC_KEEP_INPROG;
		if (!(fl & rc)) {
			filt(c, e->fam);
			return 0;
		}
	}
	c->cur_state_only = !(fl & SC_RULE);
	c->cur_fam = e->fam;
	if (!compat)
		call_native(&k, regs);
	struct task_struct *t = bpf_get_current_task_btf();
	emit_syscall(cfg, c, t, &k, e->code, nr, ret);
	return 0;
}

/* global hook: runs at the exit of every syscall of every process */
SEC("tp_btf/sys_exit")
int BPF_PROG(lanner_sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, sc_nr(regs), ret, in_ia32(bpf_get_current_task_btf()));
}

/* 32-bit syscalls beside the per-syscall tracepoints, which never fire for them (the kernel's syscall
 * trace events ignore compat syscalls on x86; this kernel may lack kprobes, and the ia32 dispatcher is
 * not traceable): a global hook that returns at once for a native syscall */
SEC("tp_btf/sys_exit")
int BPF_PROG(lanner_ia32_exit, struct pt_regs *regs, long ret)
{
	if (!in_ia32(bpf_get_current_task_btf()))
		return 0;
	return on_sys_exit(regs, sc_nr(regs), ret, 1);
}

/* the record of a syscalls:sys_exit_<name> tracepoint (see its tracefs "format" file) */
struct lw_sc_exit_rec {
	u64 common;
	int nr;
	long ret;
};

/* per-syscall hook: the loader attaches this one program to the classic sys_exit_<name> tracepoint
 * of each syscall in the filter only, so untraced syscalls never run BPF code */
SEC("tracepoint")
int lanner_tp_exit(struct lw_sc_exit_rec *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	return on_sys_exit(regs, ctx->nr, ctx->ret, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(lanner_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct lw_counters *c = lw_cnt();
	struct lw_config *cfg = lw_cfg();
	if (!c || !cfg || !cfg->exec_on || is_self(cfg))
		return 0;
	c->cur_state_only = !cfg->exec_rule;
	c->cur_fam = FAM_EXEC;
	const char *fn = BPF_CORE_READ(bprm, filename);
	emit_exec(cfg, c, p, 293, 0, fn, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lanner_exit, struct task_struct *p)
{
	struct lw_counters *c = lw_cnt();
	struct lw_config *cfg = lw_cfg();
	struct lw_writer w;
	if (!c || !cfg || !cfg->procexit_on || is_self(cfg))
		return 0;
	c->cur_state_only = !cfg->procexit_rule;
	c->cur_fam = FAM_PROCEXIT;
	int code = BPF_CORE_READ(p, exit_code);
	if (!w_begin(&w, cfg, 186, 5))
		return 0;
	w_u64(&w, code);
	w_u64(&w, (code >> 8) & 0xff);
	w_u8(&w, code & 0x7f);
	w_u8(&w, (code & 0x80) ? 1 : 0);
	w_u64(&w, 0);
	w_end(&w, c);
	return 0;
}
