"""The audit webhook over real HTTP on 127.0.0.1: accepted bodies become events; bad requests get 4xx
and the server keeps serving."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import threading

import orjson
import pytest

from lanner.events.base import PluginEvent
from lanner.fields import k8saudit as ka
from lanner.sources.api import SourceError
from lanner.sources.k8saudit import K8sAuditPlugin
from lanner.sources.k8saudit.webhook import parse_url
from tests.conftest import require_tool, shared_path


class Running:
    """A plugin opened on an ephemeral port, its events collected by a reader thread."""

    def __init__(self, init=None, path="/k8s-audit", scheme="http") -> None:
        self.plugin = K8sAuditPlugin()
        self.plugin.init(init or {})
        self.it = self.plugin.open(f"{scheme}://127.0.0.1:0{path}")
        self.port = self.plugin.webhook.bound_port
        self.events: list[PluginEvent] = []
        self._stop = threading.Event()
        self._cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self) -> None:
        for e in self.it:
            if e is not None:
                with self._cv:
                    self.events.append(e)
                    self._cv.notify_all()
            if self._stop.is_set():
                return

    def wait_for(self, n: int, timeout: float = 30.0) -> list[PluginEvent]:
        with self._cv:
            self._cv.wait_for(lambda: len(self.events) >= n, timeout)
            return list(self.events)

    def close(self) -> None:
        self._stop.set()
        self.t.join(3)
        self.plugin.close()


@pytest.fixture
def hook():
    r = Running({"webhookMaxBatchSize": 64 * 1024})
    yield r
    r.close()


def post(port: int, body: bytes, ctype: str = "application/json", path: str = "/k8s-audit",
         method: str = "POST", ctx: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    if ctx is None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    else:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    try:
        headers = {"Content-Type": ctype} if ctype else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_event_and_eventlist_bodies(hook: Running) -> None:
    one = shared_path("k8s_audit", "exec_pod.json").read_bytes()
    items = [orjson.loads(shared_path("k8s_audit", n).read_bytes())
             for n in ("create_nginx_pod_privileged.json", "attach_cluster_admin_role.json")]
    assert post(hook.port, one)[0] == 200
    assert post(hook.port, orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items}),
                ctype="application/json; charset=utf-8")[0] == 200
    evts = hook.wait_for(3)
    assert [e.num for e in evts] == [1, 2, 3]
    assert [ka.audit_record(e)["verb"] for e in evts] == ["create", "create", "create"]
    assert ka.audit_record(evts[0])["objectRef"]["subresource"] == "exec"
    assert ka.audit_record(evts[2])["requestObject"]["roleRef"]["name"] == "cluster-admin"
    assert hook.plugin.webhook.stats.events == 3


def test_bad_requests_rejected_and_server_keeps_serving(hook: Running) -> None:
    good = shared_path("k8s_audit", "create_secret.json").read_bytes()
    status, body = post(hook.port, b'{"kind": "Event", "auditID": ')
    assert status == 400 and b"invalid JSON" in body
    assert post(hook.port, good, ctype="text/plain")[0] == 400
    assert post(hook.port, good, ctype="")[0] == 400
    assert post(hook.port, b"x" * (64 * 1024 + 1))[0] == 413
    assert post(hook.port, shared_path("k8s_audit", "fal_01_003.json").read_bytes())[0] == 400
    assert post(hook.port, good, path="/other")[0] == 404
    assert post(hook.port, b"", method="GET")[0] == 405
    assert post(hook.port, good)[0] == 200
    evts = hook.wait_for(1)
    assert len(evts) == 1 and ka.audit_record(evts[0])["objectRef"]["resource"] == "secrets"
    st = hook.plugin.webhook.stats
    assert st.rejected == 7 and st.by_status[200] == 1
    assert any("fal_01_003" not in m and "not recognized" in m for m in hook.plugin.errors)


def test_chunked_body(hook: Running) -> None:
    body = shared_path("k8s_audit", "delete_secret.json").read_bytes()
    c = http.client.HTTPConnection("127.0.0.1", hook.port, timeout=5)
    c.request("POST", "/k8s-audit", body=iter([body[:100], body[100:]]),
              headers={"Content-Type": "application/json"}, encode_chunked=True)
    assert c.getresponse().status == 200
    c.close()
    assert ka.audit_record(hook.wait_for(1)[0])["verb"] == "delete"


def test_custom_field_headers() -> None:
    r = Running({"customFieldsHeaders": [
        {"header": "X-Cluster", "customFields": ["cluster_name"]},
        {"header": "X-Cert", "pattern": r"OU=(\w+),OU=(\w+)", "customFields": ["division", "team"]}]})
    try:
        c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
        c.request("POST", "/k8s-audit", body=shared_path("k8s_audit", "exec_pod.json").read_bytes(),
                  headers={"Content-Type": "application/json", "X-Cluster": "prod-1", "X-Cert": "OU=Dairy,OU=Cheese"})
        assert c.getresponse().status == 200
        c.close()
        e = r.wait_for(1)[0]
        rec = ka.audit_record(e)
        assert (rec["cluster_name"], rec["division"], rec["team"]) == ("prod-1", "Dairy", "Cheese")
        from lanner.fields.registry import FieldRegistry
        reg = FieldRegistry([ka.field_class()])
        assert reg.resolve("k8s_audit", "ka.cluster.name", None).bind()(e) == "prod-1"
    finally:
        r.close()


def test_https(tmp_path) -> None:
    require_tool("openssl")
    pem = tmp_path / "falco.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
                   check=True, capture_output=True, timeout=60)
    pem.write_bytes((tmp_path / "c.pem").read_bytes() + (tmp_path / "k.pem").read_bytes())
    r = Running({"sslCertificate": str(pem)}, scheme="https")
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
        ctx.check_hostname = False
        assert post(r.port, shared_path("k8s_audit", "exec_pod.json").read_bytes(), ctx=ctx)[0] == 200
        assert len(r.wait_for(1)) == 1
    finally:
        r.close()
    bad = K8sAuditPlugin()
    bad.init({"sslCertificate": str(tmp_path / "missing.pem")})
    with pytest.raises(SourceError, match="sslCertificate"):
        bad.open("https://127.0.0.1:0/k8s-audit")


def test_url_parsing_and_bind_errors() -> None:
    a = parse_url("http://:9765/k8s-audit")
    assert (a.host, a.port, a.path) == ("", 9765, "/k8s-audit")
    assert parse_url("https://[::1]:8443/x").host == "::1"
    with pytest.raises(SourceError):
        parse_url("http://:99999/x")
    r = Running()
    try:
        p = K8sAuditPlugin()
        with pytest.raises(SourceError, match="cannot listen"):
            p.open(f"http://127.0.0.1:{r.port}/k8s-audit")
    finally:
        r.close()
