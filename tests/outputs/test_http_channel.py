"""http_output against a loopback HTTP(S) server: headers, body, TLS with a test CA, mutual TLS."""

from __future__ import annotations

import io

import pytest

from lanner.config import Config
from lanner.outputs.channels.base import ChannelError
from lanner.outputs.channels.http import HttpChannel, unquote_url
from lanner.outputs.format import AlertFormatter
from lanner.outputs.httpclient import TlsOptions
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import Behaviour, Pki, RecordingServer, make_alert, server_tls


def test_posts_message_exactly_with_falco_headers(http_server: RecordingServer) -> None:
    p = OutputPipeline.from_config(Config(data={
        "json_output": True, "http_output": {"enabled": True, "url": f'"{http_server.url}/falco"'}}),
        AlertFormatter(json_output=True, hostname="node1"))
    p.submit(make_alert(1))
    p.submit(make_alert(2))
    p.close()
    reqs = http_server.wait_for(2)
    assert [r.method for r in reqs] == ["POST", "POST"] and reqs[0].path == "/falco"
    assert reqs[0].headers["Content-Type"] == "application/json"
    assert reqs[0].headers["User-Agent"] == "falcosecurity/falco"
    assert reqs[0].json()["output_fields"]["n"] == 1 and reqs[1].json()["output_fields"]["n"] == 2
    assert not reqs[0].body.endswith(b"\n")


def test_text_mode_and_status_not_checked(http_server: RecordingServer) -> None:
    http_server.behaviour = Behaviour(status=500, response=b"nope")
    echo = io.BytesIO()
    ch = HttpChannel(http_server.url, user_agent="ua/1", echo=True, echo_stream=echo)
    ch.deliver(make_alert(), "12:00:00.000000000: Warning hi")
    assert ch.last_status == 500 and echo.getvalue() == b"nope"
    r = http_server.wait_for(1)[0]
    assert r.headers["Content-Type"] == "text/plain" and r.headers["User-Agent"] == "ua/1"
    assert r.body == b"12:00:00.000000000: Warning hi"


def test_unquote_url() -> None:
    assert unquote_url("'http://a/b'") == "http://a/b"
    assert unquote_url('"http://a/\\"q\\"\\\\"') == 'http://a/"q"\\'
    assert unquote_url("http://a/'b'") == "http://a/'b'"


def test_tls_verification_with_test_ca(pki: Pki) -> None:
    srv = RecordingServer(tls=server_tls(pki))
    try:
        HttpChannel(srv.url + "/a", tls=TlsOptions(ca_cert=str(pki.ca))).deliver(make_alert(), "m1")
        HttpChannel(srv.url + "/b", tls=TlsOptions(ca_bundle=str(pki.ca))).deliver(make_alert(), "m2")
        HttpChannel(srv.url + "/c", tls=TlsOptions(insecure=True, ca_cert=str(pki.other_ca))).deliver(make_alert(), "m3")
        with pytest.raises(ChannelError, match="libcurl failed to perform call: .*CERTIFICATE_VERIFY_FAILED"):
            HttpChannel(srv.url + "/d", tls=TlsOptions(ca_cert=str(pki.other_ca))).deliver(make_alert(), "m4")
        assert [r.path for r in srv.wait_for(3)] == ["/a", "/b", "/c"]
    finally:
        srv.stop()


def test_mutual_tls(pki: Pki) -> None:
    srv = RecordingServer(tls=server_tls(pki, require_client=True))
    try:
        p = OutputPipeline.from_config(Config(data={"http_output": {
            "enabled": True, "url": srv.url + "/m", "ca_cert": str(pki.ca), "mtls": True,
            "client_cert": str(pki.client_cert), "client_key": str(pki.client_key)}}))
        p.submit(make_alert())
        p.close()
        r = srv.wait_for(1)[0]
        assert dict(x[0] for x in r.client_cert["subject"])["commonName"] == "client"
        no_cert = HttpChannel(srv.url + "/x", tls=TlsOptions(ca_cert=str(pki.ca)), max_consecutive_timeouts=0)
        with pytest.raises(ChannelError, match="libcurl failed"):
            no_cert.deliver(make_alert(), "m")
        assert len(srv.requests) == 1
    finally:
        srv.stop()


def test_timeouts_are_retried_max_consecutive_times(http_server: RecordingServer) -> None:
    http_server.behaviour = Behaviour(delay=0.5)
    ch = HttpChannel(http_server.url, timeout=0.1, max_consecutive_timeouts=2)
    with pytest.raises(ChannelError, match="timed out"):        # the server answers after 0.5 s: 0.1 s timeouts
        ch.deliver(make_alert(), "m")
    assert len(http_server.wait_for(3)) == 3          # 1 try + 2 retries


def test_connection_refused_is_an_error_and_reuse_works(http_server: RecordingServer) -> None:
    ch = HttpChannel("http://127.0.0.1:1/x")
    with pytest.raises(ChannelError, match="cannot connect"):
        ch.deliver(make_alert(), "m")
    ch2 = HttpChannel(http_server.url, compress_uploads=True, keep_alive=True)
    for i in range(3):
        ch2.deliver(make_alert(), f"m{i}")
    reqs = http_server.wait_for(3)
    assert reqs[0].headers["TE"] == "gzip" and [r.body for r in reqs] == [b"m0", b"m1", b"m2"]
