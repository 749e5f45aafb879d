"""The two wirings of the same parts (issue 8, item 5): the roles in process (default)
and behind a loopback `quiver.internal` gRPC hop (`--loopback-roles`). On the same data
they must answer searches and queries identically: the same ids, the same scores (bit
for bit), the same output columns — through an HNSW index on sealed segments, a growing
segment, a filter with template values, range search, grouping and pagination."""

import time

import pytest
from pymilvus import DataType, MilvusClient

from _util import T, index_params, rand_vectors, simple_schema
from conftest import QuiverServer

DIM = 64
N = 3000


@pytest.fixture
def pair(tmp_path):
    # One build thread each: a parallel HNSW build links neighbours in an order
    # that depends on timing, so two servers could differ by one neighbour.
    one = ["--index-build-threads", "1"]
    servers = [
        QuiverServer(tmp_path / "inproc", extra_args=one).start(),
        QuiverServer(tmp_path / "loopback", extra_args=[*one, "--loopback-roles"]).start(),
    ]
    clients = [MilvusClient(uri=s.uri, timeout=T, dedicated=True) for s in servers]
    yield clients
    for c in clients:
        c.close()
    for s in servers:
        if s.running():
            s.kill()


def _load(client, vecs):
    name = "wiring"
    schema = simple_schema(
        DIM,
        dynamic=True,
        extra=[("tag", DataType.INT64, {}), ("title", DataType.VARCHAR, {"max_length": 64})],
    )
    client.create_collection(name, schema=schema, timeout=T)
    rows = lambda lo, hi: [  # noqa: E731
        {"id": i, "vec": vecs[i].tolist(), "tag": i % 7, "title": f"doc {i}", "extra": i * 2}
        for i in range(lo, hi)
    ]
    client.insert(name, rows(0, 2000), timeout=T)
    client.flush(name, timeout=T)
    client.create_index(
        name, index_params("vec", "HNSW", "COSINE", M=16, efConstruction=128), timeout=T
    )
    client.load_collection(name, timeout=T)
    client.insert(name, rows(2000, N), timeout=T)  # stays growing
    client.delete(name, filter="id in [3, 5, 2500]", timeout=T)
    return name


def _wait_indexed(client, name):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        d = client.describe_index(name, "vec")
        if d["state"] == "Finished" and d["pending_index_rows"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(client.describe_index(name, "vec"))


def _flat(results):
    return [[(h["id"], h["distance"], dict(h["entity"])) for h in hits] for hits in results]


def test_in_process_and_loopback_wirings_answer_identically(pair):
    vecs = rand_vectors(N, DIM, seed=8)
    names = [_load(c, vecs) for c in pair]
    for c, n in zip(pair, names):
        _wait_indexed(c, n)
    queries = rand_vectors(5, DIM, seed=9).tolist()
    searches = [
        dict(limit=10, output_fields=["tag", "title"]),
        dict(limit=7, offset=3, output_fields=["*"]),
        dict(limit=10, filter="tag in {tags} and id > {lo}", filter_params={"tags": [1, 2], "lo": 100}),
        dict(limit=20, search_params={"params": {"radius": 0.1, "range_filter": 0.9, "ef": 64}}),
        dict(limit=5, group_by_field="tag", output_fields=["tag"]),
    ]
    for kw in searches:
        got = [_flat(c.search(n, data=queries, anns_field="vec", timeout=T, **kw)) for c, n in zip(pair, names)]
        assert got[0] == got[1], kw
        assert any(len(h) > 0 for h in got[0]), kw
    queries_ = [
        dict(filter="tag == 3 and id < 2600", output_fields=["id", "title", "extra"], limit=50),
        dict(filter="", output_fields=["count(*)"]),
        dict(ids=[1, 2, 3, 2999], output_fields=["vec", "title"]),
    ]
    for kw in queries_:
        if "ids" in kw:
            got = [c.get(n, timeout=T, **kw) for c, n in zip(pair, names)]
        else:
            got = [c.query(n, timeout=T, **kw) for c, n in zip(pair, names)]
        assert [dict(r) for r in got[0]] == [dict(r) for r in got[1]], kw
        assert len(got[0]) > 0, kw
    # Errors cross the hop with their Milvus code and text.
    errs = []
    for c, n in zip(pair, names):
        try:
            c.query(n, filter="tag == ", limit=1, timeout=T)
        except Exception as e:  # noqa: BLE001 - compared below
            errs.append((getattr(e, "code", None), str(getattr(e, "message", e))))
    assert len(errs) == 2 and errs[0] == errs[1], errs
