"""Channels from falco.yaml keys, in Falco's fixed order: file, stdout, syslog, program, http, grpc."""

from __future__ import annotations

import logging
import os

from lanner.config import Config
from lanner.core.errors import HttpError
from lanner.filemodes import DEFAULT_FILE_MODE, DEFAULT_SOCKET_MODE, parse_mode
from lanner.outputs.channels.base import Channel, ChannelError
from lanner.outputs.format import AlertFormatter
from lanner.outputs.httpclient import TlsOptions

log = logging.getLogger("lanner.outputs")


def file_mode(config: Config) -> int:
    """``security.file_mode``; a bad value is a ModeError (a ConfigError naming the key)."""
    return parse_mode(config.raw("security.file_mode"), "security.file_mode", DEFAULT_FILE_MODE)


def socket_mode(config: Config) -> int:
    """``security.socket_mode``; a bad value is a ModeError (a ConfigError naming the key)."""
    return parse_mode(config.raw("security.socket_mode"), "security.socket_mode", DEFAULT_SOCKET_MODE)


def _ms(config: Config, key: str, default: int) -> float | None:
    v = config.int(key, default)
    return v / 1000.0 if v > 0 else None


def _http(config: Config, formatter: AlertFormatter, buffered: bool) -> Channel:
    from lanner.outputs.channels.http import HttpChannel

    mtls = config.bool("http_output.mtls", False)
    tls = TlsOptions(
        insecure=config.bool("http_output.insecure", False),
        ca_cert=config.str("http_output.ca_cert", ""),
        ca_bundle=config.str("http_output.ca_bundle", ""),
        ca_path=config.str("http_output.ca_path", "/etc/ssl/certs"),
        client_cert=config.str("http_output.client_cert", "/etc/ssl/certs/client.crt") if mtls else "",
        client_key=config.str("http_output.client_key", "/etc/ssl/certs/client.key") if mtls else "",
    )
    return HttpChannel(
        config.str("http_output.url", ""), json_output=formatter.json_output,
        user_agent=config.str("http_output.user_agent", "falcosecurity/falco"), tls=tls,
        echo=config.bool("http_output.echo", False),
        compress_uploads=config.bool("http_output.compress_uploads", False),
        keep_alive=config.bool("http_output.keep_alive", False),
        max_consecutive_timeouts=config.int("http_output.max_consecutive_timeouts", 5),
        connect_timeout=_ms(config, "http_output.connect_timeout_ms", 10000),
        timeout=_ms(config, "http_output.timeout_ms", 10000))


def _grpc(config: Config, formatter: AlertFormatter) -> Channel:
    from lanner.outputs.channels.grpc_output import GrpcChannel, GrpcServer, ResponseQueue

    log.warning("Using deprecated gRPC server/output (removed in Falco 0.44.0); lanner still provides it")
    server = GrpcServer(
        config.str("grpc.bind_address", "0.0.0.0:5060"), threadiness=config.int("grpc.threadiness", 0),
        private_key=config.str("grpc.private_key", "/etc/falco/certs/server.key"),
        cert_chain=config.str("grpc.cert_chain", "/etc/falco/certs/server.crt"),
        root_certs=config.str("grpc.root_certs", "/etc/falco/certs/ca.crt"),
        queue=ResponseQueue(config.int("grpc_output.max_queued", 0)), socket_mode=socket_mode(config))
    server.start()
    return GrpcChannel(server, formatter.hostname)


def _webui(config: Config) -> Channel:
    from lanner.console.channel import ConsoleChannel  # the agent's alert console store (webui.*)
    return ConsoleChannel(config)


def build_channels(config: Config, formatter: AlertFormatter, buffered: bool) -> tuple[list[Channel], bool]:
    """The enabled channels that could be set up, and whether any was enabled at all."""
    from lanner.outputs.channels.file import FileChannel
    from lanner.outputs.channels.program import ProgramChannel
    from lanner.outputs.channels.stdout import StdoutChannel
    from lanner.outputs.channels.syslog import SyslogChannel

    makers = [
        ("file_output", lambda: FileChannel(config.str("file_output.filename", ""),
                                            keep_alive=config.str("file_output.keep_alive", "false") == "true",
                                            buffered=buffered, mode=file_mode(config))),
        ("stdout_output", lambda: StdoutChannel(buffered=buffered)),
        ("syslog_output", lambda: SyslogChannel(
            socket_path=config.str("syslog_output.socket", os.environ.get("LANNER_SYSLOG_SOCKET", "/dev/log")),
            facility=config.str("syslog_output.facility", "user"),
            ident=config.str("syslog_output.ident", "falco"))),
        ("program_output", lambda: ProgramChannel(config.str("program_output.program", ""),
                                                  keep_alive=config.bool("program_output.keep_alive", False),
                                                  buffered=buffered)),
        ("http_output", lambda: _http(config, formatter, buffered)),
        ("webui", lambda: _webui(config)),
    ]
    channels: list[Channel] = []
    enabled_any = False
    for key, make in makers:
        if not config.bool(f"{key}.enabled", False):
            continue
        enabled_any = True
        try:
            channels.append(make())
        except (ChannelError, HttpError, OSError) as e:
            log.error("Failed to init output: %s", e)
    if config.bool("grpc.enabled", False) and config.bool("grpc_output.enabled", True):
        enabled_any = True
        try:
            channels.append(_grpc(config, formatter))
        except (ChannelError, OSError) as e:
            log.critical("Error starting gRPC server: %s", e)
    return channels, enabled_any
