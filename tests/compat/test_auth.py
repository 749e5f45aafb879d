"""Authentication (`quiver serve --auth`): bad credentials are refused the way Milvus
refuses them (gRPC UNAUTHENTICATED, which pymilvus reports as a failed connect, code 2)
and users can be managed; without --auth credentials are ignored, as in Milvus."""

import time

import pytest
from pymilvus import MilvusClient, MilvusException

from conftest import QuiverServer


@pytest.fixture
def auth_server(tmp_path):
    srv = QuiverServer(tmp_path / "data", extra_args=["--auth"])
    srv.start()
    yield srv
    if srv.running():
        srv.kill()


def test_wrong_or_missing_credentials_are_refused(auth_server):
    # Refused in-band with Milvus's ErrNeedAuthenticate code and its interceptor's
    # text, so pymilvus reports an authentication failure, not "server unavailable".
    cases = [
        ({"token": "root:wrong"}, "auth check failure, please check username and password are correct"),
        ({}, "missing authorization in header"),
        ({"user": "nobody", "password": "whatever1"}, "auth check failure"),
    ]
    for kwargs, text in cases:
        with pytest.raises(MilvusException) as e:
            MilvusClient(uri=auth_server.uri, timeout=5, dedicated=True, **kwargs)
        assert e.value.code == 1800 and text in e.value.message, e.value
    ok = MilvusClient(uri=auth_server.uri, token="root:Milvus", timeout=10, dedicated=True)
    assert ok.list_collections() == []
    ok.close()


def test_users_can_be_created_updated_and_deleted(auth_server):
    root = MilvusClient(uri=auth_server.uri, token="root:Milvus", timeout=10, dedicated=True)
    root.create_user("alice", "Secret123")
    assert set(root.list_users()) == {"root", "alice"}
    with pytest.raises(MilvusException):
        root.create_user("bob", "short")
    alice = MilvusClient(uri=auth_server.uri, user="alice", password="Secret123", timeout=10, dedicated=True)
    assert alice.list_collections() == []
    alice.close()
    root.update_password("alice", "Secret123", "Secret456")
    with pytest.raises(MilvusException):
        MilvusClient(uri=auth_server.uri, user="alice", password="Secret123", timeout=5, dedicated=True)
    auth_server.stop()
    auth_server.start()
    again = MilvusClient(uri=auth_server.uri, user="alice", password="Secret456", timeout=10, dedicated=True)
    assert again.list_collections() == []
    again.close()
    root = MilvusClient(uri=auth_server.uri, token="root:Milvus", timeout=10, dedicated=True)
    root.drop_user("alice")
    assert root.list_users() == ["root"]
    with pytest.raises(MilvusException):
        root.drop_user("root")
    root.close()


def test_credentials_are_ignored_without_auth(server):
    c = MilvusClient(uri=server.uri, token="root:definitely-wrong", timeout=10, dedicated=True)
    assert isinstance(c.list_collections(), list)
    c.close()


def _raw_connect(port: int, token: str):
    """One Connect over a plain gRPC channel: None on success, else the refusal's
    text, so the server's exact reason (checked vs refused by back-off) is visible.
    A refused Connect is answered in-band with Milvus's 1800 (see test above)."""
    import base64

    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = milvus_pb2_grpc.MilvusServiceStub(ch)
        auth = base64.b64encode(token.encode()).decode()
        try:
            resp = stub.Connect(
                milvus_pb2.ConnectRequest(), metadata=[("authorization", auth)], timeout=5
            )
        except grpc.RpcError as e:
            raise AssertionError(f"Connect should answer in-band, got {e.code()}: {e.details()}")
        if resp.status.code == 0:
            return None
        assert resp.status.code == 1800, resp.status
        return resp.status.reason


@pytest.mark.timeout_s(60)
def test_failed_logins_back_off_and_recover(tmp_path):
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[auth]\nenabled = true\nbackoff_base_ms = 400\nbackoff_max_ms = 800\n")
    srv = QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)]).start()
    try:
        # A client that logged in before keeps working while someone guesses.
        ok = MilvusClient(uri=srv.uri, token="root:Milvus", timeout=10, dedicated=True)
        ok.create_user("eve", "Secret123")
        t0 = time.monotonic()
        errors = [_raw_connect(srv.port, f"root:guess{i}") for i in range(100)]
        elapsed = time.monotonic() - t0
        assert all(e is not None and e.startswith("auth check failure") for e in errors), errors
        refused = [e for e in errors if "too many failed login attempts" in e]
        checked = len(errors) - len(refused)
        # 3 free failures, then one more check per expired back-off step.
        assert len(refused) >= 80, f"only {len(refused)} of 100 refused ({checked} checked in {elapsed:.2f} s)"
        assert ok.list_collections() == []
        # Right after the guesses the address is still backing off, even for a
        # right password that was not verified before...
        e = _raw_connect(srv.port, "eve:Secret123")
        assert e is not None and "too many failed login attempts" in e, e
        # ...and once the (short, configured) back-off has passed it works.
        time.sleep(1.0)
        again = MilvusClient(uri=srv.uri, token="eve:Secret123", timeout=10, dedicated=True)
        assert again.list_collections() == []
        again.close()
        ok.close()
    finally:
        srv.kill()
