"""Userspace driver: ptrace + seccomp tracing of a command or of attached processes."""
