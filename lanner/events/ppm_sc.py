"""Portable syscall codes (ppm_sc): the ``ID`` parameter of generic events.

Codes 1..300 in driver order. Anchors verified against the (ID, nativeID) pairs of generic events
in the reference captures: 46 getrusage, 47 gettimeofday, 75 mprotect, 107 rt_sigaction,
108 rt_sigprocmask, 139 madvise, 169 set_tid_address, 176 clock_gettime, 212 set_robust_list,
296 arch_prctl. Codes above 300 are not listed; for them (and for ID 0) the generic event's name
comes from its native x86_64 number (``nativeID``).
"""

from __future__ import annotations

_NAMES = """
restart_syscall exit read write open close creat link unlink chdir time mknod chmod stat lseek getpid
mount ptrace alarm fstat pause utime access sync kill rename mkdir rmdir dup pipe times brk acct ioctl
fcntl setpgid umask chroot ustat dup2 getppid getpgrp setsid sethostname setrlimit getrusage
gettimeofday settimeofday symlink lstat readlink uselib swapon reboot mmap munmap truncate ftruncate
fchmod getpriority setpriority statfs fstatfs syslog setitimer getitimer uname vhangup wait4 swapoff
sysinfo fsync setdomainname adjtimex mprotect init_module delete_module quotactl getpgid fchdir sysfs
personality getdents select flock msync readv writev getsid fdatasync mlock munlock mlockall
munlockall sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_yield
sched_get_priority_max sched_get_priority_min sched_rr_get_interval nanosleep mremap poll prctl
rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend getcwd capget
capset sendfile getrlimit lchown getuid getgid geteuid getegid setreuid setregid getgroups setgroups
fchown setresuid getresuid setresgid getresgid chown setuid setgid setfsuid setfsgid pivot_root
mincore madvise gettid setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr
flistxattr removexattr lremovexattr fremovexattr tkill futex sched_setaffinity sched_getaffinity
set_thread_area get_thread_area io_setup io_destroy io_getevents io_submit io_cancel exit_group
epoll_create epoll_ctl epoll_wait remap_file_pages set_tid_address timer_create timer_settime
timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres clock_nanosleep
tgkill utimes mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr kexec_load waitid
add_key request_key keyctl ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch
openat mkdirat mknodat fchownat futimesat unlinkat renameat linkat symlinkat readlinkat fchmodat
faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee vmsplice getcpu
epoll_pwait utimensat signalfd timerfd_create eventfd timerfd_settime timerfd_gettime signalfd4
eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open
fanotify_init prlimit64 clock_adjtime syncfs setns getdents64 socket bind connect listen accept
getsockname getpeername socketpair sendto recvfrom shutdown setsockopt getsockopt sendmsg sendmmsg
recvmsg recvmmsg accept4 semop semget semctl msgsnd msgrcv msgget msgctl shmdt shmget shmctl
statfs64 fstatfs64 fstatat64 sendfile64 ugetrlimit bdflush sigprocmask ipc socketcall stat64 lstat64
fstat64 fcntl64 mmap2 _newselect sgetmask ssetmask sigpending olduname umount signal nice stime
_llseek waitpid pread64 pwrite64 arch_prctl shmat sigreturn fallocate newfstatat
""".split()  # noqa: SIM905 - a word list reads best as text

PPM_SC_NAMES: dict[int, str] = {i + 1: n for i, n in enumerate(_NAMES)}
PPM_SC_CODES: dict[str, int] = {n: c for c, n in PPM_SC_NAMES.items()}

assert PPM_SC_NAMES[46] == "getrusage" and PPM_SC_NAMES[176] == "clock_gettime"
assert PPM_SC_NAMES[296] == "arch_prctl" and PPM_SC_NAMES[212] == "set_robust_list"


def ppm_sc_name(code: int | None) -> str | None:
    """Syscall name of a ppm_sc code, or None when unknown (0 = unknown)."""
    return PPM_SC_NAMES.get(code) if code else None
