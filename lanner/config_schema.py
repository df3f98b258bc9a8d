"""Which ``falco.yaml`` keys exist, and what lanner does with each: the start-up check of a configuration.

Falco 0.44 validates every configuration file against its schema, prints one verdict per file
(``schema validation: ok`` or ``failed for <root>[a][b]: <reason>``) and then carries on: an unknown or
misspelt key is never fatal. lanner does the same, and also says, once per key, what it will do about
each key it does not act on: a typo (with the nearest known key), a key an older Falco release read
(with the key that replaced it), or a key Falco 0.44 reads that lanner does not implement.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

# Leaf types: bool, int, num, str, list, map (free-form mapping), any. A nested dict is a closed mapping.
_OUTPUT = {"enabled": "bool"}
FALCO_KEYS: dict[str, Any] = {
    "append_output": "list",
    "base_syscalls": {"all": "bool", "custom_set": "list", "repair": "bool"},
    "buffer_format_base64": "bool",
    "buffered_outputs": "bool",
    "capture": {"default_duration": "int", "enabled": "bool", "max_file_size_mb": "int", "mode": "str",
                "path_prefix": "str"},
    "config_files": "list",
    "container_engines": "map",
    "engine": {"kind": "str",
               "kmod": {"buf_size_preset": "int", "drop_failed_exit": "bool"},
               "modern_ebpf": {"buf_size_preset": "int", "cpus_for_each_buffer": "int",
                               "disable_iterators": "bool", "drop_failed_exit": "bool"},
               "replay": {"capture_file": "str"}},
    "falco_libs": {"snaplen": "int", "thread_table_auto_purging_interval_s": "int",
                   "thread_table_auto_purging_thread_timeout_s": "int", "thread_table_size": "int"},
    "file_output": {"enabled": "bool", "filename": "str", "keep_alive": "bool"},
    "http_output": {"ca_bundle": "str", "ca_cert": "str", "ca_path": "str", "client_cert": "str",
                    "client_key": "str", "compress_uploads": "bool", "echo": "bool", "enabled": "bool",
                    "insecure": "bool", "keep_alive": "bool", "max_consecutive_timeouts": "int", "mtls": "bool",
                    "url": "str", "user_agent": "str"},
    "json_include_message_property": "bool",
    "json_include_output_fields_property": "bool",
    "json_include_output_property": "bool",
    "json_include_tags_property": "bool",
    "json_output": "bool",
    "libs_logger": {"enabled": "bool", "severity": "str"},
    "load_plugins": "list",
    "log_level": "str",
    "log_stderr": "bool",
    "log_syslog": "bool",
    "metrics": {"convert_memory_to_mb": "bool", "enabled": "bool", "include_empty_values": "bool",
                "interval": "str", "jemalloc_stats_enabled": "bool", "kernel_event_counters_enabled": "bool",
                "kernel_event_counters_per_cpu_enabled": "bool", "kernel_iter_event_counters_enabled": "bool",
                "libbpf_stats_enabled": "bool", "output_file": "str", "output_rule": "bool",
                "plugins_metrics_enabled": "bool", "resource_utilization_enabled": "bool",
                "rules_counters_enabled": "bool", "state_counters_enabled": "bool"},
    "output_timeout": "int",
    "outputs_queue": {"capacity": "int"},
    "plugins": "list",
    "plugins_hostinfo": "bool",
    "priority": "str",
    "program_output": {"enabled": "bool", "keep_alive": "bool", "program": "str"},
    "rule_files": "list",
    "rule_matching": "str",
    "rules": "list",
    "rules_files": "list",
    "static_fields": "map",
    "stdout_output": _OUTPUT,
    "syscall_event_drops": {"actions": "list", "max_burst": "int", "rate": "num", "simulate_drops": "bool",
                            "threshold": "num"},
    "syscall_event_timeouts": {"max_consecutives": "int"},
    "syslog_output": _OUTPUT,
    "time_format_iso_8601": "bool",
    "watch_config_files": "bool",
    "webserver": {"enabled": "bool", "k8s_healthz_endpoint": "str", "listen_address": "str",
                  "listen_port": "int", "prometheus_metrics_enabled": "bool", "ssl_certificate": "str",
                  "ssl_enabled": "bool", "threadiness": "int"},
}

# lanner's own keys (documented in docs/): accepted beside Falco's.
LANNER_KEYS: dict[str, Any] = {
    "fanout": "any",
    "fanout_close_timeout_ms": "int",
    "falcosidekick_config": "str",
    "grpc": {"enabled": "bool", "bind_address": "str", "threadiness": "int", "private_key": "str",
             "cert_chain": "str", "root_certs": "str"},
    "grpc_output": {"enabled": "bool", "max_queued": "int"},
    "outputs": {"rate": "num", "max_burst": "num"},
    "outputs_queue": {"channel_capacity": "int", "flush_timeout_ms": "int"},
    "security": {"drop_capabilities": "bool", "file_mode": "str", "socket_mode": "str"},
    "http_output": {"timeout_ms": "int", "connect_timeout_ms": "int"},
    "syslog_output": {"facility": "any", "ident": "str", "socket": "str"},
    "engine": {"modern_ebpf": {"attach": "any", "kernel_filter": "bool", "open_pushdown": "bool"},
               "userspace": {"pids": "any"}},
    "rules_file": "list",
    "webui": {"enabled": "bool", "path": "str", "store": "str", "token": "str", "user": "str", "password": "str",
              "retention": {"max_age": "any", "max_alerts": "int"}, "queue_capacity": "int"},
}

# Keys Falco 0.44 reads that lanner does not act on (dotted; a prefix covers its subtree).
NOT_IMPLEMENTED = (
    "libs_logger", "plugins_hostinfo", "rule_files", "engine.kmod", "engine.modern_ebpf.cpus_for_each_buffer",
    "engine.modern_ebpf.disable_iterators", "metrics.jemalloc_stats_enabled", "metrics.libbpf_stats_enabled",
    "metrics.kernel_event_counters_per_cpu_enabled", "metrics.kernel_iter_event_counters_enabled",
)

# Keys an older Falco read (0.2x-0.43) and 0.44 does not: what replaced them.
LEGACY_KEYS = {
    "syscall_buf_size_preset": "engine.modern_ebpf.buf_size_preset (or engine.kmod.buf_size_preset)",
    "syscall_drop_failed_exit": "engine.modern_ebpf.drop_failed_exit (or engine.kmod.drop_failed_exit)",
    "modern_bpf": "engine.modern_ebpf (cpus_for_each_syscall_buffer is now cpus_for_each_buffer)",
    "metadata_download": "nothing: Kubernetes metadata comes from the k8smeta plugin since Falco 0.37",
    "outputs_queue.recovery": "nothing: a full queue drops alerts and counts them since Falco 0.37",
    "webserver.k8s_audit_endpoint": "the k8saudit plugin's open_params",
    "engine.ebpf": "engine.modern_ebpf (the legacy eBPF probe is gone in Falco 0.44)",
    "engine.gvisor": "nothing: the gVisor engine is gone in Falco 0.44",
}


@dataclass(frozen=True)
class KeyNote:
    """One thing said at start-up about a key of one file."""
    key: str
    kind: str            # unknown | legacy | not_implemented | type
    message: str


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(out.get(k), dict) and isinstance(v, dict):
            out[k] = _merge(out[k], v)
        else:
            out.setdefault(k, v)
    return out


KNOWN: dict[str, Any] = _merge(FALCO_KEYS, LANNER_KEYS)


def _all_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        p = f"{prefix}{k}"
        out.append(p)
        if isinstance(v, dict):
            out.extend(_all_paths(v, p + "."))
    return out


ALL_PATHS = tuple(_all_paths(KNOWN))


def _type_ok(kind: str, value: Any) -> bool:
    if value is None or kind in ("any",):
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "num":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list)
    if kind == "map":
        return isinstance(value, dict)
    return True


def _context(path: list[str]) -> str:
    return "<root>" + "".join(f"[{p}]" for p in path)


def schema_failures(doc: Any, tree: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """Every schema failure of one file as ``(context, reason)``, in the order Falco's validator meets
    them: the known properties of a mapping (alphabetically, each checked in depth) before the mapping's
    own unknown properties (in file order)."""
    tree = KNOWN if tree is None else tree
    out: list[tuple[str, str]] = []
    if not isinstance(doc, dict):
        return [("<root>", "Value type not permitted by 'type' constraint.")] if doc is not None else []
    _walk(doc, tree, [], out)
    return out


def _walk(node: dict[str, Any], tree: dict[str, Any], path: list[str], out: list[tuple[str, str]]) -> None:
    for k in sorted(k for k in node if k in tree):
        spec, value = tree[k], node[k]
        if isinstance(spec, dict):
            if isinstance(value, dict):
                _walk(value, spec, [*path, k], out)
            elif value is not None:
                out.append((_context([*path, k]), "Value type not permitted by 'type' constraint."))
        elif not _type_ok(spec, value):
            out.append((_context([*path, k]), "Value type not permitted by 'type' constraint."))
    for k in node:
        if k not in tree:
            out.append((_context(path), "Object contains a property that could not be validated using "
                                        f"'properties' or 'additionalProperties' constraints: '{k}'."))


def schema_verdict(doc: Any) -> str:
    """The text after ``schema validation:`` for one configuration file, as Falco prints it."""
    fails = schema_failures(doc)
    if not fails:
        return "ok"
    ctx, reason = fails[0]
    return f"failed for {ctx}: {reason}"


def nearest_key(key: str) -> str | None:
    """The known dotted key closest to ``key`` (siblings first, then any key with a similar last part)."""
    parent, _, last = key.rpartition(".")
    siblings = [p for p in ALL_PATHS if p.rpartition(".")[0] == parent]
    near = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if near:
        return near[0]
    by_last = {p.rpartition(".")[2]: p for p in ALL_PATHS}
    near = difflib.get_close_matches(last, list(by_last), n=1, cutoff=0.75)
    return by_last[near[0]] if near else None


def key_notes(doc: Any) -> list[KeyNote]:
    """What lanner says, once per key, about the keys of one file it does not act on."""
    notes: list[KeyNote] = []
    if isinstance(doc, dict):
        _notes(doc, KNOWN, [], notes)
    return notes


def _not_implemented(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in NOT_IMPLEMENTED)


def _notes(node: dict[str, Any], tree: dict[str, Any], path: list[str], out: list[KeyNote]) -> None:
    for k, value in node.items():
        key = ".".join([*path, str(k)])
        if k in tree:
            if _not_implemented(key):
                out.append(KeyNote(key, "not_implemented",
                                   f"Configuration key '{key}' is read by Falco but not implemented by lanner: "
                                   "ignored"))
                continue
            spec = tree[k]
            if isinstance(spec, dict) and isinstance(value, dict):
                _notes(value, spec, [*path, str(k)], out)
            continue
        if key in LEGACY_KEYS:
            out.append(KeyNote(key, "legacy", f"Configuration key '{key}' of an older Falco release is not read "
                                              f"by Falco 0.44 nor lanner: ignored; use {LEGACY_KEYS[key]}"))
            continue
        near = nearest_key(key)
        hint = f" (did you mean '{near}'?)" if near else ""
        out.append(KeyNote(key, "unknown", f"Unknown configuration key '{key}'{hint}: ignored"))
