"""The argument model: Falco's flags (config-and-cli.md 3) and exit codes (5), parsed into :class:`Args`.

Options are parsed the way Falco's cxxopts does: short options take their value attached or as the next
argument (``-rfile``, ``-r file``), long options as ``--opt value`` or ``--opt=value``, and options with
an implicit value (``--list``) only as ``--list=value``. Subcommands (``lanner test``) come first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lanner.core.errors import LannerError

EXIT_OK, EXIT_ERROR, EXIT_PIDFILE = 0, 1, 255


class UsageError(LannerError):
    """A malformed command line."""


@dataclass(frozen=True)
class Opt:
    long: str
    short: str = ""
    takes_value: bool = False
    implicit: bool = False        # value only via --opt=value
    repeat: bool = False
    help: str = ""
    metavar: str = ""
    integer: bool = False         # value must parse as a 32-bit integer (cxxopts' int)


OPTIONS = [
    Opt("help", "h", help="Print this help and exit."),
    Opt("config", "c", True, help="Configuration file (default /etc/lanner/lanner.yaml, then /etc/falco/falco.yaml).",
        metavar="<path>"),
    Opt("config-schema", help="Print the configuration JSON schema and exit."),
    Opt("rule-schema", help="Print the rules file JSON schema and exit."),
    Opt("disable-source", "", True, repeat=True, help="Do not open this event source.", metavar="<source>"),
    Opt("enable-source", "", True, repeat=True, help="Open only these event sources.", metavar="<source>"),
    Opt("dry-run", help="Run everything except event processing and output creation."),
    Opt("ignored-events", "i", help="Print the syscalls not traced unless base_syscalls.all, and exit."),
    Opt("describe-all", "L", help="Describe all loaded rules and exit."),
    Opt("describe", "l", True, help="Describe one rule and exit.", metavar="<rule>"),
    Opt("list", "", True, implicit=True, help="List supported fields (all sources or one) and exit.",
        metavar="[=<source>]"),
    Opt("list-events", help="List event types and exit."),
    Opt("list-plugins", help="List configured plugins (built-in sources) and exit."),
    Opt("plugin-info", "", True, help="Describe one plugin and exit.", metavar="<name>"),
    Opt("duration", "M", True, help="Stop after <seconds> of event time.", metavar="<seconds>", integer=True),
    Opt("markdown", help="Deprecated: --format markdown."),
    Opt("format", "", True, help="Format of --list / --list-events: text, markdown or json.", metavar="<fmt>"),
    Opt("names-only", "N", help="With --list: field names only."),
    Opt("option", "o", True, repeat=True, help="Set a configuration key (key=value; a.b[0].c=v).",
        metavar="<key>=<value>"),
    Opt("print", "p", True, repeat=True, help="Deprecated: append a format to every rule output.", metavar="<fmt>"),
    Opt("pidfile", "P", True, help="Write the process id to this file.", metavar="<path>"),
    Opt("rules", "r", True, repeat=True, help="Rules file or directory (repeatable); replaces rules_files.",
        metavar="<path>"),
    Opt("support", help="Print support information (JSON) and exit."),
    Opt("unbuffered", "U", help="Unbuffered outputs (buffered_outputs: false)."),
    Opt("validate", "V", True, repeat=True, help="Validate rules files and exit.", metavar="<rules_file>"),
    Opt("verbose", "v", help="Print statistics at exit; more detail in --list."),
    Opt("version", help="Print version information and exit."),
    Opt("page-size", help="Print the system page size and exit."),
    Opt("trace-file", "e", True, help="Replay a capture file (older Falco; same as -o engine.kind=replay "
                                       "-o engine.replay.capture_file=<file>).", metavar="<file>"),
    Opt("all-events", "A", help="Trace all syscalls, including high-volume I/O (base_syscalls.all)."),
    Opt("disable-rule", "D", True, repeat=True, help="Disable rules whose name contains <substring> (older Falco).",
        metavar="<substring>"),
    Opt("disable-tag", "T", True, repeat=True, help="Disable rules with this tag (older Falco).", metavar="<tag>"),
    Opt("only-tag", "t", True, repeat=True, help="Run only rules with this tag (older Falco).", metavar="<tag>"),
]
_BY_LONG = {o.long: o for o in OPTIONS}
_BY_SHORT = {o.short: o for o in OPTIONS if o.short}
_REMOVED = {
    "modern-bpf": "use -o engine.kind=modern_ebpf", "nodriver": "use -o engine.kind=nodriver",
    "gvisor-config": "gVisor is not supported", "userspace": "use -o engine.kind=userspace -- CMD [ARGS...]", "k8s-api": "use the container engines",
    "cri": "configure the container plugin's init_config", "disable-cri-async": "no replacement",
    "print-base64": "use -o buffer_format_base64=true", "snaplen": "use -o falco_libs.snaplen=<n>",
}


@dataclass
class Args:
    values: dict[str, list[str]] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    #: the command after ``--`` (run under the userspace driver, ``engine.kind=userspace``)
    command: list[str] = field(default_factory=list)

    def flag(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        v = self.values.get(name)
        return v[-1] if v else None

    def integer(self, name: str) -> int | None:
        """Value of an integer option (checked by :func:`parse_args`), or None when not given."""
        v = self.get(name)
        return parse_int(v) if v is not None else None

    def all(self, name: str) -> list[str]:
        return list(self.values.get(name, []))


_INT32 = (-(1 << 31), (1 << 31) - 1)


def parse_int(text: str) -> int:
    """A number as cxxopts reads an ``int`` option: decimal or 0x-hex, optional sign, 32-bit; otherwise
    Falco's ``Argument '<text>' failed to parse``."""
    m = re.fullmatch(r"([-+]?)(0[xX][0-9a-fA-F]+|[0-9]+)", text)
    value = int(m.group(2), 0 if m.group(2)[:2].lower() == "0x" else 10) if m else None
    if m and m.group(1) == "-" and value is not None:
        value = -value
    if value is None or not _INT32[0] <= value <= _INT32[1]:
        raise UsageError(f"Argument \u2018{text}\u2019 failed to parse")
    return value


def parse_args(argv: Sequence[str]) -> Args:
    args = Args(argv=list(argv))
    i = 0
    argv = list(argv)
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            args.command = argv[i:]
            if not args.command:
                raise UsageError("'--' must be followed by a command to run")
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            opt = _BY_LONG.get(name)
            if opt is None:
                if name in _REMOVED:
                    raise UsageError(f"Option '{name}' was removed from Falco: {_REMOVED[name]}")
                raise UsageError(f"Option '{name}' does not exist")
            if opt.takes_value:
                if eq:
                    val = value
                elif opt.implicit:
                    val = ""
                else:
                    if i >= len(argv):
                        raise UsageError(f"Option '{name}' is missing an argument")
                    val = argv[i]
                    i += 1
            else:
                if eq:
                    raise UsageError(f"Option '{name}' does not take an argument")
                val = ""
            args.values.setdefault(opt.long, []).append(val)
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                ch = a[j]
                opt = _BY_SHORT.get(ch)
                if opt is None:
                    raise UsageError(f"Option '{ch}' does not exist")
                if opt.takes_value:
                    if j + 1 < len(a):
                        val = a[j + 1:]
                    elif i < len(argv):
                        val = argv[i]
                        i += 1
                    else:
                        raise UsageError(f"Option '{ch}' is missing an argument")
                    args.values.setdefault(opt.long, []).append(val)
                    break
                args.values.setdefault(opt.long, []).append("")
                j += 1
        else:
            raise UsageError(f"Unexpected positional argument '{a}'")
    for name, vals in args.values.items():
        if _BY_LONG[name].integer:
            for v in vals:
                parse_int(v)
        if len(vals) > 1 and not _BY_LONG[name].repeat and _BY_LONG[name].takes_value:
            raise UsageError(f"Option '{name}' specified more than once")
    return args


def usage() -> str:
    lines = ["lanner - runtime security for Linux hosts, containers and Kubernetes (Falco-compatible)",
             "Usage:", "  lanner [OPTION...]",
             "  lanner [OPTION...] -o engine.kind=userspace -- CMD [ARGS...] (trace CMD without kernel access)",
             "  lanner test PATH... (rule tests)",
             "  lanner console [--help] (alert console)", "  lanner tune ALERTS... -r RULES... --out FILE (noise tuner)", ""]
    for o in OPTIONS:
        left = (f"-{o.short}, " if o.short else "    ") + f"--{o.long}"
        if o.takes_value:
            left += (o.metavar if o.implicit else " " + (o.metavar or "arg"))
        lines.append(f"  {left:<38} {o.help}")
    return "\n".join(lines) + "\n"
