"""Kafka target: a minimal producer speaking the wire protocol (Produce v3, RecordBatch v2).

Minimal on purpose: one connection to the configured ``address`` (the broker that leads the
partition; no metadata look-up, no SASL), one record per request, ``acks`` 0/1/-1. Enough for a
single broker or a fixed leader. Options: ``address`` (default ``127.0.0.1:9092``), ``topic``
(default ``falco``), ``partition`` (0), ``acks`` (1), ``key`` (template, ``{rule}``/``{priority}``/
``{hostname}``; empty = no key), ``tls``. The value is the JSON alert.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.redis import split_hostport
from lanner.outputs.fanout.sockbase import Conn


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as record batches require."""
    c = 0xFFFFFFFF
    t = _TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(n: int) -> bytes:
    """Zig-zag varint (Kafka record fields)."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def record_batch(value: bytes, key: bytes | None, timestamp_ms: int) -> bytes:
    rec = b"\x00" + varint(0) + varint(0)
    rec += varint(-1) if key is None else varint(len(key)) + key
    rec += varint(len(value)) + value + varint(0)
    records = varint(len(rec)) + rec
    after_crc = struct.pack(">hiqqqhii", 0, 0, timestamp_ms, timestamp_ms, -1, -1, -1, 1) + records
    crc = crc32c(after_crc)
    tail = struct.pack(">ibI", -1, 2, crc) + after_crc     # partitionLeaderEpoch, magic, crc
    return struct.pack(">qi", 0, len(tail)) + tail


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_request(correlation_id: int, client_id: str, topic: str, partition: int, acks: int,
                    timeout_ms: int, batch: bytes) -> bytes:
    body = struct.pack(">hhi", 0, 3, correlation_id) + _string(client_id)
    body += struct.pack(">hhi", -1, acks, timeout_ms)          # null transactional_id, acks, timeout
    body += struct.pack(">i", 1) + _string(topic) + struct.pack(">ii", 1, partition)
    body += struct.pack(">i", len(batch)) + batch
    return struct.pack(">i", len(body)) + body


RETRIABLE = {3, 5, 6, 7, 8, 13, 14, 15, 19, 20, 56}   # unknown partition, leader moves, timeouts, ...


class KafkaTarget(Target):
    type_name = "kafka"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        host, port = split_hostport(str(options.get("address", "127.0.0.1:9092")), 9092)
        self.timeout_ms = int(options.get("timeout_ms", 5000))
        self.conn = Conn(host, port, timeout=self.timeout_ms / 1000, tls=bool(options.get("tls", False)),
                         options=options)
        self.topic = str(options.get("topic", "falco"))
        self.partition = int(options.get("partition", 0))
        self.acks = int(options.get("acks", 1))
        if self.acks not in (0, 1, -1):
            raise ValueError(f"fanout {name}: acks must be 0, 1 or -1, got {self.acks}")
        self._corr = 0

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.conn.open()
        key_t = str(self.options.get("key", ""))
        key = (key_t.replace("{rule}", alert.rule).replace("{priority}", event["priority"])
               .replace("{hostname}", event["hostname"]).encode()) if key_t else None
        value = orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS)
        self._corr = (self._corr + 1) & 0x7FFFFFFF
        self.conn.send(produce_request(self._corr, "lanner", self.topic, self.partition, self.acks,
                                       self.timeout_ms, record_batch(value, key, alert.time_ns // 1_000_000)))
        if self.acks == 0:
            return
        size = struct.unpack(">i", self.conn.readexact(4))[0]
        resp = self.conn.readexact(size)
        corr, = struct.unpack_from(">i", resp, 0)
        if corr != self._corr:
            self.conn.close()
            raise TransientError(f"kafka: correlation id mismatch ({corr} != {self._corr})")
        pos = 4
        try:
            (n_topics,) = struct.unpack_from(">i", resp, pos)
            pos += 4
            for _ in range(n_topics):
                (tlen,) = struct.unpack_from(">h", resp, pos)
                pos += 2 + tlen
                (n_parts,) = struct.unpack_from(">i", resp, pos)
                pos += 4
                for _ in range(n_parts):
                    _idx, err = struct.unpack_from(">ih", resp, pos)
                    pos += 4 + 2 + 8 + 8
                    if err in RETRIABLE:
                        self.conn.close()
                        raise TransientError(f"kafka: broker error code {err}")
                    if err:
                        raise PermanentError(f"kafka: broker error code {err} for topic {self.topic}")
        except struct.error:
            self.conn.close()
            raise TransientError("kafka: truncated produce response") from None

    def close(self) -> None:
        self.conn.close()
