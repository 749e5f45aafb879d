"""Hybrid search and rankers, as pymilvus 3.0 users call them.

Covers: `MilvusClient.hybrid_search` and `Collection.hybrid_search` over two dense fields with
different metrics (COSINE and L2), with `RRFRanker(k)` and `WeightedRanker(...)` (with and
without `norm_score`), each leg with its own filter and limit, nq > 1, `offset`, `output_fields`,
`partition_names`, `round_decimal` and `group_by_field`; the Milvus 2.6 function rerankers
(`Function(type=RERANK, params={"reranker": "decay" | "rrf" | "weighted", ...})`) on plain and
hybrid search; and the errors a user hits (weights that do not match the legs, RRF k out of
range, a limit+offset window too large, a decay over a VARCHAR field, a model reranker, which
calls an external service Quiver does not). Every fused result is checked against the same
fusion computed here from exact numpy scores of each leg (the legs are FLAT, hence exact), with
Milvus's formulas written out independently of the server.
"""

import math

import numpy as np
import pytest
from pymilvus import (
    AnnSearchRequest,
    Collection,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    RRFRanker,
    WeightedRanker,
)

from _util import T, milvus_error, rand_vectors, scores

DIM = 8
N = 400
TOL = 1e-5


@pytest.fixture
def coll(client, unique_name):
    """A collection with two dense fields (a: COSINE, b: L2), a timestamp-like INT64, a
    category and a partition; returns (name, vectors a, vectors b, ts, cat)."""
    name = unique_name("hyb")
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("a", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("b", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("ts", DataType.INT64)
    schema.add_field("cat", DataType.VARCHAR, max_length=16)
    idx = client.prepare_index_params()
    idx.add_index("a", index_type="FLAT", metric_type="COSINE")
    idx.add_index("b", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=idx)
    client.create_partition(name, "p1")
    va = rand_vectors(N, DIM, seed=1)
    vb = rand_vectors(N, DIM, seed=2)
    ts = np.arange(N) * 10
    cat = [f"c{i % 7}" for i in range(N)]
    rows = [
        {"id": i, "a": va[i].tolist(), "b": vb[i].tolist(), "ts": int(ts[i]), "cat": cat[i]}
        for i in range(N)
    ]
    client.insert(name, rows[: N // 2])
    client.insert(name, rows[N // 2 :], partition_name="p1")
    client.load_collection(name, timeout=T)
    yield name, va, vb, ts, cat
    client.drop_collection(name)


def leg_hits(metric, q, vecs, k, mask=None):
    """[(id, score)] exact top-k of one leg, best first (ties by id)."""
    s = scores(metric, q, vecs)
    ids = np.arange(len(vecs))
    if mask is not None:
        ids = ids[mask]
    key = (-s[ids]) if metric != "L2" else s[ids]
    order = ids[np.lexsort((ids, key))]
    return [(int(i), float(s[i])) for i in order[:k]]


def rrf(legs, k=60):
    out = {}
    for hits in legs:
        for rank, (pk, _) in enumerate(hits, start=1):
            out[pk] = out.get(pk, 0.0) + 1.0 / (k + rank)
    return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))


def norm(metric, s):
    if metric == "COSINE":
        return (1 + s) / 2
    if metric == "IP":
        return 0.5 + math.atan(s) / math.pi
    return 1 - 2 * math.atan(s) / math.pi  # L2


def weighted(legs, metrics, weights, norm_score):
    mixed = len(set(m == "L2" for m in metrics)) > 1
    out = {}
    for hits, m, w in zip(legs, metrics, weights):
        for pk, s in hits:
            if norm_score:
                s = norm(m, s)
            elif mixed and m == "L2":
                s = 1 - 2 * math.atan(s) / math.pi
            out[pk] = out.get(pk, 0.0) + w * s
    descending = norm_score or mixed or metrics[0] != "L2"
    return sorted(out.items(), key=lambda kv: ((-kv[1]) if descending else kv[1], kv[0]))


def decay_factor(func, origin, scale, offset, decay, x):
    d = max(0.0, abs(x - origin) - offset)
    if func == "gauss":
        return math.exp(d * d / (scale * scale / math.log(decay)))
    if func == "exp":
        return math.exp(math.log(decay) / scale * d)
    return max(decay, 1 - (1 - decay) / scale * d)


def assert_same(hits, want, tol=TOL):
    """Server hits equal the expected [(id, score)] list: scores within tol, ids equal except
    where two expected neighbours' scores are within tol (float32 vs float64 order)."""
    got = [(h["id"], h["distance"]) for h in hits]
    assert len(got) == len(want), (got, want)
    for (gid, gs), (wid, ws) in zip(got, want):
        assert abs(gs - ws) <= tol * max(1.0, abs(ws)), (got, want)
        if gid != wid:
            assert abs(dict(want).get(gid, 1e9) - ws) <= tol * max(1.0, abs(ws)), (got, want)


def test_rrf_fuses_two_legs_with_their_own_filters_and_limits(client, coll):
    name, va, vb, ts, cat = coll
    qa, qb = rand_vectors(2, DIM, seed=11), rand_vectors(2, DIM, seed=12)
    mask = ts >= 1000
    reqs = [
        AnnSearchRequest(qa.tolist(), "a", {"metric_type": "COSINE"}, limit=15),
        AnnSearchRequest(qb.tolist(), "b", {"metric_type": "L2"}, limit=25, expr="ts >= 1000"),
    ]
    res = client.hybrid_search(name, reqs, RRFRanker(20), limit=10, output_fields=["ts", "cat"])
    assert len(res) == 2
    for q in range(2):
        want = rrf(
            [leg_hits("COSINE", qa[q], va, 15), leg_hits("L2", qb[q], vb, 25, mask)], k=20
        )[:10]
        assert_same(res[q], want)
        for h in res[q]:
            assert h["entity"]["ts"] == ts[h["id"]] and h["entity"]["cat"] == cat[h["id"]]
    # offset skips fused hits, not each leg's
    page = client.hybrid_search(name, reqs, RRFRanker(20), limit=5, offset=3)
    full = rrf([leg_hits("COSINE", qa[0], va, 15), leg_hits("L2", qb[0], vb, 25, mask)], k=20)
    assert_same(page[0], full[3:8])


def test_rrf_default_k_and_round_decimal(client, coll):
    name, va, vb, _, _ = coll
    qa, qb = rand_vectors(1, DIM, seed=21)[0], rand_vectors(1, DIM, seed=22)[0]
    reqs = [
        AnnSearchRequest([qa.tolist()], "a", {}, limit=10),
        AnnSearchRequest([qb.tolist()], "b", {}, limit=10),
    ]
    res = client.hybrid_search(name, reqs, RRFRanker(), limit=8, round_decimal=3)
    want = rrf([leg_hits("COSINE", qa, va, 10), leg_hits("L2", qb, vb, 10)], k=60)[:8]
    assert [h["id"] for h in res[0]] == [pk for pk, _ in want]
    assert [h["distance"] for h in res[0]] == pytest.approx([round(s, 3) for _, s in want], abs=1e-6)


@pytest.mark.parametrize("norm_score", [True, False])
def test_weighted_ranker_normalises_per_metric(client, coll, norm_score):
    name, va, vb, _, _ = coll
    qa, qb = rand_vectors(1, DIM, seed=31)[0], rand_vectors(1, DIM, seed=32)[0]
    reqs = [
        AnnSearchRequest([qa.tolist()], "a", {"metric_type": "COSINE"}, limit=20),
        AnnSearchRequest([qb.tolist()], "b", {"metric_type": "L2"}, limit=20),
    ]
    res = client.hybrid_search(
        name, reqs, WeightedRanker(0.3, 0.7, norm_score=norm_score), limit=12
    )
    legs = [leg_hits("COSINE", qa, va, 20), leg_hits("L2", qb, vb, 20)]
    assert_same(res[0], weighted(legs, ["COSINE", "L2"], [0.3, 0.7], norm_score)[:12])


def test_weighted_over_l2_legs_alone_keeps_distances_ascending(client, coll):
    name, _, vb, _, _ = coll
    q1, q2 = rand_vectors(2, DIM, seed=41)
    reqs = [
        AnnSearchRequest([q1.tolist()], "b", {}, limit=10),
        AnnSearchRequest([q2.tolist()], "b", {}, limit=10),
    ]
    res = client.hybrid_search(name, reqs, WeightedRanker(0.5, 0.5, norm_score=False), limit=6)
    legs = [leg_hits("L2", q1, vb, 10), leg_hits("L2", q2, vb, 10)]
    want = weighted(legs, ["L2", "L2"], [0.5, 0.5], False)[:6]
    assert_same(res[0], want)
    assert [h["distance"] for h in res[0]] == sorted(h["distance"] for h in res[0])


def test_partition_names_and_group_by(client, coll):
    name, va, vb, _, cat = coll
    qa, qb = rand_vectors(1, DIM, seed=51)[0], rand_vectors(1, DIM, seed=52)[0]
    reqs = [
        AnnSearchRequest([qa.tolist()], "a", {}, limit=10),
        AnnSearchRequest([qb.tolist()], "b", {}, limit=10),
    ]
    res = client.hybrid_search(name, reqs, RRFRanker(), limit=10, partition_names=["p1"])
    in_p1 = np.arange(N) >= N // 2
    legs = [leg_hits("COSINE", qa, va, 10, in_p1), leg_hits("L2", qb, vb, 10, in_p1)]
    assert_same(res[0], rrf(legs)[:10])

    res = client.hybrid_search(
        name, reqs, RRFRanker(), limit=3, group_by_field="cat", group_size=2,
        output_fields=["cat"],
    )
    hits = res[0]
    groups = [h["entity"]["cat"] for h in hits]
    assert len(set(groups)) == 3 and all(groups.count(g) <= 2 for g in groups)
    # groups come out together, best group first
    firsts = [groups.index(g) for g in dict.fromkeys(groups)]
    assert firsts == sorted(firsts)
    assert [h["distance"] for h in hits[: groups.count(groups[0])]] == sorted(
        [h["distance"] for h in hits[: groups.count(groups[0])]], reverse=True
    )


def test_orm_hybrid_search(orm, coll):
    name, va, vb, _, _ = coll
    c = Collection(name, using=orm)
    qa, qb = rand_vectors(1, DIM, seed=61)[0], rand_vectors(1, DIM, seed=62)[0]
    reqs = [
        AnnSearchRequest([qa.tolist()], "a", {"metric_type": "COSINE", "params": {}}, limit=10),
        AnnSearchRequest([qb.tolist()], "b", {"metric_type": "L2", "params": {}}, limit=10),
    ]
    res = c.hybrid_search(reqs, WeightedRanker(0.6, 0.4), limit=5, output_fields=["ts"])
    legs = [leg_hits("COSINE", qa, va, 10), leg_hits("L2", qb, vb, 10)]
    want = weighted(legs, ["COSINE", "L2"], [0.6, 0.4], True)[:5]
    got = [(h.id, h.distance) for h in res[0]]
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=TOL)


@pytest.mark.parametrize("func", ["gauss", "exp", "linear"])
def test_decay_ranker_on_a_plain_search(client, coll, func):
    """The "recent memories first" ranking: similarity times a decay around a timestamp."""
    name, va, _, ts, _ = coll
    q = rand_vectors(1, DIM, seed=71)[0]
    params = {"reranker": "decay", "function": func, "origin": 3000, "scale": 500,
              "offset": 100, "decay": 0.5}
    ranker = Function(name="recency", input_field_names=["ts"],
                      function_type=FunctionType.RERANK, params=params)
    res = client.search(name, [q.tolist()], anns_field="a", limit=10, ranker=ranker,
                        search_params={"metric_type": "COSINE"}, output_fields=["ts"])
    hits = leg_hits("COSINE", q, va, 10)
    want = sorted(
        ((pk, s * decay_factor(func, 3000, 500, 100, 0.5, ts[pk])) for pk, s in hits),
        key=lambda kv: (-kv[1], kv[0]),
    )
    assert_same(res[0], want)
    assert all("ts" in h["entity"] for h in res[0])


def test_decay_ranker_on_hybrid_search_and_function_rrf(client, coll):
    name, va, vb, ts, _ = coll
    qa, qb = rand_vectors(1, DIM, seed=81)[0], rand_vectors(1, DIM, seed=82)[0]
    reqs = [
        AnnSearchRequest([qa.tolist()], "a", {}, limit=10),
        AnnSearchRequest([qb.tolist()], "b", {}, limit=10),
    ]
    legs = [leg_hits("COSINE", qa, va, 10), leg_hits("L2", qb, vb, 10)]
    ranker = Function(name="d", input_field_names=["ts"], function_type=FunctionType.RERANK,
                      params={"reranker": "decay", "function": "exp", "origin": 0,
                              "scale": 2000, "score_mode": "sum"})
    res = client.hybrid_search(name, reqs, ranker, limit=7)
    merged = {}
    for hits, m in zip(legs, ["COSINE", "L2"]):
        for pk, s in hits:
            s = s if m != "L2" else 1 - 2 * math.atan(s) / math.pi
            merged[pk] = merged.get(pk, 0.0) + s
    want = sorted(
        ((pk, s * decay_factor("exp", 0, 2000, 0, 0.5, ts[pk])) for pk, s in merged.items()),
        key=lambda kv: (-kv[1], kv[0]),
    )[:7]
    assert_same(res[0], want)

    fn_rrf = Function(name="r", input_field_names=[], function_type=FunctionType.RERANK,
                      params={"reranker": "rrf", "k": 30})
    res = client.hybrid_search(name, reqs, fn_rrf, limit=7)
    assert_same(res[0], rrf(legs, k=30)[:7])
    fn_w = Function(name="w", input_field_names=[], function_type=FunctionType.RERANK,
                    params={"reranker": "weighted", "weights": [0.9, 0.1], "norm_score": True})
    res = client.hybrid_search(name, reqs, fn_w, limit=7)
    assert_same(res[0], weighted(legs, ["COSINE", "L2"], [0.9, 0.1], True)[:7])


def test_ranker_errors_are_clear_and_the_server_keeps_serving(client, coll):
    name, _, _, _, _ = coll
    q = rand_vectors(1, DIM, seed=91)[0].tolist()
    reqs = [
        AnnSearchRequest([q], "a", {}, limit=5),
        AnnSearchRequest([q], "b", {}, limit=5),
    ]
    e = milvus_error(lambda: client.hybrid_search(name, reqs, WeightedRanker(0.5), limit=5))
    assert e.code == 1100 and "the length of weights param mismatch with ann search requests" in e.message
    e = milvus_error(lambda: client.hybrid_search(name, reqs, WeightedRanker(0.5, 1.5), limit=5))
    assert e.code == 1100 and "rank param weight should be in range [0, 1]" in e.message
    e = milvus_error(lambda: client.hybrid_search(name, reqs, RRFRanker(16384), limit=5))
    assert e.code == 1100 and "The rank params k should be in range (0, 16384)" in e.message
    e = milvus_error(lambda: client.hybrid_search(name, reqs, RRFRanker(), limit=16000, offset=1000))
    assert e.code == 1100 and "(offset+limit) should be in range [1, 16384]" in e.message
    bad_decay = Function(name="d", input_field_names=["cat"], function_type=FunctionType.RERANK,
                         params={"reranker": "decay", "function": "gauss", "origin": 0, "scale": 1})
    e = milvus_error(lambda: client.search(name, [q], anns_field="a", limit=5, ranker=bad_decay))
    assert e.code == 1100 and "decay input field cat must be numeric" in e.message
    no_scale = Function(name="d", input_field_names=["ts"], function_type=FunctionType.RERANK,
                        params={"reranker": "decay", "function": "gauss", "origin": 0})
    e = milvus_error(lambda: client.search(name, [q], anns_field="a", limit=5, ranker=no_scale))
    assert e.code == 1101 and "decay scale not specified" in e.message
    model = Function(name="m", input_field_names=["cat"], function_type=FunctionType.RERANK,
                     params={"reranker": "model", "provider": "tei", "queries": ["x"],
                             "endpoint": "http://127.0.0.1:1"})
    e = milvus_error(lambda: client.hybrid_search(name, reqs, model, limit=5))
    assert e.code == 1100 and "external model service" in e.message
    e = milvus_error(lambda: client.search(name, [q], anns_field="a", limit=5, ranker=model))
    assert e.code == 1100 and "external model service" in e.message
    # still serving
    assert len(client.hybrid_search(name, reqs, RRFRanker(), limit=5)[0]) == 5
