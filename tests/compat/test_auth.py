"""Authentication (`quiver serve --auth`): bad credentials are refused the way Milvus
refuses them (gRPC UNAUTHENTICATED, which pymilvus reports as a failed connect, code 2)
and users can be managed; without --auth credentials are ignored, as in Milvus."""

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
    for kwargs in ({"token": "root:wrong"}, {}, {"user": "nobody", "password": "whatever1"}):
        with pytest.raises(MilvusException) as e:
            MilvusClient(uri=auth_server.uri, timeout=5, dedicated=True, **kwargs)
        assert e.value.code == 2
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
