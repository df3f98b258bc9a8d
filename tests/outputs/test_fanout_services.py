"""Socket fan-out targets against real servers: redis-server, nats-server, a local SMTP server; Kafka
against a protocol-level fake broker (no Kafka broker is packaged in Debian)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes

import pytest

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.fanout.kafka import crc32c, varint
from lanner.outputs.fanout.redis import RedisTarget
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.conftest import require_tool
from tests.outputs.helpers import make_alert


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def run(targets: list[dict], alerts) -> OutputPipeline:
    p = OutputPipeline.from_config(Config(data={"fanout": targets}), AlertFormatter(hostname="node1"))
    for a in alerts:
        p.submit(a)
    p.close()
    return p


@pytest.fixture
def redis_port() -> Iterator[int]:
    exe = require_tool("redis-server")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--requirepass", "s3cret"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_stream(redis_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_REDIS_PW", "s3cret")
    p = run([{"type": "redis", "address": f"127.0.0.1:{redis_port}", "password_env": "LANNER_REDIS_PW",
              "key": "alerts", "database": 2, "maxlen": 100}], [make_alert(i) for i in range(3)])
    assert p.stats()["fanout"]["redis"]["sent"] == 3
    reader = RedisTarget("r", {"address": f"127.0.0.1:{redis_port}", "password": "s3cret", "database": 2})
    reader.conn.open()
    reader._handshake()
    entries = reader.command("XRANGE", "alerts", "-", "+")
    reader.close()
    assert len(entries) == 3
    fields = dict(zip(entries[1][1][::2], entries[1][1][1::2], strict=True))
    assert fields[b"rule"] == b"Test rule" and fields[b"priority"] == b"Warning"
    assert json.loads(fields[b"payload"])["output_fields"]["n"] == 1
    bad = run([{"type": "redis", "address": f"127.0.0.1:{redis_port}", "password": "wrong", "retries": 2,
                "backoff_ms": 1}], [make_alert()])
    assert bad.stats()["fanout"]["redis"]["failed"] == 1 and bad.stats()["fanout"]["redis"]["retries"] == 0


def test_nats_publish() -> None:
    exe = require_tool("nats-server")
    port = free_port()
    proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", str(port), "--user", "u", "--pass", "p"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        sub = socket.create_connection(("127.0.0.1", port), timeout=5)
        f = sub.makefile("rb")
        f.readline()
        sub.sendall(b'CONNECT {"user":"u","pass":"p","verbose":false}\r\nSUB falco.> 1\r\nPING\r\n')
        assert f.readline() == b"PONG\r\n"
        p = run([{"type": "nats", "address": f"nats://127.0.0.1:{port}", "user": "u", "password": "p"}],
                [make_alert(1, Priority.CRITICAL, rule="Write below /etc")])
        head = f.readline().split()
        body = f.read(int(head[-1]) + 2)
        sub.close()
        bad = run([{"type": "nats", "address": f"127.0.0.1:{port}", "user": "u", "password": "x", "retries": 1,
                    "backoff_ms": 1}], [make_alert()])
    finally:
        proc.terminate()
        proc.wait(10)
    assert p.stats()["fanout"]["nats"]["sent"] == 1
    assert head[0] == b"MSG" and head[1] == b"falco.critical.write_below_etc"
    assert json.loads(body)["rule"] == "Write below /etc"
    assert bad.stats()["fanout"]["nats"]["failed"] == 1


class SmtpServer:
    """A tiny SMTP server (asyncio) accepting everything and recording messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._main, daemon=True).start()
        self.ready.wait(5)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"220 test ESMTP\r\n")
        sender, rcpts = "", []
        while line := await r.readline():
            cmd = line.decode().strip()
            up = cmd.upper()
            if up.startswith(("EHLO", "HELO")):
                w.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif up.startswith("AUTH"):
                w.write(b"235 ok\r\n")
            elif up.startswith("MAIL FROM:"):
                sender = cmd[10:].strip("<> ")
                w.write(b"250 ok\r\n")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip("<> "))
                w.write(b"250 ok\r\n")
            elif up == "DATA":
                w.write(b"354 go\r\n")
                data = b""
                while (ln := await r.readline()) != b".\r\n":
                    data += ln[1:] if ln.startswith(b"..") else ln
                self.messages.append((sender, rcpts, data))
                w.write(b"250 queued\r\n")
            elif up == "QUIT":
                w.write(b"221 bye\r\n")
                await w.drain()
                break
            else:
                w.write(b"250 ok\r\n")
            await w.drain()
        w.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_smtp_mail() -> None:
    srv = SmtpServer()
    try:
        p = run([{"type": "smtp", "address": f"127.0.0.1:{srv.port}", "from": "falco@example.org",
                  "to": ["soc@example.org", "oncall@example.org"], "user": "u", "password": "p"}],
                [make_alert(4, Priority.ERROR)])
    finally:
        srv.stop()
    assert p.stats()["fanout"]["smtp"]["sent"] == 1
    sender, rcpts, data = srv.messages[0]
    assert sender == "falco@example.org" and rcpts == ["soc@example.org", "oncall@example.org"]
    m = message_from_bytes(data)
    assert m["Subject"] == "[Error] Test rule"
    body = m.get_payload()
    assert "Error alert number 4 proc=bash" in body and "proc.name: bash" in body


class FakeKafkaBroker:
    """Decodes Produce v3 requests (RecordBatch v2, CRC-32C checked) and acknowledges them."""

    def __init__(self, error_code: int = 0) -> None:
        self.records: list[tuple[str, int, bytes | None, bytes]] = []
        self.error_code = error_code
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    @staticmethod
    def _read(c: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _conn(self, c: socket.socket) -> None:
        try:
            while True:
                size, = struct.unpack(">i", self._read(c, 4))
                req = self._read(c, size)
                api, ver, corr, clen = struct.unpack_from(">hhih", req, 0)
                assert (api, ver) == (0, 3)
                pos = 10 + clen
                _txn, acks, _timeout, _nt, tlen = struct.unpack_from(">hhiih", req, pos)
                pos += 14
                topic = req[pos:pos + tlen].decode()
                pos += tlen
                _np, part, blen = struct.unpack_from(">iii", req, pos)
                pos += 12
                batch = req[pos:pos + blen]
                _base, length, _epoch, magic, crc = struct.unpack_from(">qiibI", batch, 0)
                assert magic == 2 and length == len(batch) - 12
                assert crc32c(batch[21:]) == crc, "bad record batch CRC"
                rec = batch[61:]
                key, value = self._record(rec)
                self.records.append((topic, part, key, value))
                if acks:
                    body = struct.pack(">ii", corr, 1) + struct.pack(">h", tlen) + topic.encode()
                    body += struct.pack(">iihqq", 1, part, self.error_code, len(self.records) - 1, -1)
                    body += struct.pack(">i", 0)
                    c.sendall(struct.pack(">i", len(body)) + body)
        except (EOFError, OSError):
            c.close()

    @staticmethod
    def _record(rec: bytes) -> tuple[bytes | None, bytes]:
        def rd(pos: int) -> tuple[int, int]:
            shift = z = 0
            while True:
                b = rec[pos]
                pos += 1
                z |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    return (z >> 1) ^ -(z & 1), pos
        _len, pos = rd(0)
        pos += 1
        _ts, pos = rd(pos)
        _off, pos = rd(pos)
        klen, pos = rd(pos)
        key = None if klen < 0 else rec[pos:pos + klen]
        pos += max(klen, 0)
        vlen, pos = rd(pos)
        return key, rec[pos:pos + vlen]

    def stop(self) -> None:
        self.sock.close()


def test_kafka_crc32c_and_varint() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert varint(0) == b"\x00" and varint(-1) == b"\x01" and varint(150) == b"\xac\x02"


def test_kafka_produce_to_fake_broker() -> None:
    broker = FakeKafkaBroker()
    try:
        p = run([{"type": "kafka", "address": f"127.0.0.1:{broker.port}", "topic": "falco-alerts",
                  "partition": 2, "key": "{rule}"}], [make_alert(i) for i in range(3)])
    finally:
        broker.stop()
    assert p.stats()["fanout"]["kafka"]["sent"] == 3
    assert [(t, pt, k) for t, pt, k, _ in broker.records] == [("falco-alerts", 2, b"Test rule")] * 3
    assert [json.loads(v)["output_fields"]["n"] for *_, v in broker.records] == [0, 1, 2]


def test_kafka_broker_error_is_reported() -> None:
    broker = FakeKafkaBroker(error_code=87)          # INVALID_RECORD: not retriable
    try:
        p = run([{"type": "kafka", "address": f"127.0.0.1:{broker.port}", "retries": 2}], [make_alert()])
    finally:
        broker.stop()
    assert p.stats()["fanout"]["kafka"]["failed"] == 1 and len(broker.records) == 1
