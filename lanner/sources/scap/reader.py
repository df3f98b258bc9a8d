"""Streaming reader of ``.scap`` capture files (scap-format.md).

Usage::

    reader = ScapReader("capture.scap")          # gzip or plain; nothing is read yet
    reader.read_metadata()                       # optional: SHB + metadata blocks of the first section
    for ev in reader:                            # SyscallEvents, evt.num from 1, converter applied
        ...

Metadata of the current section is available as ``machine``, ``interfaces``, ``users``,
``groups``, ``threads`` (tid -> ThreadRecord) and ``fds`` (tid -> list of FdRecord; call
:func:`lanner.sources.scap.records.normalize_fds` for libsinsp's socket interpretation).
A concatenated capture starts a new section at each later SHB: metadata is replaced, the converter
store reset and ``on_section(reader)`` called (also for the first section) so state can be reset;
``evt.num`` keeps counting.

Events returned: every record that survives the upgrader, in file order. The seven enter types
of event-model 1.2 and STATE_ONLY records come with ``ev.hidden = True`` (state only, never rules).
An exit event whose thread's previous delivered event was its matching hidden enter gets it in
``ev.enter`` (a successful execveat ends with an execve exit). The container, user, group and async
records that open a capture are hidden too: Falco applies them as initial state.

Memory stays constant: blocks are parsed from a sliding 1 MiB buffer. Any invalid or truncated
input raises :class:`ScapError` naming the file and the (decompressed) byte offset of the block.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

from lanner.events import table as T
from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import blocks as B
from lanner.sources.scap.blocks import ScapError
from lanner.sources.scap.converter import FAST, PASS, ConversionError, Converter
from lanner.sources.scap.records import (
    FdRecord,
    GroupRecord,
    InterfaceRecord,
    MachineInfo,
    ThreadRecord,
    UserRecord,
)

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MAX_NON_LARGE = 65536
_HDR = struct.Struct("<II")
_U32 = struct.Struct("<I")
_LEGACY_GET = B.LEGACY.get
_FLAG_BLOCKS = frozenset({B.EVF_V1, B.EVF_V2, B.EVF_V2_LARGE})
_V1_BLOCKS = frozenset({B.EV_V1, B.EVF_V1})
_V2_SMALL_BLOCKS = frozenset({B.EV_V2, B.EVF_V2})
_EVENT_MAX = T.PPM_EVENT_MAX
_EV2 = struct.Struct("<QQIHI")
_EV1 = struct.Struct("<QQIH")
_NPARAM_FMT: dict[tuple[int, bool], struct.Struct] = {}
# Falco applies the container/user/group/async records that open a capture before the first event
# and never shows them to rules (its "initial state" events).
_INITIAL_STATE_TYPES = frozenset({324, 354, 356, 358, 360, 402})
_EXECVEAT_E, _EXECVE_X = 330, 293


def _lens_struct(n: int, large: bool) -> struct.Struct:
    s = _NPARAM_FMT.get((n, large))
    if s is None:
        s = _NPARAM_FMT[(n, large)] = struct.Struct(f"<{n}{'I' if large else 'H'}")
    return s


def _gzip_size(raw: BinaryIO, size: int | None) -> int | None:
    """Uncompressed size of a gzip capture from its trailer (ISIZE, the size modulo 2**32), raised by
    whole multiples of 2**32 to at least the compressed size; None when the file cannot be seeked."""
    if not size or size < 18:
        return None
    try:
        pos = raw.tell()
        raw.seek(size - 4)
        isize = struct.unpack("<I", raw.read(4))[0]
        raw.seek(pos)
    except (OSError, ValueError, AttributeError, struct.error):
        return None
    while isize < size:
        isize += 1 << 32
    return isize


def _open(path_or_file: str | os.PathLike | BinaryIO) -> tuple[BinaryIO, BinaryIO, str, int | None]:
    """(decompressed stream, raw file, display name, uncompressed size if known)."""
    if isinstance(path_or_file, (str, os.PathLike)):
        name = os.fspath(path_or_file)
        try:
            raw: BinaryIO = open(name, "rb")  # noqa: SIM115 - closed by ScapReader.close
        except OSError as e:
            raise ScapError(f"{name}: cannot open capture: {e.strerror}") from None
    else:
        raw = path_or_file
        name = getattr(raw, "name", "<stream>")
    size = None
    try:
        size = os.fstat(raw.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        pass
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else None
    if magic is None:
        pos = raw.tell()
        magic = raw.read(2)
        raw.seek(pos)
    if magic == b"\x1f\x8b":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), raw, name, _gzip_size(raw, size)
    return raw, raw, name, size


class ScapReader:
    def __init__(self, source: str | os.PathLike | BinaryIO,
                 progress: Callable[[int, int | None], None] | None = None,
                 on_section: Callable[[ScapReader], None] | None = None) -> None:
        self._f, self._raw, self.name, self.total_bytes = _open(source)   # uncompressed size, if known
        self._own = isinstance(source, (str, os.PathLike))
        self.progress = progress
        self.on_section = on_section
        self._buf = b""
        self._pos = 0
        self._base = 0  # decompressed offset of _buf[0]
        self._eof = False
        self.version: tuple[int, int] = (0, 0)
        self.sections = 0
        self.num = 0
        self._conv = Converter()
        self._started = False
        self._in_events = False
        self._last_enter: dict[int, SyscallEvent] = {}
        # statistics
        self.records_read = 0
        self.records_dropped = 0
        self.records_skipped = 0
        self.block_counts: dict[int, int] = {}
        self._clear_metadata()

    # ------------------------------------------------------------ metadata

    def _clear_metadata(self) -> None:
        self.machine: MachineInfo | None = None
        self.interfaces: list[InterfaceRecord] = []
        self.users: list[UserRecord] = []
        self.groups: list[GroupRecord] = []
        self.threads: dict[int, ThreadRecord] = {}
        self.fds: dict[int, list[FdRecord]] = {}
        self.process_list_version = 0

    # ------------------------------------------------------------ buffer

    def _err(self, off: int, msg: str) -> ScapError:
        return ScapError(f"{self.name}: offset {off}: {msg}")

    def _fill(self, n: int) -> bool:
        """Make ``n`` bytes available at _pos; False at EOF with fewer."""
        if len(self._buf) - self._pos >= n:
            return True
        if self._eof:
            return False
        rest = self._buf[self._pos:]
        self._base += self._pos
        self._pos = 0
        parts = [rest]
        have = len(rest)
        while have < n:
            try:
                chunk = self._f.read(max(CHUNK, n - have))
            except (OSError, EOFError, zlib.error) as e:
                raise self._err(self._base + have, f"cannot read capture data: {e}") from None
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self._buf = b"".join(parts)
        self._report_progress()
        return have >= n

    def _report_progress(self) -> None:
        """Progress in uncompressed bytes (a gzip capture's compressed position runs far ahead of the
        events read), every chunk; the callback decides how often to show it."""
        if self.progress is None:
            return
        done = self._base + len(self._buf)
        total = self.total_bytes
        if self._eof:
            total = done
        elif total is not None and done > total:
            total = None              # concatenated gzip members: the trailer only sized the last one
        self.progress(done, total)

    @property
    def offset(self) -> int:
        """Decompressed offset of the next unread block."""
        return self._base + self._pos

    def _read_block(self) -> tuple[int, int, bytes] | None:
        """Next whole block as (type, offset, bytes incl. header); None at clean EOF."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= 8:
            btype, blen = _HDR.unpack_from(buf, pos)
            if blen >= 12 and len(buf) - pos >= blen:      # the common case: the block is buffered
                self._pos = pos + blen
                return _LEGACY_GET(btype, btype), self._base + pos, buf[pos:pos + blen]
        if not self._fill(8):
            left = len(self._buf) - self._pos
            if left == 0:
                return None
            raise self._err(self.offset, f"truncated block header ({left} of 8 bytes)")
        off = self.offset
        btype, blen = _HDR.unpack_from(self._buf, self._pos)
        if blen < 12:
            raise self._err(off, f"block length {blen} is too short (type 0x{btype:x})")
        if not self._fill(blen):
            raise self._err(off, f"truncated block (type 0x{btype:x}, length {blen}, "
                                 f"{len(self._buf) - self._pos} bytes left)")
        data = self._buf[self._pos:self._pos + blen]
        self._pos += blen
        return B.LEGACY.get(btype, btype), off, data

    # ------------------------------------------------------------ section header + metadata

    def _read_shb(self, blk: tuple[int, int, bytes] | None) -> None:
        if blk is None:
            raise self._err(self.offset, "empty file: no section header block")
        btype, off, data = blk
        if btype != B.SHB:
            raise self._err(off, f"invalid block type 0x{btype:x}: the file must start with a section "
                                 f"header block (is this a capture file?)")
        if len(data) < 28:
            raise self._err(off, f"section header block length {len(data)} less than 28")
        magic, major, minor = struct.unpack_from("<IHH", data, 8)
        if magic != B.SHB_MAGIC:
            raise self._err(off, f"invalid magic number 0x{magic:08x}")
        if major > 1:
            raise self._err(off, f"capture format {major}.{minor}: cannot correctly parse the capture. "
                                 f"Upgrade your version.")
        self.version = (major, minor)
        self.sections += 1
        self._count(B.SHB)

    def _count(self, btype: int) -> None:
        self.block_counts[btype] = self.block_counts.get(btype, 0) + 1

    def _check_trailer(self, btype: int, off: int, data: bytes) -> None:
        (trailer,) = struct.unpack_from("<I", data, len(data) - 4)
        if trailer != len(data):
            raise self._err(off, f"wrong block total length, header={len(data)}, trailer={trailer} "
                                 f"(block type 0x{btype:x})")

    def _metadata_block(self, btype: int, off: int, data: bytes) -> None:
        self._check_trailer(btype, off, data)
        body = data[8:-4]
        try:
            if btype == B.MI:
                self.machine = B.parse_machine_info(body)
            elif btype in (B.IL_V1, B.IL_V2):
                self.interfaces.extend(B.parse_interfaces(body, btype == B.IL_V2))
            elif btype in (B.UL_V1, B.UL_V2):
                u, g = B.parse_users(body, btype == B.UL_V2)
                self.users.extend(u)
                self.groups.extend(g)
            elif btype in B.PL_VERSION:
                self.process_list_version = B.PL_VERSION[btype]
                for t in B.parse_process_list(body, self.process_list_version):
                    self.threads[t.tid] = t
            elif btype in (B.FDL_V1, B.FDL_V2):
                tid, recs = B.parse_fd_list(body, btype == B.FDL_V2)
                self.fds.setdefault(tid, []).extend(recs)
            else:
                log.warning("%s: offset %d: skipping unknown block type 0x%x (%d bytes)",
                            self.name, off, btype, len(data))
                self.records_skipped += 1
        except ValueError as e:
            raise self._err(off, f"invalid {B.BLOCK_NAMES.get(btype, hex(btype))} block: {e}") from None
        self._count(btype)

    def _read_section(self, first: tuple[int, int, bytes] | None) -> tuple[int, int, bytes]:
        """SHB + metadata; returns the first event block (not yet consumed)."""
        self._read_shb(first)
        while True:
            blk = self._read_block()
            if blk is None:
                raise self._err(self.offset, "no events in file")
            if blk[0] in B.EVENT_BLOCKS:
                if self.on_section is not None:
                    self.on_section(self)
                return blk
            if blk[0] == B.SHB:
                raise self._err(blk[1], "no events in section before the next section header")
            self._metadata_block(*blk)

    def read_metadata(self) -> None:
        """Read the SHB and metadata blocks of the first section (idempotent)."""
        if not self._started:
            self._started = True
            self._pending: tuple[int, int, bytes] | None = self._read_section(self._read_block())

    # ------------------------------------------------------------ events

    def __iter__(self) -> Iterator[SyscallEvent]:
        return self.events()

    def events(self) -> Iterator[SyscallEvent]:
        self.read_metadata()
        blk = self._pending
        self._pending = None
        conv = self._conv
        last_enter = self._last_enter
        hidden_enter = T.STATE_ONLY_ENTER_TYPES
        initial = self.num == 0
        counts = self.block_counts
        read_block = self._read_block
        while blk is not None:
            btype, off, data = blk
            if btype not in B.EVENT_BLOCKS:
                if btype != B.SHB:
                    raise self._err(off, f"could not restart capture: invalid block type 0x{btype:x} "
                                         f"after event blocks")
                self._clear_metadata()
                conv.reset()
                last_enter.clear()
                blk = self._read_section(blk)
                continue
            counts[btype] = counts.get(btype, 0) + 1
            ev = self._event(btype, off, data)
            blk = read_block()
            if ev is None:
                continue
            etype = ev.type
            if initial:
                if etype in _INITIAL_STATE_TYPES:
                    ev.hidden = True
                else:
                    initial = False
            if etype in hidden_enter:
                last_enter[ev.tid] = ev
            elif etype & 1 and last_enter:
                prev = last_enter.pop(ev.tid, None)
                if prev is not None and (prev.type == etype - 1 or (prev.type == _EXECVEAT_E and etype == _EXECVE_X)):
                    ev.enter = prev
            self.num += 1
            ev.num = self.num
            yield ev
        self._eof = True

    def _event(self, btype: int, off: int, data: bytes) -> SyscallEvent | None:
        blen = len(data)
        has_flags = btype in _FLAG_BLOCKS
        hstart = 14 if has_flags else 10
        cpu = data[8] | (data[9] << 8)
        flags = _U32.unpack_from(data, 10)[0] if has_flags else 0
        avail = blen - hstart - 4
        self.records_read += 1
        if btype in _V1_BLOCKS:
            if blen < hstart + 22 + 4:
                raise self._err(off, f"block length too short {blen}")
            ts, tid, ln, etype = _EV1.unpack_from(data, hstart)
            if etype >= T.PPM_EVENT_MAX:
                self.records_skipped += 1
                return None
            if blen - 8 + 4 > MAX_NON_LARGE:
                raise self._err(off, f"cannot convert v1 event block of {blen} bytes to v2")
            if ln > avail or ln < 22:
                raise self._err(off, f"invalid event record length {ln} (block has room for {avail})")
            if etype in (280, 286):
                ln -= 3
            nparams = self._v1_nparams(off, data, hstart, ln, etype)
            pstart = hstart + 22
            large = False
            ln += 4
            hsize = 26
            lens = _lens_struct(nparams, False).unpack_from(data, pstart) if nparams else ()
            vstart = pstart + 2 * nparams
            rec_end = hstart + ln - 4
        else:
            if blen < 8 + 26 + 4:
                raise self._err(off, f"block length too short {blen}")
            if blen - 8 > MAX_NON_LARGE and btype in _V2_SMALL_BLOCKS:
                raise self._err(off, f"event block length {blen - 8} greater than NON-LARGE read buffer "
                                     f"size {MAX_NON_LARGE}")
            ts, tid, ln, etype, nparams = _EV2.unpack_from(data, hstart)
            if etype >= _EVENT_MAX:
                self.records_skipped += 1
                return None
            hsize = 26
            if ln < hsize or ln > avail:
                raise self._err(off, f"invalid event record length {ln} (block has room for {avail})")
            large = _LARGE[etype]
            w = 4 if large else 2
            if hsize + nparams * w > ln:
                raise self._err(off, f"event type {etype}: {nparams} parameter lengths do not fit in "
                                     f"record length {ln}")
            pstart = hstart + 26
            lens = ((_NPARAM_FMT.get((nparams, large)) or _lens_struct(nparams, large)).unpack_from(data, pstart)
                    if nparams else ())
            vstart = pstart + w * nparams
            rec_end = hstart + ln
        raw: list[bytes] = []
        p = vstart
        for n in lens:
            q = p + n
            if q > rec_end:
                raise self._err(off, f"event type {etype}: parameter {len(raw)} of {n} bytes overruns the "
                                     f"record")
            raw.append(data[p:q])
            p = q
        fp = FAST[etype]
        if fp != -1 and fp != nparams:
            if ln > MAX_NON_LARGE:
                raise self._err(off, f"invalid event: len {ln} is larger than the maximum event size "
                                     f"{MAX_NON_LARGE}")
            try:
                res, etype, raw = self._conv.convert(tid, etype, raw)
            except ConversionError as e:
                raise self._err(off, str(e)) from None
            if res != PASS:
                self.records_dropped += 1
                return None
        return SyscallEvent(0, ts, tid, etype, raw, cpu, flags)

    def _v1_nparams(self, off: int, data: bytes, hstart: int, ln: int, etype: int) -> int:
        """scap-format 6 step 3: find the parameter count of a v1 record of length ``ln``."""
        ln2 = ln + 4
        pstart = hstart + 22
        for n in range(T.EVENTS[etype].nparams, -1, -1):
            if 26 + 2 * n > ln2:
                continue
            total = sum(_lens_struct(n, False).unpack_from(data, pstart)) if n else 0
            size = 26 + 2 * n + total
            if size < ln2:
                raise self._err(off, "cannot convert v1 event block to v2 (corrupted trace file - can't "
                                     "calculate nparams)")
            if size == ln2:
                return n
        raise self._err(off, "cannot convert v1 event block to v2 (corrupted trace file - can't "
                             "calculate nparams) (2)")

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._f is not self._raw:
            self._f.close()
        if self._own:
            self._raw.close()

    def __enter__(self) -> ScapReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_LARGE = tuple(ev.large for ev in T.EVENTS)


def events_large(etype: int) -> bool:
    return _LARGE[etype]


def read_capture(path: str | os.PathLike) -> tuple[ScapReader, list[SyscallEvent]]:
    """Convenience for tests/tools: read a whole (small) capture into memory."""
    r = ScapReader(path)
    try:
        evs = list(r)
    finally:
        r.close()
    return r, evs
