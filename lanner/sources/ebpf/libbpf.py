"""ctypes bindings for the few functions of the system ``libbpf.so.1`` the loader needs.

No compiled Python extension: the probe object is opened, loaded and attached through libbpf's
stable C API. libbpf's own log lines are captured (formatted with libc ``vsnprintf``) so a verifier
rejection can be reported with the kernel's message instead of a bare errno.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from lanner.core.errors import LannerError

MIN_VERSION = (1, 0)


class LibbpfError(LannerError):
    """libbpf is missing, too old, or a libbpf call failed; the message says which and why."""


_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class Libbpf:
    """Thin, typed access to libbpf; one instance per loader."""

    def __init__(self, path: str | None = None) -> None:
        name = path or "libbpf.so.1"
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError as e:
            raise LibbpfError(f"cannot load {name}: {e} (install the Debian package 'libbpf1')") from None
        self.lib = lib
        try:
            major = lib.libbpf_major_version()
            minor = lib.libbpf_minor_version()
        except AttributeError:
            raise LibbpfError(f"{name} is older than libbpf {MIN_VERSION[0]}.{MIN_VERSION[1]}") from None
        self.version = (major, minor)
        if self.version < MIN_VERSION:
            raise LibbpfError(f"libbpf {major}.{minor} is too old; lanner needs >= "
                              f"{MIN_VERSION[0]}.{MIN_VERSION[1]}")
        self.log: list[str] = []
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.libc = libc
        libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
        buf = ctypes.create_string_buffer(1 << 20)

        def _print(level: int, fmt: bytes, ap: int) -> int:
            libc.vsnprintf(buf, len(buf), fmt, ap)
            self.log.append(buf.value.decode(errors="replace"))
            del self.log[:-200]
            return 0

        self._print_cb = _PRINT_FN(_print)
        lib.libbpf_set_print(self._print_cb)

        vp, cp, i, u32, u64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64
        sig = {
            "bpf_object__open_file": (vp, [cp, vp]),
            "bpf_object__load": (i, [vp]),
            "bpf_object__close": (None, [vp]),
            "bpf_object__find_map_by_name": (vp, [vp, cp]),
            "bpf_object__next_program": (vp, [vp, vp]),
            "bpf_program__name": (cp, [vp]),
            "bpf_program__attach": (vp, [vp]),
            "bpf_program__attach_perf_event": (vp, [vp, i]),
            "bpf_program__set_autoload": (i, [vp, ctypes.c_bool]),
            "bpf_link__destroy": (i, [vp]),
            "bpf_map__fd": (i, [vp]),
            "bpf_map__set_max_entries": (i, [vp, u32]),
            "bpf_map__max_entries": (u32, [vp]),
            "bpf_map_update_elem": (i, [i, vp, vp, u64]),
            "bpf_map_lookup_elem": (i, [i, vp, vp]),
            "libbpf_num_possible_cpus": (i, []),
        }
        for fn, (res, args) in sig.items():
            f = getattr(lib, fn)
            f.restype = res
            f.argtypes = args
        libc.mmap.restype = vp
        libc.mmap.argtypes = [vp, ctypes.c_size_t, i, i, i, ctypes.c_long]
        libc.munmap.restype = i
        libc.munmap.argtypes = [vp, ctypes.c_size_t]

    def __getattr__(self, name: str):
        return getattr(self.lib, name)

    def last_log(self, n: int = 25) -> str:
        return "\n".join(line.rstrip() for line in self.log[-n:])

    @staticmethod
    def errno_msg(rc: int | None = None) -> str:
        e = abs(rc) if rc else ctypes.get_errno()
        return f"{os.strerror(e)} (errno {e})" if e else "unknown error"
