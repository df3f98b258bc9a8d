"""lanner's own log lines, the way Falco writes them: stderr (``log_stderr``) with a timestamp prefix and
syslog (``log_syslog``), filtered by ``log_level``."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time

from lanner.config import Config, ConfigError

LEVELS = {"emergency": logging.CRITICAL + 10, "alert": logging.CRITICAL + 5, "critical": logging.CRITICAL,
          "error": logging.ERROR, "warning": logging.WARNING, "notice": logging.INFO + 5, "info": logging.INFO,
          "debug": logging.DEBUG}


class _FalcoFormatter(logging.Formatter):
    def __init__(self, iso: bool) -> None:
        super().__init__()
        self.iso = iso

    def format(self, record: logging.LogRecord) -> str:
        t = record.created
        if self.iso:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t))
        else:
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(t))
        return f"{stamp}: {record.getMessage()}"


def setup_logging(config: Config) -> None:
    level_name = config.str("log_level", "info")
    if level_name not in LEVELS:
        raise ConfigError(f"Unknown log level {level_name}")
    logger = logging.getLogger("lanner")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    logger.setLevel(LEVELS[level_name])
    logger.propagate = False
    if config.bool("log_stderr", False):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(_FalcoFormatter(config.bool("time_format_iso_8601", False)))
        logger.addHandler(h)
    if config.bool("log_syslog", True) and os.path.exists("/dev/log"):
        try:
            sh = logging.handlers.SysLogHandler(address="/dev/log")
            sh.setFormatter(logging.Formatter("lanner: %(message)s"))
            logger.addHandler(sh)
        except OSError:
            pass
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
