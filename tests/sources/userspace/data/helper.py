"""Scenario helper: ``connect PORT`` (to 127.0.0.1) or ``ptrace PID`` (attach, then detach)."""

import ctypes
import socket
import sys

if sys.argv[1] == "connect":
    socket.create_connection(("127.0.0.1", int(sys.argv[2]))).close()  # blocking: connect returns 0
elif sys.argv[1] == "ptrace":
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    pid = int(sys.argv[2])
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        import os

        os.waitpid(pid, 0x40000000)  # __WALL: the attach stop
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
