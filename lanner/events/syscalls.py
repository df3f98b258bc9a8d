"""Linux syscall names: the x86_64 native table and other architectures' common names.

Used for generic events (``evt.type`` of a ``syscall`` event is the syscall name: looked up from the
portable ppm_sc code, or from the native x86_64 number when that is all we have) and for the rule
compiler's "unknown event type" check (``syscall_names()``).
"""

from __future__ import annotations

# x86_64 syscall numbers 0..334, then 424..462 (the gap is reserved for the 32-bit compat table).
_X86_64_LOW = """
read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield
mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer
getpid sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind listen
getsockname getpeername socketpair setsockopt getsockopt clone fork vfork execve exit wait4 kill
uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync fdatasync truncate
ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink readlink chmod
fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace getuid syslog
getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups
setgroups setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid capget capset
rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime mknod uselib
personality ustat statfs fstatfs sysfs getpriority setpriority sched_setparam sched_getparam
sched_setscheduler sched_getscheduler sched_get_priority_max sched_get_priority_min
sched_rr_get_interval mlock munlock mlockall munlockall vhangup modify_ldt pivot_root _sysctl prctl
arch_prctl adjtimex setrlimit chroot sync acct settimeofday mount umount2 swapon swapoff reboot
sethostname setdomainname iopl ioperm create_module init_module delete_module get_kernel_syms
query_module quotactl nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid readahead
setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr
lremovexattr fremovexattr tkill time futex sched_setaffinity sched_getaffinity set_thread_area
io_setup io_destroy io_getevents io_submit io_cancel get_thread_area lookup_dcookie epoll_create
epoll_ctl_old epoll_wait_old remap_file_pages getdents64 set_tid_address restart_syscall semtimedop
fadvise64 timer_create timer_settime timer_gettime timer_getoverrun timer_delete clock_settime
clock_gettime clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes vserver
mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify
mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set ioprio_get inotify_init
inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat fchownat futimesat
newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll unshare
set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages utimensat epoll_pwait
signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2
epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg
fanotify_init fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs
sendmmsg setns getcpu process_vm_readv process_vm_writev kcmp finit_module sched_setattr
sched_getattr renameat2 seccomp getrandom memfd_create kexec_file_load bpf execveat userfaultfd
membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx
io_pgetevents rseq uretprobe
""".split()  # noqa: SIM905 - a word list reads best as text

_X86_64_HIGH = """
pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount fsopen
fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2
process_madvise epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule
landlock_restrict_self memfd_secret process_mrelease futex_waitv set_mempolicy_home_node cachestat
fchmodat2 map_shadow_stack futex_wake futex_wait futex_requeue statmount listmount
lsm_get_self_attr lsm_set_self_attr lsm_list_modules mseal
""".split()  # noqa: SIM905 - a word list reads best as text

#: native x86_64 syscall number -> name
X86_64: dict[int, str] = {**dict(enumerate(_X86_64_LOW)), **{424 + i: n for i, n in enumerate(_X86_64_HIGH)}}

# Names that exist on other architectures (i386 / arm / arm64 / generic table) but not on x86_64.
_OTHER_ARCH = """
stat64 lstat64 fstat64 fstatat64 mmap2 _llseek llseek _newselect socketcall ipc send recv
setuid32 setgid32 setresuid32 setresgid32 setreuid32 setregid32 getuid32 getgid32 geteuid32
getegid32 getresuid32 getresgid32 getgroups32 setgroups32 setfsuid32 setfsgid32 chown32 lchown32
fchown32 fcntl64 sigreturn waitpid umount sigaction signal sgetmask ssetmask sigsuspend sigpending
sigprocmask nice readdir oldstat oldlstat oldfstat olduname oldolduname ugetrlimit sendfile64
truncate64 ftruncate64 statfs64 fstatfs64 fadvise64_64 arm_fadvise64_64 getdents32 idle vm86
vm86old break stty gtty ftime prof profil lock mpx ulimit stime pread preadv64 pwrite pwritev64
clock_gettime64 clock_settime64 clock_adjtime64 clock_getres_time64 clock_nanosleep_time64
timer_gettime64 timer_settime64 timerfd_gettime64 timerfd_settime64 utimensat_time64
pselect6_time64 ppoll_time64 io_pgetevents_time64 recvmmsg_time64 mq_timedsend_time64
mq_timedreceive_time64 semtimedop_time64 rt_sigtimedwait_time64 futex_time64
sched_rr_get_interval_time64 arm_sync_file_range sync_file_range2 cacheflush set_tls get_tls
breakpoint usr26 usr32 riscv_flush_icache riscv_hwprobe s390_runtime_instr s390_pci_mmio_read
s390_pci_mmio_write s390_guarded_storage s390_sthyi spu_run spu_create subpage_prot swapcontext
switch_endian sys_debug_setcontext multiplexer rtas kexec_file_load
""".split()  # noqa: SIM905 - a word list reads best as text

_ALL_NAMES = frozenset(_X86_64_LOW) | frozenset(_X86_64_HIGH) | frozenset(_OTHER_ARCH)


def syscall_names() -> frozenset[str]:
    """Every syscall name lanner knows (x86_64 plus other architectures' names)."""
    return _ALL_NAMES


def native_name(nr: int) -> str | None:
    """Name of x86_64 syscall number ``nr``, or None."""
    return X86_64.get(nr)
