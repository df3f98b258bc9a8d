"""Userspace driver: ptrace + seccomp tracing of a command or of attached processes, for hosts where
neither a kernel module nor an eBPF probe may be loaded.

``ptrace`` holds the raw calls, ``seccomp`` the filter that stops only the wanted syscalls, ``memory``
reads the stopped tracee's memory, ``tracer`` drives the tracees and yields plain records; ``decode``
turns those into the probe's events.
"""
