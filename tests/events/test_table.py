from lanner.events import table as T
from lanner.events.flags import errno_name, render, sigset_names


def test_table_complete_and_lookups():
    assert len(T.EVENTS) == 454 and T.all_codes() == frozenset(range(454))
    ev = T.info(307)
    assert (ev.name, ev.direction, ev.category, ev.nparams) == ("openat", "<", "file", 7)
    assert ev.params[2].type == T.PT_FSRELPATH and ev.params[2].dirfd == 1
    assert ev.params[3].table == "file_flags" and ev.params[4].fmt == "OCT"
    assert T.info(324).large and T.info(322).large and T.info(402).large and not T.info(3).large
    assert T.info(17).flags & T.EF_UNUSED
    assert T.codes_for_name("execve") == frozenset({12, 13, 154, 155, 172, 173, 214, 215, 230, 231,
                                                     282, 283, 288, 289, 292, 293})
    assert T.codes_for_name("getpid") == frozenset({0, 1})
    assert T.codes_for_name("no_such_thing") == frozenset()
    assert T.is_event_name("procexit") and T.is_event_name("getpid") and not T.is_event_name("NA")
    assert "pread64" in T.syscall_names() and "mmap2" in T.syscall_names()


def test_flag_rendering_examples():
    assert render("file_flags", 0x1001, "FLAGS32") == "O_RDONLY|O_CLOEXEC"
    assert render("file_flags", 0x106, "FLAGS32") == "O_TRUNC|O_CREAT|O_WRONLY"
    assert render("file_flags", 0, "FLAGS32") == "O_NONE"
    assert render("file_flags", 3, "FLAGS32") == "O_RDWR"
    assert render("socket_families", 1, "ENUMFLAGS32") == "AF_LOCAL|AF_UNIX"
    assert render("socket_families", 16, "ENUMFLAGS32") == "AF_ROUTE|AF_NETLINK"
    assert render("ptrace_requests", 11, "ENUMFLAGS16") == "PTRACE_ATTACH"
    assert render("chmod_mode", 0o644, "MODE") == "S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR"
    assert render("fcntl_commands", 26, "ENUMFLAGS8") == "F_DUPFD_CLOEXEC"
    assert render("access_flags", 0, "FLAGS32") == "F_OK"
    assert render("mount_flags", 0, "FLAGS32") == ""
    assert errno_name(-2) == "ENOENT" and errno_name(-115) == "EINPROGRESS" and errno_name(-99999) == ""
    assert sigset_names((1 << 8) | (1 << 14)) == "SIGKILL SIGTERM"
