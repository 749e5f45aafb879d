"""The `quiver serve` process itself: start-up, logging, configuration, connecting, shutdown.

Covers: start-up on an empty data dir in well under a second, the one log line saying where it
listens, `--config FILE` (TOML with port / data_dir / host), connecting with both MilvusClient
(uri, with and without a token) and the ORM (host/port and uri), GetVersion, a clean SIGTERM
shutdown, and two servers side by side on separate data dirs staying isolated.
"""

import subprocess
import time

import pytest
from pymilvus import MilvusClient, connections, utility

from conftest import QuiverServer, free_port, port_open, quiver_binary
from _util import T, count_rows, make_loaded_collection


def test_starts_fast_and_logs_listen_address(tmp_path):
    srv = QuiverServer(tmp_path / "d")
    srv.start()
    try:
        assert srv.startup_seconds < 1.0, f"start-up took {srv.startup_seconds:.2f} s"
        deadline = time.monotonic() + 5
        while f"listening on 127.0.0.1:{srv.port}" not in srv.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"listening on 127.0.0.1:{srv.port}" in srv.log_text(), srv.log_text()
    finally:
        rc = srv.stop()
    assert rc is not None


def test_sigterm_shuts_down_cleanly(tmp_path):
    srv = QuiverServer(tmp_path / "d")
    srv.start()
    proc = srv.proc
    t0 = time.monotonic()
    rc = srv.stop()
    assert time.monotonic() - t0 < 10
    assert rc in (0, -15, 143), f"exit code {rc}; log:\n{srv.log_text()[-2000:]}"
    assert proc.poll() is not None
    assert not port_open(srv.port)


def test_config_file(tmp_path):
    port = free_port()
    data = tmp_path / "from-config"
    cfg = tmp_path / "quiver.toml"
    cfg.write_text(f'port = {port}\ndata_dir = "{data}"\nhost = "127.0.0.1"\n')
    log = open(tmp_path / "log.txt", "wb")
    proc = subprocess.Popen([str(quiver_binary()), "serve", "--config", str(cfg)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not port_open(port) and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "log.txt").read_text()
            time.sleep(0.05)
        assert port_open(port), (tmp_path / "log.txt").read_text()
        c = MilvusClient(uri=f"http://127.0.0.1:{port}", dedicated=True)
        c.create_collection("from_config", dimension=4, timeout=T)
        c.insert("from_config", [{"id": 1, "vector": [1.0, 0, 0, 0]}])
        assert count_rows(c, "from_config") == 1
        c.close()
        assert data.exists() and any(data.iterdir()), "data_dir from the config file is unused"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def test_default_data_dir_is_quiver_data_in_cwd(tmp_path):
    port = free_port()
    log = open(tmp_path / "log.txt", "wb")
    proc = subprocess.Popen(
        [str(quiver_binary()), "serve", "--port", str(port)], cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 20
        while not port_open(port) and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "log.txt").read_text()
            time.sleep(0.05)
        c = MilvusClient(uri=f"http://127.0.0.1:{port}", dedicated=True)
        c.create_collection("in_default_dir", dimension=4, timeout=T)
        c.close()
        assert (tmp_path / "quiver-data").is_dir(), list(tmp_path.iterdir())
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def test_connect_styles_and_version(server, unique_name):
    a = MilvusClient(uri=server.uri)
    b = MilvusClient(uri=server.uri, token="root:Milvus", dedicated=True)
    try:
        assert a.get_server_version()
        assert b.get_server_version()
        assert isinstance(b.list_collections(), list)
    finally:
        a.close()
        b.close()
    for kwargs in ({"host": "127.0.0.1", "port": str(server.port)}, {"uri": server.uri}):
        alias = unique_name("conn")
        connections.connect(alias=alias, **kwargs)
        try:
            assert utility.get_server_version(using=alias)
            assert isinstance(utility.list_collections(using=alias), list)
        finally:
            connections.disconnect(alias)


def test_two_servers_are_isolated(tmp_path, unique_name):
    s1 = QuiverServer(tmp_path / "one").start()
    s2 = QuiverServer(tmp_path / "two").start()
    try:
        assert s1.port != s2.port
        c1 = MilvusClient(uri=s1.uri, dedicated=True)
        c2 = MilvusClient(uri=s2.uri, dedicated=True)
        name = unique_name()
        make_loaded_collection(c1, name, dim=4)
        assert c1.has_collection(name) and not c2.has_collection(name)
        c1.close()
        c2.close()
    finally:
        s1.stop()
        s2.stop()


@pytest.mark.timeout_s(60)
def test_restart_on_same_port_and_data(fresh_server, unique_name):
    c = MilvusClient(uri=fresh_server.uri, dedicated=True)
    name = unique_name()
    c.create_collection(name, dimension=4, timeout=T)
    c.close()
    port = fresh_server.port
    fresh_server.restart()
    assert fresh_server.port == port
    c = MilvusClient(uri=fresh_server.uri, dedicated=True)
    assert c.has_collection(name)
    c.close()
