"""Partitions are capped per collection as in Milvus, and each one costs little metadata.

Milvus refuses the partition past `rootCoord.maxPartitionNum` (1,024 by default) with
`partition number (N) exceeds max configuration (N), collection: C`, and checks a
partition-key collection's `num_partitions` against the same cap; Quiver's cap is
`[limits] max_partitions`. The default case also checks that 1,024 partitions keep the
metadata store small (it used to grow by ~100 KB per partition).
"""

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from conftest import QuiverServer


def schema(partition_key=False):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("k", DataType.INT64, is_partition_key=partition_key)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    return s


def dir_bytes(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.mark.timeout_s(120)
def test_configured_cap_on_create_partition_and_num_partitions(tmp_path):
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[limits]\nmax_partitions = 8\n")
    srv = QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)])
    srv.start()
    try:
        c = MilvusClient(uri=srv.uri, dedicated=True, timeout=30)
        c.create_collection("capped", schema=schema())
        for i in range(7):
            c.create_partition("capped", f"p{i}")
        assert len(c.list_partitions("capped")) == 8
        c.create_partition("capped", "p0")  # an existing name is not a new partition
        with pytest.raises(MilvusException) as exc:
            c.create_partition("capped", "one_too_many")
        assert exc.value.code == 1100
        assert "partition number (8) exceeds max configuration (8), collection: capped" in exc.value.message
        c.drop_partition("capped", "p3")
        c.create_partition("capped", "again")
        assert len(c.list_partitions("capped")) == 8

        with pytest.raises(MilvusException) as exc:
            c.create_collection("keyed", schema=schema(partition_key=True), num_partitions=9)
        assert exc.value.code == 1100
        assert "partition number (9) exceeds max configuration (8), collection: keyed" in exc.value.message
        c.create_collection("keyed", schema=schema(partition_key=True), num_partitions=8)
        assert len(c.list_partitions("keyed")) == 8
        c.close()

        # The partitions, their order and the cap survive a restart.
        srv.restart()
        c = MilvusClient(uri=srv.uri, dedicated=True, timeout=30)
        names = c.list_partitions("capped")
        assert names[0] == "_default" and names[-1] == "again" and "p3" not in names
        with pytest.raises(MilvusException):
            c.create_partition("capped", "still_too_many")
        c.close()
    finally:
        srv.kill()


@pytest.mark.timeout_s(300)
def test_default_cap_is_1024_and_metadata_stays_small(fresh_server, unique_name):
    c = MilvusClient(uri=fresh_server.uri, dedicated=True, timeout=30)
    name = unique_name()
    c.create_collection(name, schema=schema())
    meta = fresh_server.data_dir / "meta"
    start = dir_bytes(meta)
    for i in range(1023):
        c.create_partition(name, f"p{i}")
    with pytest.raises(MilvusException) as exc:
        c.create_partition(name, "p1023")
    assert "partition number (1024) exceeds max configuration (1024)" in exc.value.message
    grown = dir_bytes(meta) - start
    # ~100 bytes of record per partition plus the store's own overhead; it used to be
    # tens of kilobytes per partition (the whole collection rewritten each time).
    assert grown < 8 * 1024 * 1024, grown
    c.close()
