"""What lanner reports about itself: ``--version`` (text and JSON), ``/versions``, ``--support``."""

from __future__ import annotations

import platform

import orjson

from lanner import version as V
from lanner.compiled.hook import summary


def version_info() -> dict[str, str]:
    """The ``/versions`` object (also ``--version`` in JSON mode)."""
    return {
        "default_driver_version": V.DRIVER_API_VERSION,
        "driver_api_version": V.DRIVER_API_VERSION,
        "driver_schema_version": V.DRIVER_SCHEMA_VERSION,
        "engine_version": str(V.ENGINE_VERSION[1]),
        "engine_version_semver": V.ENGINE_VERSION_STR,
        "falco_version": V.FALCO_COMPAT_VERSION,
        "lanner_version": V.LANNER_VERSION,
        "libs_version": V.LIBS_COMPAT_VERSION,
        "plugin_api_version": V.PLUGIN_API_VERSION,
    }


def version_text() -> str:
    return (f"lanner version: {V.LANNER_VERSION} (Falco-compatible {V.FALCO_COMPAT_VERSION})\n"
            f"Libs version:  {V.LIBS_COMPAT_VERSION}\n"
            f"Plugin API:    {V.PLUGIN_API_VERSION}\n"
            f"Engine:        {V.ENGINE_VERSION_STR}\n"
            "Driver:\n"
            f"  API version:    {V.DRIVER_API_VERSION}\n"
            f"  Schema version: {V.DRIVER_SCHEMA_VERSION}\n"
            f"  Default driver: {V.DRIVER_API_VERSION}+lanner-ebpf\n"
            f"Hot path:      {summary()}\n")


def system_info() -> dict[str, str]:
    u = platform.uname()
    return {"machine": u.machine, "nodename": u.node, "release": u.release, "sysname": u.system,
            "version": u.version}


def dumps(obj: object) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
