"""Capture files (.scap): streaming reader with the old-event converter, and a writer."""

from lanner.sources.scap.blocks import ScapError
from lanner.sources.scap.reader import ScapReader, read_capture
from lanner.sources.scap.records import (
    FdRecord,
    GroupRecord,
    InterfaceRecord,
    MachineInfo,
    ThreadRecord,
    UserRecord,
    normalize_fds,
)
from lanner.sources.scap.writer import ScapWriter

__all__ = ["ScapError", "ScapReader", "ScapWriter", "read_capture", "FdRecord", "GroupRecord",
           "InterfaceRecord", "MachineInfo", "ThreadRecord", "UserRecord", "normalize_fds"]
