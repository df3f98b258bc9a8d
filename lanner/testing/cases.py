"""Test-case files for ``lanner test``: reading and checking them.

A case file is YAML: either a list of cases, or a mapping with optional ``rules`` (file(s) or
directories, relative to the case file; default: lanner's packaged default rules) and ``cases``::

    rules: my_rules.yaml
    cases:
      - name: cat reads the shadow file
        input:
          host: cat /etc/shadow > /dev/null      # sh script, run in a fresh temp dir on this host
        expect:
          - rule: Read Shadow or Sudoers File
            fields: {proc.name: cat, fd.name: /etc/shadow}
        forbid: [Write Below Etc]                 # "*" = no alert at all may fire

Inputs (exactly one): ``host`` (script run by ``sh`` in a temp dir, live capture), ``container``
(script run by ``sh`` in a throwaway container from a local busybox image; ``container_options`` adds
``docker run`` options, ``tty: true`` runs it under ``docker exec -t``, ``as_command: true`` makes it the
container's own command, pid 1, instead of a ``docker exec``), ``capture`` (a .scap file),
``audit`` (a Kubernetes audit JSON file, or the audit events inline as a list).

A live scenario must run as written: when its script exits with another status than expected (or times
out) the case is an ERROR, never a pass, because a must-not-fire case whose scenario did not run
proves nothing. The expected status is 0 unless ``expect_exit`` says otherwise: a number, a list of
numbers, or ``any`` (the status is not checked; ``check: false`` means the same, ``check: true`` the
default).

``pending: <why>`` marks a case that cannot pass yet because of a known gap: its failure is reported
as PENDING (never as a pass) and the rule is not counted as covered. Top-level keys starting with
``x-`` are ignored (a place for YAML anchors shared by cases).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from lanner.core.errors import LannerError

INPUT_KINDS = ("host", "container", "capture", "audit")
_CASE_KEYS = {"name", "rules", "input", "expect", "forbid", "timeout", "description", "pending"}
_INPUT_KEYS = set(INPUT_KINDS) | {"container_options", "tty", "image", "as_command", "check", "expect_exit"}


class CaseError(LannerError):
    """A case file is unreadable or malformed; the message names the file and the case."""


@dataclass
class Expectation:
    rule: str
    fields: dict[str, str] = field(default_factory=dict)
    count: int = 1                    # at least this many alerts of the rule


@dataclass
class Case:
    name: str
    file: str
    index: int
    rules: tuple[str, ...]            # resolved paths; empty = packaged default rules
    kind: str
    script: str = ""                  # host / container
    path: str = ""                    # capture / audit file
    audit_events: list[Any] | None = None
    container_options: tuple[str, ...] = ()
    tty: bool = False
    as_command: bool = False          # container: the script is the container's command (pid 1)
    exit_codes: tuple[int, ...] | None = (0,)   # the statuses the script may exit with; None = any
    image: str = ""
    expect: list[Expectation] = field(default_factory=list)
    forbid: tuple[str, ...] = ()
    timeout: float = 20.0
    pending: str = ""                 # known gap: a failure is reported as pending, not as a pass

    @property
    def where(self) -> str:
        return f"{self.file}: case {self.index + 1} ({self.name})"

    @property
    def live(self) -> bool:
        return self.kind in ("host", "container")

    def exit_expected(self, status: int) -> bool:
        """True when a scenario that exited with ``status`` ran as the case says it should."""
        return self.exit_codes is None or status in self.exit_codes


_RULES_KEYS = {"rule", "macro", "list", "required_engine_version", "required_plugin_versions"}


def is_rules_file(path: str) -> bool:
    """True for a rules file (a list of rule/macro/list items) found next to case files."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(doc, list) and bool(doc) and all(isinstance(x, dict) and _RULES_KEYS & set(x) for x in doc)


def find_case_files(paths: list[str]) -> list[str]:
    """Case files named on the command line; directories give their *.yaml/*.yml files, recursively,
    except rules files kept beside them."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                out.extend(os.path.join(root, f) for f in sorted(files)
                           if f.endswith((".yaml", ".yml")) and not is_rules_file(os.path.join(root, f)))
        elif os.path.isfile(p):
            out.append(p)
        else:
            raise CaseError(f"{p}: no such file or directory")
    return out


def _rules_paths(value: Any, base: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
        raise CaseError(f"{where}: 'rules' must be a path or a list of paths")
    out = []
    for x in items:
        p = x if os.path.isabs(x) else os.path.normpath(os.path.join(base, x))
        if not os.path.exists(p):
            raise CaseError(f"{where}: rules path {x!r} does not exist (resolved to {p})")
        out.append(p)
    return tuple(out)


def load_case_file(path: str) -> list[Case]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise CaseError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise CaseError(f"{path}:{at} YAML error: {getattr(e, 'problem', e)}") from None
    base = os.path.dirname(os.path.abspath(path))
    default_rules: tuple[str, ...] = ()
    if isinstance(doc, dict):
        unknown = {k for k in doc if not str(k).startswith("x-")} - {"rules", "cases"}
        if unknown:
            raise CaseError(f"{path}: unknown top-level key(s): {', '.join(sorted(unknown))} (expected rules, cases)")
        default_rules = _rules_paths(doc.get("rules"), base, path)
        doc = doc.get("cases")
    if not isinstance(doc, list) or not doc:
        raise CaseError(f"{path}: expected a non-empty list of cases (or a mapping with 'cases')")
    return [_case(item, i, path, base, default_rules) for i, item in enumerate(doc)]


def _case(item: Any, i: int, path: str, base: str, default_rules: tuple[str, ...]) -> Case:
    where = f"{path}: case {i + 1}"
    if not isinstance(item, dict):
        raise CaseError(f"{where}: a case must be a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CaseError(f"{where}: 'name' is required")
    where = f"{where} ({name})"
    unknown = set(item) - _CASE_KEYS
    if unknown:
        raise CaseError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    rules = _rules_paths(item["rules"], base, where) if "rules" in item else default_rules
    inp = item.get("input")
    if not isinstance(inp, dict):
        raise CaseError(f"{where}: 'input' must be a mapping with one of: {', '.join(INPUT_KINDS)}")
    unknown = set(inp) - _INPUT_KEYS
    if unknown:
        raise CaseError(f"{where}: unknown input key(s): {', '.join(sorted(unknown))}")
    kinds = [k for k in INPUT_KINDS if k in inp]
    if len(kinds) != 1:
        raise CaseError(f"{where}: 'input' needs exactly one of {', '.join(INPUT_KINDS)} (got {kinds or 'none'})")
    kind = kinds[0]
    case = Case(name.strip(), path, i, rules, kind)
    val = inp[kind]
    if kind in ("host", "container"):
        if not isinstance(val, str) or not val.strip():
            raise CaseError(f"{where}: input.{kind} must be a non-empty shell script")
        case.script = val
        opts = inp.get("container_options", [])
        if not isinstance(opts, list) or not all(isinstance(o, str) for o in opts):
            raise CaseError(f"{where}: input.container_options must be a list of strings")
        case.container_options = tuple(opts)
        case.tty = bool(inp.get("tty", False))
        case.as_command = bool(inp.get("as_command", False))
        case.exit_codes = _exit_codes(inp, where)
        case.image = str(inp.get("image", "") or "")
    elif kind == "capture":
        if not isinstance(val, str):
            raise CaseError(f"{where}: input.capture must be a file path")
        case.path = val if os.path.isabs(val) else os.path.join(base, val)
    else:
        if isinstance(val, str):
            case.path = val if os.path.isabs(val) else os.path.join(base, val)
        elif isinstance(val, (list, dict)):
            case.audit_events = val if isinstance(val, list) else [val]
        else:
            raise CaseError(f"{where}: input.audit must be a file path or a list of audit events")
    case.expect = _expectations(item.get("expect", []), where)
    forbid = item.get("forbid", [])
    if isinstance(forbid, str):
        forbid = [forbid]
    if not isinstance(forbid, list) or not all(isinstance(x, str) for x in forbid):
        raise CaseError(f"{where}: 'forbid' must be a list of rule names")
    case.forbid = tuple(forbid)
    if not case.expect and not case.forbid:
        raise CaseError(f"{where}: give 'expect' and/or 'forbid'")
    clash = {e.rule for e in case.expect} & set(case.forbid)
    if clash:
        raise CaseError(f"{where}: rule(s) both expected and forbidden: {', '.join(sorted(clash))}")
    timeout = item.get("timeout", 20)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise CaseError(f"{where}: 'timeout' must be a positive number of seconds")
    case.timeout = float(timeout)
    pending = item.get("pending", "")
    if not isinstance(pending, str):
        raise CaseError(f"{where}: 'pending' must be a text saying what is missing")
    case.pending = pending.strip()
    return case


def _exit_codes(inp: dict[str, Any], where: str) -> tuple[int, ...] | None:
    if "expect_exit" in inp and "check" in inp:
        raise CaseError(f"{where}: give either input.expect_exit or input.check, not both")
    if "check" in inp:
        if not isinstance(inp["check"], bool):
            raise CaseError(f"{where}: input.check must be true or false")
        return (0,) if inp["check"] else None
    value = inp.get("expect_exit", 0)
    if value == "any":
        return None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255 for x in items):
        raise CaseError(f"{where}: input.expect_exit must be an exit status (0-255), a list of them, or 'any'")
    return tuple(items)


def _expectations(value: Any, where: str) -> list[Expectation]:
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise CaseError(f"{where}: 'expect' must be a list")
    out = []
    for j, e in enumerate(value):
        if isinstance(e, str):
            out.append(Expectation(e))
            continue
        if not isinstance(e, dict) or not isinstance(e.get("rule"), str):
            raise CaseError(f"{where}: expect[{j}] must be a rule name or a mapping with 'rule'")
        unknown = set(e) - {"rule", "fields", "count"}
        if unknown:
            raise CaseError(f"{where}: expect[{j}]: unknown key(s): {', '.join(sorted(unknown))}")
        fields = e.get("fields", {}) or {}
        if not isinstance(fields, dict):
            raise CaseError(f"{where}: expect[{j}].fields must be a mapping of field name to value")
        count = e.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise CaseError(f"{where}: expect[{j}].count must be a positive integer")
        out.append(Expectation(e["rule"], {str(k): _text(v) for k, v in fields.items()}, count))
    return out


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
