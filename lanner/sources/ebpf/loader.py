"""Load, configure, attach and detach the eBPF probe through libbpf (ctypes), and read its ring.

Lifecycle: ``Probe().open()`` checks root/BTF/libbpf, opens ``probe.bpf.o``, sizes the per-CPU
scratch map, picks the syscall hook, loads (verifier) only the programs that hook needs, writes the
syscall table and config, attaches and maps the ring buffer. ``close()`` destroys links and the
object. Links are file-descriptor based (nothing is pinned), so the kernel also detaches everything
when the process dies, even by SIGKILL.

Syscall hook (``attach``): ``tp_btf`` is one global ``sys_exit`` program that runs for every syscall
of every process and drops the uninteresting ones through the syscall table; ``tracepoint`` attaches
one program to the classic ``syscalls:sys_exit_<name>`` tracepoint of each syscall in the filter only
(perf-event links, needs tracefs), so other syscalls run no BPF code at all; ``auto`` takes
``tracepoint`` when tracefs is (or can be) mounted and every syscall of the filter has an exit
tracepoint, else ``tp_btf``. A syscall not built into the kernel (e.g. ``finit_module`` without
module support) has none: calling it fails with ENOSYS, but rules alert on the attempt, and only the
global hook sees it; ``tracepoint`` accepts that loss (with a warning), ``auto`` does not. Changing the
filter while running re-attaches the tracepoints (a syscall without tracepoint is then not captured,
with a warning: the global program is not loaded in tracepoint mode). In tracepoint mode the ``seen``/``skipped`` counters count only the
syscalls attached.

32-bit syscalls (x86_64 only): the probe recognises a task in an ia32 syscall, maps its number through
the ``lanner_ia32`` table filled here from :mod:`lanner.sources.ebpf.ia32`, and reads its arguments
from the ia32 registers. The kernel's per-syscall tracepoints never fire for ia32 syscalls, so
tracepoint mode also attaches a small global ``sys_exit`` hook that returns at once for native ones.
"""

from __future__ import annotations

import ctypes
import logging
import mmap as _mmap
import os
import platform
import resource
import struct
import time
from pathlib import Path

from lanner.events.syscalls import X86_64
from lanner.sources.api import SourceError
from lanner.sources.ebpf import build as _build
from lanner.sources.ebpf import filters as F
from lanner.sources.ebpf.ia32 import IA32_TO_NATIVE
from lanner.sources.ebpf.libbpf import Libbpf, LibbpfError
from lanner.sources.ebpf.tracefs import Tracefs, TracefsError, unimplemented

log = logging.getLogger("lanner")

HERE = Path(__file__).resolve().parent
OBJ = HERE / "probe.bpf.o"
DRAIN = HERE / "_drain.so"
BTF = Path("/sys/kernel/btf/vmlinux")
NR_SYSCALLS = 512
RING_BYTES = 8 * 1024 * 1024

COUNTER_NAMES = ("seen", "emitted", "drops_full", "filtered", "drops_large", "skipped", "failed_dropped", "shed",
                 "drops_full_state", "_cur_state_only", "_cur_fam") + tuple(
                     f"filtered_{F.FAMILIES[i]}" if i < len(F.FAMILIES) else f"_filtered_{i}" for i in range(16)) + tuple(
                     f"dropped_{F.FAMILIES[i]}" if i < len(F.FAMILIES) else f"_dropped_{i}" for i in range(16))

ATTACH_MODES = ("auto", "tp_btf", "tracepoint")
GLOBAL_PROG = "lanner_sys_exit"
TRACEPOINT_PROG = "lanner_tp_exit"
IA32_PROG = "lanner_ia32_exit"
_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}
_PERF_TYPE_TRACEPOINT = 2
_PERF_FLAG_FD_CLOEXEC = 8


class _PerfAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("sample_period", ctypes.c_uint64), ("sample_type", ctypes.c_uint64),
                ("read_format", ctypes.c_uint64), ("flags", ctypes.c_uint64), ("wakeup_events", ctypes.c_uint32),
                ("bp_type", ctypes.c_uint32), ("rest", ctypes.c_uint64 * 10)]


class ProbeError(SourceError):
    """The probe cannot run here; the message says why and what to do."""


class _Config(ctypes.Structure):
    _fields_ = [
        ("self_tgid", ctypes.c_uint32), ("snaplen", ctypes.c_uint32), ("boot_epoch_ns", ctypes.c_uint64),
        ("procexit_on", ctypes.c_uint32), ("exec_on", ctypes.c_uint32), ("open_filter_on", ctypes.c_uint32),
        ("open_classes", ctypes.c_uint32), ("n_prefix", ctypes.c_uint32), ("close_filter_on", ctypes.c_uint32),
        ("drop_failed", ctypes.c_uint32), ("pad2", ctypes.c_uint32),
        ("prefix_len", ctypes.c_uint32 * F.MAX_PREFIXES),
        ("prefix_cls", ctypes.c_uint32 * F.MAX_PREFIXES),
        ("prefix", (ctypes.c_uint64 * 8) * F.MAX_PREFIXES),
        ("prefix_mask", (ctypes.c_uint64 * 8) * F.MAX_PREFIXES),
        ("ptrace_mask", ctypes.c_uint64), ("ptrace_filter_on", ctypes.c_uint32), ("shed_bytes", ctypes.c_uint32),
        ("exec_rule", ctypes.c_uint32), ("procexit_rule", ctypes.c_uint32),
    ]


class _ScEntry(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("flags", ctypes.c_uint8), ("fam", ctypes.c_uint8)]


def boot_epoch_ns() -> int:
    """Offset from CLOCK_BOOTTIME (what the probe stamps) to the Unix epoch."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        a = time.clock_gettime_ns(time.CLOCK_REALTIME)
        b = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        c = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if best is None or c - a < best[0]:
            best = (c - a, (a + c) // 2 - b)
    assert best is not None
    return best[1]


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def preflight() -> None:
    """Refuse early, with an actionable message, where the probe cannot work."""
    from lanner.privileges import missing_for_live_capture
    fatal, partial = missing_for_live_capture()
    if fatal:
        raise ProbeError("live capture needs root, or CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH "
                         f"(missing: {', '.join(fatal)})")
    if partial:
        log.warning("live capture without %s: processes of other users are seen without their open files, "
                    "executable path or working directory until they act", ", ".join(partial))
    if not BTF.exists():
        raise ProbeError(f"{BTF} is missing: the kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is required "
                         "for the CO-RE probe)")


def fresh_object() -> None:
    """Rebuild the packaged probe when it no longer matches its source (edited ``probe.bpf.c``, new
    libbpf headers, another kernel): an old object must not run silently. Without a compiler, an
    existing object is used with a warning; a missing one is an error naming the build command."""
    why = _build.stale(OBJ.parent)
    if why is None:
        return
    try:
        _build.build(OBJ.parent)
    except (_build.BuildError, OSError) as e:
        if not OBJ.exists():
            raise ProbeError(f"{OBJ} is missing and cannot be built ({e}): install the build tools, then run "
                             "`python -m lanner.sources.ebpf.build`") from None
        log.warning("The probe %s may not match its source (%s) and cannot be rebuilt here: %s", OBJ, why, e)
        return
    log.info("Rebuilt the probe %s: %s", OBJ, why)


#: most bytes one drain copies out of the ring. The ring (``buf_size_preset``) is the buffer: a drain
#: only hands records to the decoder, so a small one keeps the agent's memory low (the copy, and the
#: events decoded from it) without losing any buffering the kernel side has.
DRAIN_BYTES = 1 << 20


class Ring:
    """The BPF ring buffer mapped into this process; drained in batches."""

    def __init__(self, lib: Libbpf, map_fd: int, size: int, use_helper: bool = True) -> None:
        self.lib = lib
        self.size = size
        self.page = _mmap.PAGESIZE
        libc = lib.libc
        prot_rw = _mmap.PROT_READ | _mmap.PROT_WRITE
        cons = libc.mmap(None, self.page, prot_rw, _mmap.MAP_SHARED, map_fd, 0)
        if cons in (None, ctypes.c_void_p(-1).value):
            raise ProbeError(f"mmap of the ring consumer page failed: {Libbpf.errno_msg()}")
        plen = self.page + 2 * size
        prod = libc.mmap(None, plen, _mmap.PROT_READ, _mmap.MAP_SHARED, map_fd, self.page)
        if prod in (None, ctypes.c_void_p(-1).value):
            libc.munmap(cons, self.page)
            raise ProbeError(f"mmap of the ring data failed: {Libbpf.errno_msg()}")
        self._cons, self._prod, self._plen = cons, prod, plen
        self.mask = size - 1
        self.cap = DRAIN_BYTES
        # an anonymous mapping: its pages become resident only as far as drains fill it (a ctypes
        # string buffer is zeroed, i.e. resident, from the start)
        self._outmap = _mmap.mmap(-1, self.cap)
        self.out = ctypes.addressof(ctypes.c_char.from_buffer(self._outmap))
        self._nrec = ctypes.c_uint64()
        self._drain = None
        if use_helper and DRAIN.exists():
            try:
                h = ctypes.CDLL(str(DRAIN))
                h.lanner_drain.restype = ctypes.c_size_t
                h.lanner_drain.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_uint64, ctypes.c_void_p,
                                                                   ctypes.c_size_t, ctypes.c_void_p]
                self._drain = h.lanner_drain
            except OSError:
                self._drain = None
        self._cons_p = ctypes.c_uint64.from_address(cons)
        self._prod_p = ctypes.c_uint64.from_address(prod)
        self._data = prod + self.page

    def drain(self) -> memoryview:
        """All complete records available now, concatenated (may be empty)."""
        if self._drain is not None:
            n = self._drain(self._cons, self._prod, self._data, self.mask, self.out, self.cap,
                            ctypes.byref(self._nrec))
            return memoryview(self._outmap)[:n]
        return self._drain_py()

    def _drain_py(self) -> memoryview:
        cons = self._cons_p.value
        prod = self._prod_p.value
        parts = []
        total = 0
        while cons < prod and total < self.cap:
            hdr = ctypes.c_uint32.from_address(self._data + (cons & self.mask)).value
            if hdr & 0x80000000:
                break
            ln = hdr & 0x3FFFFFFF
            if not hdr & 0x40000000:
                parts.append(ctypes.string_at(self._data + ((cons + 8) & self.mask), ln))
                total += ln
            cons += (ln + 15) & ~7
            self._cons_p.value = cons
        return memoryview(b"".join(parts))

    def pending_bytes(self) -> int:
        return self._prod_p.value - self._cons_p.value

    def close(self) -> None:
        if self._cons:
            self.lib.libc.munmap(self._prod, self._plen)
            self.lib.libc.munmap(self._cons, self.page)
            self._cons = self._prod = None


class Probe:
    """The loaded probe. Use as a context manager or call open()/close()."""

    def __init__(self, obj_path: Path = OBJ, ring_bytes: int = RING_BYTES, use_drain_helper: bool = True,
                 attach: str = "auto", tracefs_root: str | None = None) -> None:
        if attach not in ATTACH_MODES:
            raise ProbeError(f"engine.modern_ebpf.attach: unknown mode {attach!r} (expected {', '.join(ATTACH_MODES)})")
        self.attach = attach
        self.tracefs_root = tracefs_root
        #: the hook in use once open: "tp_btf" or "tracepoint"; mode_reason says why
        self.mode: str | None = None
        self.mode_reason = ""
        self._tracefs: Tracefs | None = None
        self._tp_prog: int | None = None
        self._tp_links: dict[str, int] = {}
        self._warned: frozenset[str] = frozenset()
        self.obj_path = Path(obj_path)
        self.ring_bytes = ring_bytes
        self.use_drain_helper = use_drain_helper
        self.lib: Libbpf | None = None
        self.obj = None
        self.links: list[int] = []
        self.ring: Ring | None = None
        self.ncpu = 0
        self.filter = F.KernelFilter()
        self._fds: dict[str, int] = {}
        #: 32-bit (ia32) syscalls are captured: x86_64 only (the table maps ia32 numbers)
        self.ia32 = platform.machine() == "x86_64"

    @property
    def _lib(self) -> Libbpf:
        if self.lib is None:
            raise ProbeError("the probe is not open")
        return self.lib

    # -------------------------------------------------------------- lifecycle

    def open(self, kfilter: F.KernelFilter | None = None) -> Probe:
        preflight()
        if self.obj_path == OBJ:
            fresh_object()
        try:
            self.lib = Libbpf()
        except LibbpfError as e:
            raise ProbeError(str(e)) from None
        try:
            # memory is charged to the memcg on recent kernels; root without CAP_SYS_RESOURCE
            # cannot raise the limit, which is harmless there
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            pass
        lib = self.lib
        kf = kfilter or F.KernelFilter()
        obj = lib.bpf_object__open_file(str(self.obj_path).encode(), None)
        if not obj:
            raise ProbeError(f"cannot open {self.obj_path}: {Libbpf.errno_msg()}\n{lib.last_log()}")
        self.obj = obj
        try:
            self.ncpu = max(1, lib.libbpf_num_possible_cpus())
            self._map("lanner_scratch", resize=self.ncpu)
            self._map("lanner_rb", resize=self.ring_bytes)
            self.mode, self.mode_reason = self._choose_mode(kf)
            progs = self._programs()
            for name in (GLOBAL_PROG, TRACEPOINT_PROG, IA32_PROG):
                if name not in progs:
                    raise ProbeError(f"program {name} missing from {self.obj_path} (rebuild the probe)")
            # only the hook in use is loaded: each program costs verifier time. The global hook sees
            # 32-bit syscalls itself; the per-syscall tracepoints never fire for them, so tracepoint
            # mode adds a small global hook that returns at once for native syscalls
            lib.bpf_program__set_autoload(progs[GLOBAL_PROG], self.mode == "tp_btf")
            lib.bpf_program__set_autoload(progs[TRACEPOINT_PROG], self.mode == "tracepoint")
            lib.bpf_program__set_autoload(progs[IA32_PROG], self.mode == "tracepoint" and self.ia32)
            self._tp_prog = progs[TRACEPOINT_PROG] if self.mode == "tracepoint" else None
            if self._tp_prog is not None:
                _raise_nofile(4096)  # two fds (perf event + link) per attached syscall
            rc = lib.bpf_object__load(obj)
            if rc:
                raise ProbeError(f"the kernel rejected the probe: {Libbpf.errno_msg(rc)}\n{lib.last_log(40)}")
            for name in ("lanner_rb", "lanner_sc", "lanner_cfg", "lanner_cnt", "lanner_scratch", "lanner_supp",
                         "lanner_ia32"):
                self._fds[name] = lib.bpf_map__fd(self._map(name))
            if self.ia32:
                self._fill_ia32()
            self.apply_filter(kf)
            self.ring = Ring(lib, self._fds["lanner_rb"], self.ring_bytes, self.use_drain_helper)
            for name, prog in progs.items():
                if name == TRACEPOINT_PROG or (name == GLOBAL_PROG and self.mode != "tp_btf"):
                    continue
                if name == IA32_PROG and not (self.mode == "tracepoint" and self.ia32):
                    continue
                link = lib.bpf_program__attach(prog)
                if not link:
                    raise ProbeError(f"cannot attach {name}: {Libbpf.errno_msg()}\n{lib.last_log()}")
                self.links.append(link)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        lib = self.lib
        if lib is None:
            return
        for link in list(self._tp_links.values()) + self.links:
            lib.bpf_link__destroy(link)
        self.links = []
        self._tp_links = {}
        self._tp_prog = None
        if self.ring is not None:
            self.ring.close()
            self.ring = None
        if self.obj:
            lib.bpf_object__close(self.obj)
            self.obj = None

    def __enter__(self) -> Probe:
        return self.open() if self.obj is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- syscall hook

    def _programs(self) -> dict[str, int]:
        out = {}
        prog = self._lib.bpf_object__next_program(self.obj, None)
        while prog:
            out[self._lib.bpf_program__name(prog).decode()] = prog
            prog = self._lib.bpf_object__next_program(self.obj, prog)
        return out

    def _choose_mode(self, kf: F.KernelFilter) -> tuple[str, str]:
        """The syscall hook for this filter and why (warns when ``tracepoint`` cannot be honoured)."""
        if self.attach == "tp_btf":
            return "tp_btf", "configured (engine.modern_ebpf.attach: tp_btf)"
        if kf.events is None and self.attach == "auto":
            return "tp_btf", "every syscall is captured: one global hook costs less"
        try:
            tfs = Tracefs.find_or_mount(self.tracefs_root)
            missing, absent = self._tracepoint_gaps(tfs, kf.syscall_numbers())
        except TracefsError as e:
            log.warning("Per-syscall tracepoints unavailable (%s): falling back to the global tp_btf "
                        "sys_exit hook", e)
            return "tp_btf", f"fallback: {e}"
        if missing:
            log.warning("Per-syscall tracepoints unavailable: no sys_exit tracepoint for %s; falling back "
                        "to the global tp_btf sys_exit hook", ", ".join(sorted(missing)))
            return "tp_btf", "fallback: no exit tracepoint for " + ", ".join(sorted(missing))
        gone = ", ".join(sorted(absent))
        if absent and self.attach == "auto":
            # such a call fails with ENOSYS, yet rules may alert on the attempt: only the global hook sees it
            log.info("Using the global tp_btf sys_exit hook: %s, which the rules need, %s not built into this "
                     "kernel and only the global hook sees attempts to call %s (engine.modern_ebpf.attach: "
                     "tracepoint trades that for less overhead)", gone, "is" if len(absent) == 1 else "are",
                     "it" if len(absent) == 1 else "them")
            return "tp_btf", f"auto: {gone} not built into this kernel (no exit tracepoint)"
        self._tracefs = tfs
        why = f"{'configured' if self.attach == 'tracepoint' else 'auto'}: exit tracepoints from {tfs.root}"
        if absent:
            log.warning("Per-syscall tracepoints: %s, not built into this kernel, %s no exit tracepoint: attempts "
                        "to call %s are not captured", gone, "has" if len(absent) == 1 else "have",
                        "it" if len(absent) == 1 else "them")
            why += f" (attempts of {gone}, not built into this kernel, not captured)"
            self._warned = frozenset(absent)
        return "tracepoint", why

    @staticmethod
    def _tracepoint_gaps(tfs: Tracefs, nrs) -> tuple[set[str], set[str]]:
        """(syscalls of ``nrs`` this kernel implements but gives no exit tracepoint, syscalls it lacks)."""
        names = {X86_64[nr] for nr in nrs if nr in X86_64}
        no_tp = {n for n in names if tfs.exit_tracepoint(n) is None}
        absent = unimplemented(no_tp)
        return no_tp - absent, absent

    def _perf_tracepoint(self, tp_id: int) -> int:
        nr = _PERF_EVENT_OPEN.get(platform.machine())
        if nr is None:
            raise ProbeError(f"per-syscall tracepoints: unsupported architecture {platform.machine()}")
        attr = _PerfAttr(type=_PERF_TYPE_TRACEPOINT, size=ctypes.sizeof(_PerfAttr), config=tp_id,
                         sample_period=1, wakeup_events=1)
        libc = self._lib.libc
        libc.syscall.restype = ctypes.c_long
        fd = libc.syscall(ctypes.c_long(nr), ctypes.byref(attr), ctypes.c_int(-1), ctypes.c_int(0),
                          ctypes.c_int(-1), ctypes.c_ulong(_PERF_FLAG_FD_CLOEXEC))
        if fd < 0:
            raise ProbeError(f"perf_event_open of tracepoint id {tp_id} failed: {Libbpf.errno_msg()}")
        return fd

    def _sync_tracepoints(self, nrs, detach: bool) -> None:
        """Attach the exit tracepoints of ``nrs`` not attached yet; with ``detach``, also drop the others."""
        tfs = self._tracefs
        if tfs is None:
            raise ProbeError("tracepoint mode without a tracefs")
        want: set[str] = set()
        missing = []
        for nr in nrs:
            name = X86_64.get(nr)
            kname = tfs.exit_tracepoint(name) if name else None
            if kname is None:
                missing.append(name or str(nr))
                continue
            want.add(kname)
            if kname in self._tp_links:
                continue
            try:
                pfd = self._perf_tracepoint(tfs.exit_id(kname))
            except TracefsError as e:
                raise ProbeError(str(e)) from None
            link = self._lib.bpf_program__attach_perf_event(self._tp_prog, pfd)
            if not link:
                err = Libbpf.errno_msg()
                os.close(pfd)
                raise ProbeError(f"cannot attach {TRACEPOINT_PROG} to syscalls:sys_exit_{kname}: {err}\n"
                                 f"{self._lib.last_log()}")
            self._tp_links[kname] = link
        if not detach:
            return
        if missing and self._warned != frozenset(missing):
            self._warned = frozenset(missing)
            log.warning("No sys_exit tracepoint for %s: these syscalls are not captured in tracepoint mode "
                        "(set engine.modern_ebpf.attach: tp_btf)", ", ".join(sorted(missing)))
        for kname in set(self._tp_links) - want:
            self._lib.bpf_link__destroy(self._tp_links.pop(kname))

    def attached_tracepoints(self) -> frozenset[str]:
        """Kernel names of the syscalls whose exit tracepoint is attached now (tracepoint mode)."""
        return frozenset(self._tp_links)

    # -------------------------------------------------------------- configuration

    def _map(self, name: str, resize: int | None = None):
        m = self._lib.bpf_object__find_map_by_name(self.obj, name.encode())
        if not m:
            raise ProbeError(f"map {name} missing from {self.obj_path} (rebuild the probe)")
        if resize is not None:
            rc = self._lib.bpf_map__set_max_entries(m, resize)
            if rc:
                raise ProbeError(f"cannot size map {name}: {Libbpf.errno_msg(rc)}")
        return m

    def _update(self, name: str, key: int, value: ctypes.Structure | ctypes.c_uint32) -> None:
        k = ctypes.c_uint32(key)
        rc = self._lib.bpf_map_update_elem(self._fds[name], ctypes.byref(k), ctypes.byref(value), 0)
        if rc:
            raise ProbeError(f"update of map {name}[{key}] failed: {Libbpf.errno_msg(rc)}")

    def _fill_ia32(self) -> None:
        """ia32 syscall number -> native number + 1 (0 = no counterpart) for the probe's 32-bit path."""
        for ia32_nr, name in IA32_TO_NATIVE.items():
            nr = F.NR_BY_NAME.get(name)
            if nr is not None and ia32_nr < NR_SYSCALLS:
                self._update("lanner_ia32", ia32_nr, ctypes.c_uint32(nr + 1))

    def apply_filter(self, kf: F.KernelFilter) -> None:
        """Push a KernelFilter down to the kernel (can be called while attached)."""
        if kf.open_filter is not None:
            kf.open_filter.check()
        entries = kf.entries()
        nrs = {nr: e[0] for nr, e in entries.items()}
        cfg = _Config()
        cfg.self_tgid = os.getpid() if kf.self_filter else 0xFFFFFFFF
        cfg.snaplen = max(0, min(kf.snaplen, 4095))
        cfg.boot_epoch_ns = boot_epoch_ns()
        cfg.procexit_on = int(kf.wants("procexit"))
        cfg.exec_on = int(kf.wants("execve") or kf.wants("execveat"))
        cfg.drop_failed = (1 if kf.drop_failed else 0) | (2 if kf.drop_failed_close else 0)
        if kf.ptrace_requests is not None:
            cfg.ptrace_filter_on = 1
            cfg.ptrace_mask = sum(1 << r for r in kf.ptrace_requests if 0 <= r < 64)
        cfg.shed_bytes = int(self.ring_bytes * kf.shed_fraction) if 0 < kf.shed_fraction < 1 else 0
        cfg.exec_rule = int(kf.rule_events is None or bool({"execve", "execveat"} & kf.rule_events))
        cfg.procexit_rule = int(kf.rule_events is None or "procexit" in kf.rule_events)
        of = kf.open_filter
        if of is not None:
            cfg.open_filter_on = 1
            cfg.open_classes = of.union_classes()
            cfg.close_filter_on = int(of.close_filter)
            cfg.n_prefix = len(of.entries)
            for i, (cls, kind, p) in enumerate(of.entries):
                p = "" if kind == "any" else p
                words, masks = F.open_prefix_words(p)
                cfg.prefix_len[i] = len(p.encode())
                cfg.prefix_cls[i] = cls | (F.OPEN_EXACT if kind == "exact" else 0)
                for j in range(8):
                    cfg.prefix[i][j] = words[j]
                    cfg.prefix_mask[i][j] = masks[j]
        if self._tp_prog is not None:
            self._sync_tracepoints(nrs, detach=False)
        # disable first, then config, then enable: no event sees a half-written table
        for nr in range(NR_SYSCALLS):
            if nr not in nrs:
                self._update("lanner_sc", nr, _ScEntry(0, 0, 0))
        self._update("lanner_cfg", 0, cfg)
        for nr, (code, flags, fam) in entries.items():
            if nr < NR_SYSCALLS:
                self._update("lanner_sc", nr, _ScEntry(code, flags, fam))
        if self._tp_prog is not None:
            self._sync_tracepoints(nrs, detach=True)
        self.filter = kf

    # -------------------------------------------------------------- counters

    def counters(self) -> dict[str, int]:
        """Per-CPU kernel counters summed (``COUNTER_NAMES``): seen, emitted, drops_full (of which
        drops_full_state: events no rule can match), filtered (push-down; per family in filtered_<family>),
        drops_large, skipped, failed_dropped (drop_failed), shed (overload)."""
        n = len(COUNTER_NAMES)
        buf = (ctypes.c_uint64 * (n * self.ncpu))()
        k = ctypes.c_uint32(0)
        rc = self._lib.bpf_map_lookup_elem(self._fds["lanner_cnt"], ctypes.byref(k), buf)
        if rc:
            raise ProbeError(f"cannot read counters: {Libbpf.errno_msg(rc)}")
        vals = struct.unpack(f"{n * self.ncpu}Q", bytes(buf))
        return {name: sum(vals[c * n + i] for c in range(self.ncpu)) for i, name in enumerate(COUNTER_NAMES)
                if not name.startswith("_")}
