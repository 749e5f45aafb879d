"""With S3 storage, sealed data lives only in the bucket: after a flush, the local data
directory can lose everything but the metadata store (`meta/`) and nothing is lost
(storage issue, item 3). Runs only when the suite is pointed at S3
(`QUIVER_TEST_STORAGE=s3://…`, as scripts/test.sh does in its second pass)."""

import os
import shutil

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from conftest import QuiverServer

pytestmark = pytest.mark.skipif(
    not os.environ.get("QUIVER_TEST_STORAGE"), reason="needs QUIVER_TEST_STORAGE=s3://…"
)


def test_flushed_data_survives_losing_everything_local_but_metadata(tmp_path):
    srv = QuiverServer(tmp_path / "data")
    srv.start()
    try:
        c = MilvusClient(uri=srv.uri, timeout=30, dedicated=True)
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=8)
        c.create_collection("s3_only", schema=schema)
        rng = np.random.default_rng(1)
        vecs = rng.standard_normal((500, 8)).astype(np.float32)
        c.insert("s3_only", [{"id": i, "v": vecs[i].tolist()} for i in range(500)])
        c.delete("s3_only", ids=[0, 1, 2])
        idx = MilvusClient.prepare_index_params()
        idx.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})
        c.create_index("s3_only", idx)
        c.flush("s3_only")
        c.close()
        srv.stop()
        # Lose every local file except the metadata store.
        for entry in (tmp_path / "data").iterdir():
            if entry.name != "meta":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        srv.start()
        c = MilvusClient(uri=srv.uri, timeout=30, dedicated=True)
        c.load_collection("s3_only")
        assert c.query("s3_only", filter="", output_fields=["count(*)"])[0]["count(*)"] == 497
        assert c.query("s3_only", filter="id in [0, 1, 2, 3]", output_fields=["id"]) == [{"id": 3}]
        hits = c.search("s3_only", data=[vecs[10].tolist()], limit=1,
                        search_params={"metric_type": "L2", "params": {"ef": 64}})
        assert hits[0][0]["id"] == 10
        c.close()
    finally:
        if srv.running():
            srv.kill()
