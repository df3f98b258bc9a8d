"""Where each event parameter the state engine reads sits, by event and parameter name.

The handlers of ``state/engine.py`` read ``params[CLONE_FLAGS]`` instead of ``params[15]``: a module
constant costs what a literal costs, and the name says which parameter is meant. A constant is named
``<FAMILY>_<PARAMETER>``: ``FAMILIES`` says which events (and direction) a family covers, and
``tests/state/test_param_index.py`` checks every constant against the event table: the parameter at that
index has that name in every version of those events that reaches the state engine (old exit versions are
upgraded by the capture converter first, so only their current version counts). ``RES`` is the first
parameter of every syscall exit event: its return value (``res``, or ``fd`` when it returns one).
"""

from __future__ import annotations

from typing import Final

# family -> (event names, direction: "<" exit / ">" enter)
FAMILIES: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "CLONE": (("clone", "fork", "vfork", "clone3"), "<"),
    "EXECVE": (("execve", "execveat"), "<"),
    "EXECVE_E": (("execve",), ">"),
    "EXECVEAT_E": (("execveat",), ">"),
    "PROCEXIT": (("procexit",), ">"),
    "CHDIR": (("chdir",), "<"),
    "GETCWD": (("getcwd",), "<"),
    "CHROOT": (("chroot",), "<"),
    "SETUID": (("setuid",), "<"),
    "SETREUID": (("setreuid", "setresuid"), "<"),
    "SETGID": (("setgid",), "<"),
    "SETREGID": (("setregid", "setresgid"), "<"),
    "CAPSET": (("capset",), "<"),
    "UNSHARE": (("unshare",), "<"),
    "SETNS": (("setns",), "<"),
    "PRCTL": (("prctl",), "<"),
    "RLIMIT": (("getrlimit", "setrlimit"), "<"),
    "PRLIMIT": (("prlimit",), "<"),
    "SWITCH": (("switch",), ">"),
    "MM": (("brk", "mmap", "mmap2", "munmap"), "<"),
    "USER": (("useradded", "userdeleted"), ">"),
    "GROUP": (("groupadded", "groupdeleted"), ">"),
    "OPEN": (("open",), "<"),
    "OPEN_E": (("open",), ">"),
    "CREAT": (("creat",), "<"),
    "CREAT_E": (("creat",), ">"),
    "OPENAT": (("openat", "openat2"), "<"),
    "OPENAT_E": (("openat", "openat2"), ">"),
    "OPEN_BY_HANDLE_AT": (("open_by_handle_at",), "<"),
    "SOCKET": (("socket",), "<"),
    "BIND": (("bind",), "<"),
    "CONNECT": (("connect",), "<"),
    "CONNECT_E": (("connect",), ">"),
    "ACCEPT": (("accept", "accept4"), "<"),
    "ACCEPT4": (("accept4",), "<"),
    "CLOSE_RANGE": (("close_range",), "<"),
    "DUP3": (("dup3",), "<"),
    "FCNTL": (("fcntl",), "<"),
    "PIPE": (("pipe", "pipe2"), "<"),
    "PIPE2": (("pipe2",), "<"),
    "SOCKETPAIR": (("socketpair",), "<"),
    "MEMFD_CREATE": (("memfd_create",), "<"),
    "PIDFD_OPEN": (("pidfd_open",), "<"),
    "PIDFD_GETFD": (("pidfd_getfd",), "<"),
}

RES: Final = 0

CLONE_EXE: Final = 1
CLONE_ARGS: Final = 2
CLONE_PID: Final = 4
CLONE_PTID: Final = 5
CLONE_FDLIMIT: Final = 7
CLONE_PGFT_MAJ: Final = 8
CLONE_PGFT_MIN: Final = 9
CLONE_VM_SIZE: Final = 10
CLONE_VM_RSS: Final = 11
CLONE_VM_SWAP: Final = 12
CLONE_COMM: Final = 13
CLONE_CGROUPS: Final = 14
CLONE_FLAGS: Final = 15
CLONE_UID: Final = 16
CLONE_GID: Final = 17
CLONE_VTID: Final = 18
CLONE_VPID: Final = 19
CLONE_PIDNS_INIT_START_TS: Final = 20

EXECVE_EXE: Final = 1
EXECVE_ARGS: Final = 2
EXECVE_PID: Final = 4
EXECVE_PTID: Final = 5
EXECVE_FDLIMIT: Final = 7
EXECVE_PGFT_MAJ: Final = 8
EXECVE_PGFT_MIN: Final = 9
EXECVE_VM_SIZE: Final = 10
EXECVE_VM_RSS: Final = 11
EXECVE_VM_SWAP: Final = 12
EXECVE_COMM: Final = 13
EXECVE_CGROUPS: Final = 14
EXECVE_ENV: Final = 15
EXECVE_TTY: Final = 16
EXECVE_VPGID: Final = 17
EXECVE_LOGINUID: Final = 18
EXECVE_FLAGS: Final = 19
EXECVE_CAP_INHERITABLE: Final = 20
EXECVE_CAP_PERMITTED: Final = 21
EXECVE_CAP_EFFECTIVE: Final = 22
EXECVE_EXE_INO: Final = 23
EXECVE_EXE_INO_CTIME: Final = 24
EXECVE_EXE_INO_MTIME: Final = 25
EXECVE_UID: Final = 26
EXECVE_TRUSTED_EXEPATH: Final = 27
EXECVE_PGID: Final = 28
EXECVE_GID: Final = 29
EXECVE_E_FILENAME: Final = 0
EXECVEAT_E_DIRFD: Final = 0
EXECVEAT_E_PATHNAME: Final = 1
EXECVEAT_E_FLAGS: Final = 2

PROCEXIT_REAPER_TID: Final = 4

CHDIR_PATH: Final = 1
GETCWD_PATH: Final = 1
CHROOT_PATH: Final = 1

SETUID_UID: Final = 1
SETREUID_EUID: Final = 2
SETGID_GID: Final = 1
SETREGID_EGID: Final = 2
CAPSET_CAP_INHERITABLE: Final = 1
CAPSET_CAP_PERMITTED: Final = 2
CAPSET_CAP_EFFECTIVE: Final = 3
UNSHARE_FLAGS: Final = 1
SETNS_NSTYPE: Final = 2
PRCTL_OPTION: Final = 1
PRCTL_ARG2_INT: Final = 3
RLIMIT_CUR: Final = 1
RLIMIT_RESOURCE: Final = 3
PRLIMIT_NEWCUR: Final = 1
PRLIMIT_PID: Final = 5
PRLIMIT_RESOURCE: Final = 6

SWITCH_PGFT_MAJ: Final = 1
SWITCH_PGFT_MIN: Final = 2
SWITCH_VM_SIZE: Final = 3
SWITCH_VM_RSS: Final = 4
SWITCH_VM_SWAP: Final = 5
MM_VM_SIZE: Final = 1
MM_VM_RSS: Final = 2
MM_VM_SWAP: Final = 3

USER_UID: Final = 0
USER_GID: Final = 1
USER_NAME: Final = 2
USER_HOME: Final = 3
USER_SHELL: Final = 4
USER_CONTAINER_ID: Final = 5
GROUP_GID: Final = 0
GROUP_NAME: Final = 1
GROUP_CONTAINER_ID: Final = 2

OPEN_NAME: Final = 1
OPEN_FLAGS: Final = 2
OPEN_E_NAME: Final = 0
OPEN_E_FLAGS: Final = 1
CREAT_NAME: Final = 1
CREAT_CREAT_FLAGS: Final = 5
CREAT_E_NAME: Final = 0
OPENAT_DIRFD: Final = 1
OPENAT_NAME: Final = 2
OPENAT_FLAGS: Final = 3
OPENAT_E_DIRFD: Final = 0
OPENAT_E_NAME: Final = 1
OPENAT_E_FLAGS: Final = 2
OPEN_BY_HANDLE_AT_FLAGS: Final = 2
OPEN_BY_HANDLE_AT_PATH: Final = 3

SOCKET_DOMAIN: Final = 1
SOCKET_TYPE: Final = 2
SOCKET_PROTO: Final = 3
SOCKET_FLAGS: Final = 4
BIND_ADDR: Final = 1
CONNECT_TUPLE: Final = 1
CONNECT_ADDR: Final = 3
CONNECT_E_ADDR: Final = 1
ACCEPT_TUPLE: Final = 1
ACCEPT4_FLAGS: Final = 5

CLOSE_RANGE_FIRST: Final = 1
CLOSE_RANGE_LAST: Final = 2
CLOSE_RANGE_FLAGS: Final = 3
DUP3_FLAGS: Final = 3
FCNTL_CMD: Final = 2
FCNTL_ARG: Final = 3
PIPE_FD1: Final = 1
PIPE_FD2: Final = 2
PIPE_INO: Final = 3
PIPE2_FLAGS: Final = 4
SOCKETPAIR_FD1: Final = 1
SOCKETPAIR_FD2: Final = 2
SOCKETPAIR_SOURCE: Final = 3
SOCKETPAIR_PEER: Final = 4
MEMFD_CREATE_NAME: Final = 1
MEMFD_CREATE_FLAGS: Final = 2
PIDFD_OPEN_PID: Final = 1
PIDFD_GETFD_PID_FD: Final = 1
PIDFD_GETFD_TARGET_FD: Final = 2
