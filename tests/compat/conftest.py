"""Fixtures for the pymilvus compatibility suite.

The suite drives the real `quiver` binary over gRPC with unmodified pymilvus 3.0.2.

* `QuiverServer` starts `quiver serve --port P --data-dir D` on a free loopback port
  (never a fixed one) and can stop, kill -9 and restart it on the same port and data dir.
* `server` is one session-wide server that most tests share; every test uses unique
  collection names (`unique_name`) so tests never collide.
* `fresh_server` is a private server per test, for restart and kill -9 tests.
* `client` is a `MilvusClient`, `orm` is the alias of an ORM connection.
* Every test runs under a SIGALRM watchdog (default 120 s, `@pytest.mark.timeout_s(N)`
  to change it), so a server that never answers fails the test instead of hanging it.

The binary is `$QUIVER_BIN` if set, else `<repo>/target/release/quiver`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from pymilvus import MilvusClient, connections

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEST_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 20.0


def quiver_binary() -> Path:
    """Path of the server binary under test."""
    env = os.environ.get("QUIVER_BIN")
    if env:
        return Path(env)
    return REPO_ROOT / "target" / "release" / "quiver"


def free_port() -> int:
    """A loopback port that was free a moment ago (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class QuiverServer:
    """One `quiver serve` process on a loopback port with its own data dir."""

    def __init__(self, data_dir, port: int | None = None, extra_args=()):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.extra_args = list(extra_args)
        # QUIVER_TEST_STORAGE=s3://bucket/prefix runs the suite against S3: each server
        # gets its own prefix (kept across restarts of the same server).
        storage = os.environ.get("QUIVER_TEST_STORAGE")
        if storage and "--storage" not in self.extra_args:
            self.extra_args += ["--storage", f"{storage.rstrip('/')}/{uuid.uuid4().hex}"]
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "quiver-test.log"
        self.startup_seconds: float | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(quiver_binary()),
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "<no log>"

    def start(self) -> "QuiverServer":
        binary = quiver_binary()
        if not binary.exists():
            pytest.fail(
                f"quiver binary not found at {binary}; build it with "
                "`cargo build --release` or set QUIVER_BIN"
            )
        if self.port is None:
            self.port = free_port()
        log = open(self.log_path, "ab")
        log.write(f"\n=== start {' '.join(self.command())}\n".encode())
        log.flush()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = t0 + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"quiver exited with {self.proc.returncode} during start-up; log:\n"
                    + self.log_text()[-4000:]
                )
            if port_open(self.port):
                self.startup_seconds = time.monotonic() - t0
                return self
            time.sleep(0.02)
        self.kill()
        pytest.fail(
            f"quiver did not accept connections on {self.address} within "
            f"{STARTUP_TIMEOUT_S:.0f} s; log:\n" + self.log_text()[-4000:]
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; falls back to SIGKILL if the process will not exit."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        rc = self.proc.returncode
        self.proc = None
        self._wait_port_closed()
        return rc

    def kill(self) -> None:
        """SIGKILL (kill -9): no chance to flush anything."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None
        self._wait_port_closed()

    def restart(self) -> "QuiverServer":
        self.stop()
        return self.start()

    def _wait_port_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and port_open(self.port, timeout=0.1):
            time.sleep(0.05)


# --------------------------------------------------------------------------- watchdog


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "timeout_s(n): per-test SIGALRM watchdog in seconds (default 120)"
    )
    # The ORM is deprecated in pymilvus 3.x but is exactly what the seed program uses.
    config.addinivalue_line(
        "filterwarnings", "ignore::pymilvus.decorators.PyMilvusDeprecationWarning"
    )


class TestWatchdogTimeout(Exception):
    """Raised inside a test that ran past its watchdog."""

    __test__ = False


@pytest.fixture(autouse=True)
def _watchdog(request):
    marker = request.node.get_closest_marker("timeout_s")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT_S

    def on_alarm(signum, frame):
        raise TestWatchdogTimeout(f"test exceeded its {seconds} s watchdog")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = QuiverServer(tmp_path_factory.mktemp("quiver-shared"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path):
    srv = QuiverServer(tmp_path / "data")
    srv.start()
    yield srv
    if srv.running():
        srv.kill()


@pytest.fixture
def client(server):
    c = MilvusClient(uri=server.uri, timeout=30)
    yield c
    c.close()


@pytest.fixture
def orm(server):
    alias = "t_" + uuid.uuid4().hex[:12]
    connections.connect(alias=alias, uri=server.uri, timeout=30)
    yield alias
    connections.disconnect(alias)


def make_unique_name(prefix: str = "c") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def unique_name():
    """`unique_name()` / `unique_name("prefix")` gives a fresh collection/alias/db name."""
    return make_unique_name
