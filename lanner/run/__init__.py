"""The run layer: the application sequence (app), the argument model (args), the event loop over any set
of sources, the live syscall run, the syscall sets, and drop monitoring. Top floor: nothing below
imports it."""
