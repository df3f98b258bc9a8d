"""GCP Pub/Sub output: REST ``topics.publish`` as documented, against a loopback receiver standing in for the
emulator (``PUBSUB_EMULATOR_HOST``) and for Google's token endpoint (service-account JWT grant)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from lanner.config import Config
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.conftest import require_tool
from tests.outputs.helpers import RecordingServer, make_alert

pytest.importorskip("google.auth")


def _run(fanout: dict) -> None:
    p = OutputPipeline.from_config(Config(data={"fanout": fanout}), AlertFormatter(hostname="node1"))
    p.submit(make_alert(1))
    p.submit(make_alert(2))
    p.close()


def _b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_publish_to_the_emulator(http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{http_server.port}")
    _run({"gcp": {"pubsub": {"projectid": "my-proj", "topic": "falco-events",
                             "customattributes": {"team": "sec"}, "minimumpriority": "notice"}}})
    reqs = http_server.wait_for(2)
    assert [r.path for r in reqs] == ["/v1/projects/my-proj/topics/falco-events:publish"] * 2
    assert "Authorization" not in reqs[0].headers          # the emulator takes no credentials
    msgs = reqs[0].json()["messages"]
    assert len(msgs) == 1 and msgs[0]["attributes"] == {"team": "sec"}
    data = json.loads(base64.b64decode(msgs[0]["data"]))
    assert data["rule"] == "Test rule" and data["priority"] == "Warning" and data["hostname"] == "node1"
    assert data["output_fields"]["proc.name"] == "bash" and len(data["uuid"]) == 36


def test_service_account_token_then_publish(http_server: RecordingServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("openssl")
    key = tmp_path / "sa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
                   check=True, capture_output=True, timeout=60)
    info = {"type": "service_account", "project_id": "my-proj", "private_key_id": "k1",
            "private_key": key.read_text(), "client_email": "falco@my-proj.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": f"{http_server.url}/token"}
    http_server.behaviour.response = json.dumps({"access_token": "ya29.test-token", "expires_in": 3600,
                                                 "token_type": "Bearer"}).encode()
    creds = base64.b64encode(json.dumps(info).encode()).decode()      # sidekick's gcp.credentials form
    # sidekick's shape: gcp.credentials (parent section) + gcp.pubsub; the API base is the emulator address
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{http_server.port}")
    _run({"gcp": {"credentials": creds, "pubsub": {"projectid": "my-proj", "topic": "t"}}})
    reqs = http_server.wait_for(3)
    assert [r.path for r in reqs] == ["/token", "/v1/projects/my-proj/topics/t:publish",
                                      "/v1/projects/my-proj/topics/t:publish"]      # one token for both alerts
    grant = parse_qs(reqs[0].body.decode())
    assert grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    header, claims, sig = grant["assertion"][0].split(".")
    (tmp_path / "signed").write_text(f"{header}.{claims}")
    (tmp_path / "sig").write_bytes(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(tmp_path / "pub.pem")], check=True,
                   capture_output=True, timeout=60)
    verify = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                             str(tmp_path / "sig"), str(tmp_path / "signed")], capture_output=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr        # signed with the service account's key
    assert _b64url_json(header)["alg"] == "RS256" and _b64url_json(header)["kid"] == "k1"
    c = _b64url_json(claims)
    assert c["iss"] == "falco@my-proj.iam.gserviceaccount.com" and c["aud"] == "https://oauth2.googleapis.com/token"
    assert c["scope"] == "https://www.googleapis.com/auth/pubsub"
    assert all(r.headers["Authorization"] == "Bearer ya29.test-token" for r in reqs[1:])


def test_storage_object_per_alert(http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import unquote, urlsplit
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{http_server.port}")
    _run({"gcp": {"storage": {"bucket": "falco-alerts", "prefix": "falco"}}})
    reqs = http_server.wait_for(2)
    assert len(reqs) == 2 and "Authorization" not in reqs[0].headers
    u = urlsplit(reqs[0].path)
    assert u.path == "/upload/storage/v1/b/falco-alerts/o"
    q = parse_qs(u.query)
    assert q["uploadType"] == ["media"]
    name = unquote(q["name"][0])
    assert name.startswith("falco/") and name.endswith("Z.json") and name.split("/")[2].startswith(name.split("/")[1])
    assert reqs[0].headers["Content-Type"] == "application/json"
    assert reqs[0].json()["rule"] == "Test rule" and len(reqs[0].json()["uuid"]) == 36
