"""The tracer: launches a command (or attaches to processes) and yields what its tasks do.

Launch mode forks the command, seizes it before it runs (``PTRACE_SEIZE`` with exec/exit/fork/vfork/
clone/seccomp events, and ``EXITKILL`` so the workload dies with lanner rather than running unwatched
with a filter no one answers), installs the seccomp filter of :mod:`.seccomp` in it and execs it. Only
calls in the wanted set stop: at the seccomp stop the tracer takes the arguments, resumes with
``PTRACE_SYSCALL`` to the exit stop, takes the result, yields a :class:`SyscallRecord` (the tracee is still
stopped: the consumer may read its memory) and resumes with ``PTRACE_CONT``. No root is needed: a process
may trace its own child and install a filter under no_new_privs.

Attach mode seizes every thread of the given pids and (``tree``, the default) of their descendants
(root or CAP_SYS_PTRACE, or Yama scope 0 and the same user). A filter cannot be installed in a running process from outside, so an attached task stops at *every*
syscall entry and exit (``PTRACE_SYSCALL``) and the tracer keeps only the wanted ones: it costs much more
than launch mode. Stopping the tracer detaches and leaves the processes running.

Stops are told apart as ``ptrace(2)`` lays out for ``PTRACE_SEIZE``: a group-stop (``PTRACE_EVENT_STOP``
with a stopping signal) is left stopped with ``PTRACE_LISTEN``; a signal-delivery stop is resumed with the
signal, so the tracee sees every signal it would have; other event stops are resumed plainly. A new task
is held in its first stop until its parent's fork/clone event is yielded, so a consumer always knows a
task's parent before it sees the task's first call.

All ptrace requests come from the thread iterating :meth:`Tracer.records` (the kernel ties tracees to
the tracer thread); it waits with ``__WALL | __WNOTHREAD`` so the children other threads of lanner start
(output programs) are never reaped here. :meth:`Tracer.signal` and :meth:`Tracer.stop` are safe from any
thread.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal as _signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lanner.sources.userspace import ptrace as pt
from lanner.sources.userspace.errors import PtraceDenied, TraceError, exec_error, ptrace_denied_message
from lanner.sources.userspace.memory import Reader
from lanner.sources.userspace.seccomp import Installer, build_program

CLONE_VM = 0x100
CLONE_VFORK = 0x4000
CLONE_THREAD = 0x10000
SIGCHLD = int(_signal.SIGCHLD)
SYS_CLONE = 56
SYS_CLONE3 = 435

_GROUP_STOP = frozenset({int(_signal.SIGSTOP), int(_signal.SIGTSTP), int(_signal.SIGTTIN), int(_signal.SIGTTOU)})
_SYSCALL_TRAP = int(_signal.SIGTRAP) | 0x80
_ARCH = {pt.AUDIT_ARCH_X86_64: "x86_64", pt.AUDIT_ARCH_I386: "i386"}
#: the ticker's program: stop itself every argv[1] seconds, end when its parent argv[2] is gone
_TICKER = ("import os, signal, sys, time\n"
           "while os.getppid() == int(sys.argv[2]):\n"
           "    time.sleep(float(sys.argv[1]))\n"
           "    os.kill(os.getpid(), signal.SIGSTOP)\n")
_KIND = {pt.EVENT_FORK: "fork", pt.EVENT_VFORK: "vfork", pt.EVENT_CLONE: "clone"}


@dataclass(slots=True)
class SyscallRecord:
    """One stopped syscall, yielded at its exit stop (``ret`` None: the task never returned from it,
    as with ``exit``/``exit_group``). ``nr`` is in ``arch``'s numbering ("x86_64", "i386", "x32"); ``entry``
    is what the ``on_enter`` callback returned at the entry stop."""

    ts: int
    enter_ts: int
    pid: int
    tid: int
    nr: int
    arch: str
    args: tuple[int, ...]
    ret: int | None
    entry: Any = None


@dataclass(slots=True)
class NewTask:
    """``tid`` (of process ``pid``) made ``child_tid`` (of process ``child_pid``) by ``kind`` with clone
    ``flags``; the child has not run yet."""

    ts: int
    pid: int
    tid: int
    child_tid: int
    child_pid: int
    kind: str
    flags: int


@dataclass(slots=True)
class Exec:
    """``tid`` finished an execve into a new image; ``former_tid`` is the thread that called it (it takes
    the leader's id ``pid`` when it was another thread of the process)."""

    ts: int
    pid: int
    tid: int
    former_tid: int


@dataclass(slots=True)
class TaskExit:
    """``tid`` exits with wait ``status`` (``code`` and ``sig`` decoded: sig 0 for a normal exit)."""

    ts: int
    pid: int
    tid: int
    status: int
    code: int
    sig: int


@dataclass(slots=True)
class Attached:
    """A task traced from the start: the launched command before its exec, or a thread of an attached
    process. Its state (process tree, fds, user) is to be seeded from ``/proc/<pid>``."""

    ts: int
    pid: int
    tid: int


Record = SyscallRecord | NewTask | Exec | TaskExit | Attached
OnEnter = Callable[[int, tuple[int, ...], Reader, int], Any]


class _Task:
    __slots__ = ("tid", "pid", "started", "announced", "nr", "arch", "args", "enter_ts", "entry", "exit_seen")

    def __init__(self, tid: int, pid: int) -> None:
        self.tid = tid
        self.pid = pid
        self.started = False
        self.announced = False
        self.nr = -1
        self.arch = ""
        self.args: tuple[int, ...] = ()
        self.enter_ts = 0
        self.entry: Any = None
        self.exit_seen = False


def _decode_status(status: int) -> tuple[int, int]:
    if os.WIFSIGNALED(status):
        return 0, os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), 0
    return 0, 0


def resolve_command(argv0: str, env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
    """The file a shell would run for ``argv0`` (PATH search unless it has a slash; a relative path is
    taken from ``cwd``): CommandNotFound else."""
    if "/" in argv0:
        if not os.path.exists(os.path.join(cwd or ".", argv0)):
            raise exec_error(argv0, errno.ENOENT)
        return argv0
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(argv0, path=path)
    if found is None:
        raise exec_error(argv0, errno.ENOENT)
    return found


def _tracer_of(tid: int) -> int:
    """The pid tracing ``tid`` (0: none), -1 when it is dead or a zombie (nothing to trace)."""
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                    return -1
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return -1
    except (OSError, ValueError, IndexError):
        pass
    return 0


def children_map(proc: str = "/proc") -> dict[int, list[int]]:
    """Parent pid -> child pids of every process now (one pass over ``/proc/*/stat``; the per-task
    ``children`` files need CONFIG_PROC_CHILDREN, which many kernels lack)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split(None, 2)[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


class Tracer:
    """Traces a command it launches (``argv``) or running processes (``pids``); see the module doc."""

    def __init__(self, syscalls: Iterable[int], *, argv: list[str] | None = None, pids: Iterable[int] = (),
                 env: Mapping[str, str] | None = None, cwd: str | None = None, on_enter: OnEnter | None = None,
                 enter_nrs: Iterable[int] | None = None, tick_s: float | None = 1.0, tree: bool = True) -> None:
        if os.uname().machine != "x86_64":
            raise TraceError(f"userspace driver: only x86_64 is supported (this machine is {os.uname().machine})")
        if bool(argv) == bool(list(pids)):
            raise TraceError("userspace driver: give either a command to run or pids to attach to")
        self.syscalls = frozenset(int(n) for n in syscalls)
        self.argv = list(argv or [])
        self.pids = [int(p) for p in pids]
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.on_enter = on_enter
        self.enter_nrs = frozenset(enter_nrs) if enter_nrs is not None else (self.syscalls if on_enter else frozenset())
        self.tick_s = tick_s
        self.tree = tree
        self.reader = Reader()
        self.exit_code: int | None = None
        self.leader = 0
        self.stopped_calls = 0
        self._tasks: dict[int, _Task] = {}
        self._held: set[int] = set()
        self._expected: set[int] = set()
        self._attach = not self.argv
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ticker = 0
        self._err_r = -1
        self._path = ""
        if self.argv:
            self._path = resolve_command(self.argv[0], self.env, self.cwd)

    # ---- any thread -------------------------------------------------------------------------------

    def signal(self, sig: int) -> bool:
        """Forward ``sig`` to the launched command (what lanner received: SIGINT, SIGTERM, SIGHUP ...).
        False when there is no running command (attach mode, or it has exited)."""
        if self._attach or not self.leader or self.exit_code is not None:
            return False
        try:
            os.kill(self.leader, sig)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """End tracing: attach mode detaches (processes run on), launch mode kills the traced tree."""
        self._stop.set()
        with self._lock:
            if self._ticker:
                try:
                    os.kill(self._ticker, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not self._attach:
            for tid in list(self._tasks):
                try:
                    os.kill(tid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # ---- the tracer thread ------------------------------------------------------------------------

    def records(self) -> Iterator[Record | None]:
        """Start (launch or attach) and yield records until every traced task is gone (or :meth:`stop`).
        ``None`` is yielded every ``tick_s`` seconds of silence. The tracee of a record stays stopped until
        the next record is asked for."""
        try:
            yield from (self._attach_all() if self._attach else self._launch())
            yield from self._loop()
        finally:
            self._end()

    def _launch(self) -> Iterator[Record]:
        installer = Installer(build_program(self.syscalls))
        go_r, go_w = os.pipe()
        self._err_r, err_w = os.pipe2(os.O_CLOEXEC)
        env = self.env if self.env is not None else dict(os.environ)
        pid = os.fork()
        if pid == 0:  # the child: wait to be seized, install the filter, exec
            stage, err = "exec", 0
            try:
                os.close(go_w)
                os.read(go_r, 1)
                os.close(go_r)
                for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):  # ignored by Python itself, not by lanner's caller
                    _signal.signal(sig, _signal.SIG_DFL)
                _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
                if self.cwd:
                    stage = "chdir"
                    os.chdir(self.cwd)
                stage, err = installer.install()
                if not err:
                    stage = "exec"
                    os.execve(self._path, self.argv, env)
            except OSError as e:
                err = e.errno or errno.EIO
            except BaseException:
                err = errno.EIO
            try:
                os.write(err_w, f"{stage}:{err}".encode())
            finally:
                os._exit(127)
        os.close(go_r)
        os.close(err_w)
        try:
            pt.seize(pid, pt.OPTIONS | pt.O_EXITKILL)
        except OSError as e:
            os.kill(pid, _signal.SIGKILL)
            os.close(go_w)
            os.waitpid(pid, 0)
            raise PtraceDenied(ptrace_denied_message(e.errno or 0, pid, attach=False)) from None
        self.leader = pid
        task = self._tasks[pid] = _Task(pid, pid)
        task.started = task.announced = True
        yield Attached(time.time_ns(), pid, pid)
        os.write(go_w, b"g")
        os.close(go_w)

    def _attach_all(self) -> Iterator[Record]:
        """Seize the given processes, then (``tree``) their descendants level by level: parents are
        announced before their children. Children born meanwhile are seized by the fork/clone options."""
        level = list(dict.fromkeys(self.pids))
        given = set(level)
        done: set[int] = set()
        while level:
            for pid in level:
                done.add(pid)
                yield from self._attach_process(pid, pid in given)
            if not self.tree:
                break
            kids = children_map()
            level = [c for p in level for c in kids.get(p, ()) if c not in done]
        self.leader = self.pids[0]

    def _attach_process(self, pid: int, given: bool) -> Iterator[Record]:
        seen: set[int] = set()
        while True:  # threads started while attaching are seized by TRACECLONE or on the next pass
            try:
                tids = {int(t) for t in os.listdir(f"/proc/{pid}/task")} - seen
            except FileNotFoundError:
                if given and not seen:
                    self._detach_all()
                    raise PtraceDenied(ptrace_denied_message(errno.ESRCH, pid, attach=True)) from None
                return
            if not tids:
                return
            for tid in sorted(tids):
                seen.add(tid)
                if tid in self._tasks:
                    continue
                try:
                    pt.seize(tid)
                    pt.interrupt(tid)
                except OSError as e:
                    if e.errno == errno.ESRCH and (tid != pid or not given):
                        continue
                    if e.errno == errno.EPERM and (_tracer_of(tid) in (os.getpid(), -1)):
                        continue  # born of a task seized meanwhile (ours already), or a zombie
                    self._detach_all()
                    raise PtraceDenied(ptrace_denied_message(e.errno or 0, tid, attach=True)) from None
                task = self._tasks[tid] = _Task(tid, pid)
                task.announced = True
                yield Attached(time.time_ns(), pid, tid)

    def _resume(self, task: _Task, sig: int = 0) -> None:
        try:
            if task.nr >= 0 or self._attach:
                pt.syscall(task.tid, sig)
            else:
                pt.cont(task.tid, sig)
        except ProcessLookupError:
            pass

    def _spawn_ticker(self) -> None:
        """A small child of this thread that stops itself every ``tick_s``: its stop wakes the blocking
        ``waitpid`` (nothing else can from another thread), and killing it is how :meth:`stop` wakes it.
        A fresh interpreter rather than a fork, so it shares no copy-on-write pages with lanner."""
        if not self.tick_s or self._stop.is_set() or not sys.executable:
            return
        argv = [sys.executable, "-S", "-I", "-c", _TICKER, f"{self.tick_s}", str(os.getpid())]
        pid = os.posix_spawn(sys.executable, argv, {})
        with self._lock:
            self._ticker = pid

    def _loop(self) -> Iterator[Record | None]:
        tasks = self._tasks
        flags = pt.WALL | pt.WNOTHREAD | os.WUNTRACED
        killed: set[int] = set()
        stopping = self._stop.is_set
        self._spawn_ticker()
        while tasks:
            if stopping():
                if self._attach:
                    break
                for tid in tasks.keys() - killed:  # born after stop() looked, or stop() came before the launch
                    killed.add(tid)
                    try:
                        os.kill(tid, _signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            try:
                tid, status = os.waitpid(-1, flags)
            except ChildProcessError:
                break
            if tid == self._ticker:
                if os.WIFSTOPPED(status):
                    os.kill(tid, _signal.SIGCONT)
                    yield None
                else:
                    with self._lock:
                        self._ticker = 0
                    self._spawn_ticker()
                continue
            if os.WIFSTOPPED(status):
                yield from self._stopped(tid, status)
            else:
                yield from self._gone(tid, status)

    def _stopped(self, tid: int, status: int) -> Iterator[Record]:
        sig = (status >> 8) & 0xFF
        event = status >> 16
        task = self._tasks.get(tid)
        if task is None:  # a new child's first stop, possibly before its parent's event
            task = self._tasks[tid] = _Task(tid, tid)
        if not task.started and event == pt.EVENT_STOP and not task.announced:
            task.started = True
            self._held.add(tid)  # released when the parent's fork/clone event has been yielded
            return
        task.started = True
        if event == pt.EVENT_SECCOMP:
            if task.nr < 0:
                self._enter(task)
            self._resume(task)
        elif sig == _SYSCALL_TRAP:
            try:
                op, arch, nr, val = pt.syscall_info(tid)
            except ProcessLookupError:
                return
            if op == pt.INFO_EXIT and task.nr >= 0:
                rec = SyscallRecord(time.time_ns(), task.enter_ts, task.pid, tid, task.nr, task.arch, task.args,
                                    int(val), task.entry)
                task.nr = -1
                task.entry = None
                self.stopped_calls += 1
                yield rec
            elif op == pt.INFO_ENTRY and self._attach:
                self._enter(task, (arch, nr, val))
            self._resume(task)
        elif event == pt.EVENT_STOP:
            if sig in _GROUP_STOP:
                try:
                    pt.listen(tid)
                except ProcessLookupError:
                    pass
            else:
                self._resume(task)
        elif event in _KIND:
            yield from self._new_task(task, event)
            self._resume(task)
        elif event == pt.EVENT_EXEC:
            yield from self._exec(task)
        elif event == pt.EVENT_EXIT:
            yield from self._exiting(task)
            self._resume(task)
        elif event:
            self._resume(task)
        else:  # signal-delivery stop: deliver it
            self._resume(task, sig)

    def _enter(self, task: _Task, info: tuple[int, int, Any] | None = None) -> None:
        tid = task.tid
        try:
            arch, nr, args = info or pt.syscall_info(tid)[1:]
        except ProcessLookupError:
            return
        name = _ARCH.get(arch, "other")
        if name == "x86_64" and nr & pt.X32_SYSCALL_BIT:
            name = "x32"
        if self._attach and name == "x86_64" and nr not in self.syscalls:
            return
        task.nr = nr
        task.arch = name
        task.args = tuple(args)
        task.enter_ts = time.time_ns()
        task.entry = None
        if self.on_enter is not None and nr in self.enter_nrs and name == "x86_64":
            task.entry = self.on_enter(nr, task.args, self.reader, tid)

    def _new_task(self, task: _Task, event: int) -> Iterator[Record]:
        try:
            child = pt.event_msg(task.tid)
            nr, args = pt.syscall_args_from_regs(pt.get_regs(task.tid))
        except ProcessLookupError:
            return
        kind = _KIND[event]
        if event == pt.EVENT_FORK:
            flags = SIGCHLD if nr != SYS_CLONE else args[0]
        elif event == pt.EVENT_VFORK:
            flags = CLONE_VM | CLONE_VFORK | SIGCHLD if nr != SYS_CLONE else args[0]
        else:
            flags = args[0]
        if nr == SYS_CLONE3:
            kind = "clone3"
            raw = self.reader.read(task.tid, args[0], 8)
            flags = int.from_bytes(raw, "little") if len(raw) == 8 else 0
        elif nr == SYS_CLONE and event == pt.EVENT_CLONE:
            kind = "clone"
        child_pid = task.pid if flags & CLONE_THREAD else child
        c = self._tasks.get(child)
        if c is None:
            c = self._tasks[child] = _Task(child, child_pid)
        c.pid = child_pid
        c.announced = True
        yield NewTask(time.time_ns(), task.pid, task.tid, child, child_pid, kind, flags)
        if child in self._held:
            self._held.discard(child)
            self._resume(c)

    def _exec(self, task: _Task) -> Iterator[Record]:
        try:
            former = pt.event_msg(task.tid)
        except ProcessLookupError:
            return
        if former != task.tid:
            old = self._tasks.pop(former, None)
            if old is not None:
                old.tid = task.tid
                old.pid = task.pid
                old.exit_seen = False
                self._tasks[task.tid] = task = old
            self.reader.forget(former)
        self.reader.forget(task.tid)
        yield Exec(time.time_ns(), task.pid, task.tid, former)
        self._resume(task)

    def _exiting(self, task: _Task) -> Iterator[Record]:
        try:
            status = pt.event_msg(task.tid)
        except ProcessLookupError:
            return
        ts = time.time_ns()
        if task.nr >= 0:  # exit/exit_group: no exit stop
            rec = SyscallRecord(ts, task.enter_ts, task.pid, task.tid, task.nr, task.arch, task.args, None,
                                task.entry)
            task.nr = -1
            task.entry = None
            self.stopped_calls += 1
            yield rec
        task.exit_seen = True
        code, sig = _decode_status(status)
        yield TaskExit(ts, task.pid, task.tid, status, code, sig)

    def _gone(self, tid: int, status: int) -> Iterator[Record]:
        task = self._tasks.pop(tid, None)
        self._held.discard(tid)
        self.reader.forget(tid)
        if tid == self.leader and not self._attach:
            code, sig = _decode_status(status)
            self.exit_code = 128 + sig if sig else code
        if task is not None and not task.exit_seen and (task.started or task.announced):
            code, sig = _decode_status(status)
            yield TaskExit(time.time_ns(), task.pid, tid, status, code, sig)

    def _detach_all(self) -> None:
        pending = set()
        for tid in list(self._tasks):
            if tid in self._held:
                pending.add(tid)
                continue
            try:
                pt.interrupt(tid)
                pending.add(tid)
            except OSError:
                self._tasks.pop(tid, None)
        for tid in list(self._held):  # already in their first stop
            try:
                pt.detach(tid)
            except OSError:
                pass
            pending.discard(tid)
        while pending:
            try:
                tid, status = os.waitpid(-1, pt.WALL | pt.WNOTHREAD)
            except ChildProcessError:
                break
            if tid not in pending:
                continue
            if os.WIFSTOPPED(status):
                sig = (status >> 8) & 0xFF
                event = status >> 16
                deliver = sig if not event and sig != _SYSCALL_TRAP else 0
                try:
                    pt.detach(tid, deliver)
                except OSError:
                    pass
            pending.discard(tid)
        self._tasks.clear()

    def _end(self) -> None:
        if self._attach and self._tasks:
            self._detach_all()
        with self._lock:
            ticker, self._ticker = self._ticker, 0
        if ticker:
            try:
                os.kill(ticker, _signal.SIGKILL)
                os.waitpid(ticker, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        if not self._attach and self._tasks:
            for tid in list(self._tasks):
                try:
                    os.kill(tid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while self._tasks:
                try:
                    tid, _ = os.waitpid(-1, pt.WALL | pt.WNOTHREAD)
                except ChildProcessError:
                    break
                self._tasks.pop(tid, None)
        if self._err_r >= 0:
            err = b""
            try:
                os.set_blocking(self._err_r, False)
                err = os.read(self._err_r, 64)
            except OSError:
                pass
            os.close(self._err_r)
            self._err_r = -1
            if err:
                self._raise_child_error(err.decode(errors="replace"))
        self.reader.close()

    def _raise_child_error(self, text: str) -> None:
        stage, _, num = text.partition(":")
        e = int(num) if num.isdigit() else errno.EIO
        if stage == "exec":
            raise exec_error(self._path, e)
        if stage == "chdir":
            raise TraceError(f"userspace driver: cannot change to directory {self.cwd}: {os.strerror(e)}")
        raise TraceError(f"userspace driver: cannot install the seccomp filter in the command ({stage}: "
                         f"{os.strerror(e)}); the kernel needs CONFIG_SECCOMP_FILTER and must allow seccomp "
                         "in this sandbox")
