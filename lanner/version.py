"""Versions lanner reports: its own, and the Falco-compatible ones rules files check against."""

LANNER_VERSION = "0.1.0"
# Rules files state `required_engine_version`; upstream needs major 0, minor >= 57.
ENGINE_VERSION = (0, 63, 0)
ENGINE_VERSION_STR = "%d.%d.%d" % ENGINE_VERSION
# The Falco release whose behaviour lanner reproduces (reported by --version and /versions).
FALCO_COMPAT_VERSION = "0.44.1"
LIBS_COMPAT_VERSION = "0.25.0"
PLUGIN_API_VERSION = "3.12.0"
DRIVER_API_VERSION = "9.0.0"
DRIVER_SCHEMA_VERSION = "4.0.0"
