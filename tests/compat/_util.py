"""Shared helpers for the compat suite: data generation, numpy reference scores, assertions.

Nothing here talks to a fixture; tests import these functions directly.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

# Timeout handed to pymilvus calls that poll (create_index / load / flush): a server that
# never reports "finished" fails the test instead of hanging it.
T = 30

SCORE_TOL = 1e-4


def rand_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n float32 vectors in [-1, 1); deterministic per seed."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, dim), dtype=np.float32) * 2.0 - 1.0).astype(np.float32)


def scores(metric: str, query, data) -> np.ndarray:
    """Milvus-style scores of every row of `data` against `query` (float64)."""
    q = np.asarray(query, dtype=np.float64)
    x = np.asarray(data, dtype=np.float64)
    metric = metric.upper()
    if metric == "L2":
        return ((x - q) ** 2).sum(axis=1)  # squared, as Milvus reports it
    if metric == "IP":
        return x @ q
    if metric == "COSINE":
        return (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    raise ValueError(metric)


def higher_is_better(metric: str) -> bool:
    return metric.upper() in ("IP", "COSINE")


def expected_topk(metric: str, query, data, ids, k: int, mask=None):
    """[(id, score)] of the exact top-k, best first; `mask` restricts the candidates."""
    s = scores(metric, query, data)
    idx = np.arange(len(ids))
    if mask is not None:
        idx = idx[np.asarray(mask, dtype=bool)]
    order = idx[np.argsort(-s[idx] if higher_is_better(metric) else s[idx], kind="stable")]
    return [(ids[i], float(s[i])) for i in order[:k]]


def hit_id(hit):
    """Primary key of a search hit regardless of pymilvus's hit type."""
    return hit.id


def assert_sorted(metric: str, dists):
    dists = list(dists)
    if higher_is_better(metric):
        assert all(a >= b - 1e-6 for a, b in zip(dists, dists[1:])), dists
    else:
        assert all(a <= b + 1e-6 for a, b in zip(dists, dists[1:])), dists


def assert_hits_match(metric: str, hits, expected, tol: float = SCORE_TOL):
    """Hits equal the expected [(id, score)] list: same ids, same order, same scores."""
    got = [(hit_id(h), float(h["distance"])) for h in hits]
    assert len(got) == len(expected), f"got {got}\nexpected {expected}"
    assert_sorted(metric, [d for _, d in got])
    exp_scores = {i: s for i, s in expected}
    for (gid, gs), (eid, es) in zip(got, expected):
        if gid != eid:
            # A tie in score may swap two ids; anything else is a wrong answer.
            assert gid in exp_scores and abs(exp_scores[gid] - es) <= tol, (
                f"got {got}\nexpected {expected}"
            )
        assert abs(gs - es) <= tol, f"score of {gid}: got {gs}, expected {es}"


@contextmanager
def raises_milvus(max_seconds: float = 5.0):
    """Like pytest.raises(MilvusException), and also: the error came back promptly with an
    integer Milvus code. A gRPC-level error (which pymilvus retries until its timeout and then
    reports with a grpc.StatusCode as `code`) fails this check."""
    t0 = time.monotonic()
    with pytest.raises(MilvusException) as info:
        yield info
    elapsed = time.monotonic() - t0
    err = info.value
    assert isinstance(err.code, int) and not isinstance(err.code, bool), (
        f"not a Milvus status (gRPC-level error?): {err!r}"
    )
    assert elapsed < max_seconds, f"error took {elapsed:.1f} s (retried gRPC error?): {err!r}"


def milvus_error(fn, *args, **kwargs) -> MilvusException:
    """Call fn, require a prompt MilvusException with a Milvus code, and return it."""
    with raises_milvus() as info:
        fn(*args, **kwargs)
    return info.value


def assert_still_serving(client: MilvusClient):
    """The server answers ordinary requests after an error."""
    assert isinstance(client.list_collections(), list)
    assert client.get_server_version()


def simple_schema(dim: int = 8, dynamic: bool = False, auto_id: bool = False, extra=()):
    """id INT64 pk + vec FLOAT_VECTOR(dim) + optional extra (name, dtype, kwargs) fields."""
    schema = MilvusClient.create_schema(auto_id=auto_id, enable_dynamic_field=dynamic)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    for name, dtype, kw in extra:
        schema.add_field(name, dtype, **kw)
    return schema


def index_params(field: str = "vec", index_type: str = "FLAT", metric: str = "L2", **params):
    ip = MilvusClient.prepare_index_params()
    ip.add_index(field_name=field, index_type=index_type, metric_type=metric, params=params)
    return ip


def make_loaded_collection(
    client: MilvusClient,
    name: str,
    dim: int = 8,
    index_type: str = "FLAT",
    metric: str = "L2",
    dynamic: bool = False,
    extra=(),
    **params,
):
    """Create `name` with simple_schema + one vector index, then load it."""
    client.create_collection(
        name, schema=simple_schema(dim, dynamic=dynamic, extra=extra), timeout=T
    )
    client.create_index(name, index_params("vec", index_type, metric, **params), timeout=T)
    client.load_collection(name, timeout=T)


def count_rows(client: MilvusClient, name: str, **kwargs) -> int:
    res = client.query(name, filter="", output_fields=["count(*)"], **kwargs)
    return int(res[0]["count(*)"])
