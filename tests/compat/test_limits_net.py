"""Connection and request limits (`[limits]` keys of src/net), against the real binary.

Raw sockets play the hostile clients: 200 connections that never send the HTTP/2
preface, a client that sends the preface one byte at a time, one whose request body
trickles, and more connections than `max_connections`. Meanwhile a normal pymilvus
client must keep being served. Oversized requests and responses must come back as an
in-band Milvus status (code 1102) at once, not as a transport error pymilvus retries.
Every server here gets small limits from a config file so the test stays short.
"""

import socket
import struct
import time

import numpy as np
import pytest
from pymilvus import MilvusClient

from conftest import QuiverServer
from _util import T, count_rows, index_params, milvus_error, simple_schema

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def limited_server(tmp_path, limits: str) -> QuiverServer:
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[limits]\n" + limits)
    return QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)]).start()


@pytest.fixture
def net_server(tmp_path):
    srv = limited_server(
        tmp_path,
        "handshake_timeout_secs = 1\nrequest_body_timeout_secs = 1\n"
        "min_request_bytes_per_sec = 65536\nmax_message_bytes = 1000000\n",
    )
    yield srv
    srv.kill()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True once the server closes `sock` (EOF or reset); reads and drops its frames."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


def served(sock: socket.socket) -> bool:
    """True if the server answered the preface (its SETTINGS frame arrived)."""
    sock.settimeout(3.0)
    try:
        return len(sock.recv(65536)) > 0
    except OSError:
        return False


def hpack_literal(name: bytes, value: bytes) -> bytes:
    """A header as 'literal without indexing, new name', no Huffman (short strings)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


@pytest.mark.timeout_s(60)
def test_half_open_handshakes_are_closed_and_others_served(net_server):
    silent = [socket.create_connection(("127.0.0.1", net_server.port)) for _ in range(200)]
    try:
        c = MilvusClient(uri=net_server.uri, timeout=10, dedicated=True)
        assert isinstance(c.list_collections(), list)
        t0 = time.monotonic()
        still_open = [s for s in silent if not closed_within(s, 6.0)]
        assert not still_open, f"{len(still_open)} of 200 half-open sockets still open"
        assert time.monotonic() - t0 < 8
        assert c.get_server_version()
        c.close()
    finally:
        for s in silent:
            s.close()


@pytest.mark.timeout_s(60)
def test_a_one_byte_per_second_client_is_cut_off(net_server):
    c = MilvusClient(uri=net_server.uri, timeout=10, dedicated=True)
    # 1. The preface itself, one byte a second: the handshake deadline ends it.
    slow = socket.create_connection(("127.0.0.1", net_server.port))
    t0 = time.monotonic()
    closed = False
    for b in PREFACE:
        try:
            slow.send(bytes([b]))
        except OSError:
            closed = True
            break
        if closed_within(slow, 1.0):
            closed = True
            break
    assert closed and time.monotonic() - t0 < 5, "a trickled preface was not cut off"
    slow.close()
    # 2. A complete handshake, then a request body trickling at 4 bytes a second.
    s = socket.create_connection(("127.0.0.1", net_server.port))
    headers = b"".join(
        hpack_literal(k, v)
        for k, v in [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", b"/milvus.proto.milvus.MilvusService/Insert"),
            (b":authority", b"localhost"),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ]
    )
    s.sendall(PREFACE + EMPTY_SETTINGS + frame(0x1, 0x4, 1, headers))
    t0 = time.monotonic()
    cut = False
    for _ in range(40):
        try:
            s.send(frame(0x0, 0x0, 1, b"\x00"))
        except OSError:
            cut = True
            break
        if closed_within(s, 0.25):
            cut = True
            break
    elapsed = time.monotonic() - t0
    s.close()
    assert cut, "a trickling request body was never cut off"
    assert elapsed < 6, f"cut off only after {elapsed:.1f} s"
    # The server kept serving everyone else.
    assert isinstance(c.list_collections(), list)
    c.close()


@pytest.mark.timeout_s(60)
def test_connections_beyond_the_cap_are_refused(tmp_path):
    srv = limited_server(tmp_path, "max_connections = 5\n")
    held = []
    try:
        deadline = time.monotonic() + 10
        while len(held) < 5:
            # The start-up probe may still hold a slot for a moment: retry until
            # five connections are being served (the server sent its SETTINGS).
            assert time.monotonic() < deadline, "could not open 5 connections"
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(PREFACE + EMPTY_SETTINGS)
            if served(s):
                held.append(s)
            else:
                s.close()
                time.sleep(0.1)
        extra = socket.create_connection(("127.0.0.1", srv.port))
        try:
            extra.sendall(PREFACE + EMPTY_SETTINGS)
        except OSError:
            pass
        assert closed_within(extra, 3.0), "a connection beyond max_connections was served"
        extra.close()
        for s in held:
            assert not closed_within(s, 0.05), "a connection under the cap was closed"
    finally:
        for s in held:
            s.close()
    # Closed connections give their slots back.
    deadline = time.monotonic() + 10
    while True:
        try:
            c = MilvusClient(uri=srv.uri, timeout=3, dedicated=True)
            assert isinstance(c.list_collections(), list)
            c.close()
            break
        except Exception:
            assert time.monotonic() < deadline, "slots were not released"
            time.sleep(0.2)
    srv.kill()


def _rows(n: int, dim: int, start: int = 0):
    vecs = np.random.default_rng(start).random((n, dim), dtype=np.float32)
    return [{"id": start + i, "vec": vecs[i].tolist()} for i in range(n)]


@pytest.mark.timeout_s(90)
def test_oversized_request_and_response_answer_in_band(net_server, unique_name):
    c = MilvusClient(uri=net_server.uri, timeout=30, dedicated=True)
    name = unique_name()
    dim = 128
    c.create_collection(name, schema=simple_schema(dim), timeout=T)
    # 3000 rows of 128 floats: ~1.5 MB in one insert, over max_message_bytes (1 MB).
    err = milvus_error(c.insert, name, _rows(3000, dim))
    assert err.code == 1102 and "max_message_bytes" in err.message, err
    for start in range(0, 3000, 1000):
        c.insert(name, _rows(1000, dim, start))
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)
    small = c.query(name, filter="id < 10", output_fields=["vec"])
    assert len(small) == 10
    err = milvus_error(c.query, name, filter="id >= 0", output_fields=["vec"], limit=3000)
    assert err.code == 1102 and "iterator" in err.message, err
    assert len(c.query(name, filter="id < 5", output_fields=["id"])) == 5
    c.close()


@pytest.mark.timeout_s(300)
def test_inflight_budget_refusals_are_retried_by_pymilvus(tmp_path, unique_name, monkeypatch):
    # Refusals are logged at debug level; the log shows the budget really refused some.
    monkeypatch.setenv("QUIVER_LOG", "info,quiver::proxy::service=debug")
    srv = limited_server(tmp_path, "max_inflight_bytes = 1000000\ninflight_wait_secs = 0\n")
    name = unique_name()
    dim = 128
    setup = MilvusClient(uri=srv.uri, timeout=30, dedicated=True)
    setup.create_collection(name, schema=simple_schema(dim), timeout=T)
    batch = 1500  # ~770 KB per insert: two at once exceed the 1 MB budget
    import threading

    errors = []

    def writer(mine):
        try:
            c = MilvusClient(uri=srv.uri, timeout=60, dedicated=True)
            for rows in mine:
                c.insert(name, rows)
            c.close()
        except Exception as e:  # reported below
            errors.append(e)

    # Whether two inserts overlap is up to the scheduler, so rounds of 8 concurrent
    # writers repeat (a bounded number of times) until the log shows a refusal.
    sent = 0
    for _ in range(5):
        batches = [_rows(batch, dim, sent + j * batch) for j in range(16)]
        sent += 16 * batch
        threads = [threading.Thread(target=writer, args=(batches[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=80)
        assert not errors, errors
        if srv.log_text().count("rate limit exceeded") >= 1:
            break
    setup.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    setup.load_collection(name, timeout=T)
    assert count_rows(setup, name) == sent, "an insert refused by the budget was lost"
    refused = srv.log_text().count("rate limit exceeded")
    # Writers of 770 KB messages against a 1 MB budget with no wait: overlaps are
    # refused in-band (code 8), and pymilvus retried every one of them.
    assert refused >= 1, "no insert was ever refused: the budget was not exercised"
    setup.close()
    srv.kill()
