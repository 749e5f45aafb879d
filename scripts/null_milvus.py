#!/usr/bin/env python3
"""A "null" Milvus server: answers the calls the e2e benchmark makes, instantly.

    python scripts/null_milvus.py --port P [--dim 1536] [--workers 8]

Built on pymilvus's own generated servicer (pymilvus.grpc_gen.milvus_pb2_grpc), so the
client side is exactly the unmodified pymilvus used against Quiver. Running the same
insert/search loops against it measures what the pymilvus client itself costs (the
client-side limit of scripts/bench_e2e.py).

Answers:
  Connect            -> success, fixed identifier
  DescribeCollection -> a fixed schema like the bench's (id INT64 pk, vector FLOAT_VECTOR
                        dim, tenant INT64), whatever collection name is asked for
  Insert             -> MutationResult with int IDs 0..n-1 and insert_cnt = n
  Search             -> 10 fixed hits per query (topks = [10]*nq), primary_field_name "id"
  everything else    -> the generated servicer's UNIMPLEMENTED
Prints "listening on 127.0.0.1:P" to stderr when ready.
"""

import argparse
import sys
import time
from concurrent import futures

import grpc
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc, schema_pb2

TOPK = 10


def _ok():
    return common_pb2.Status(error_code=common_pb2.Success, code=0)


def _ts():
    # A hybrid-timestamp-shaped value (physical ms << 18); only echoed by the client.
    return int(time.time() * 1000) << 18


class NullMilvus(milvus_pb2_grpc.MilvusServiceServicer):
    def __init__(self, dim: int):
        self.dim = dim
        self.hit_ids = list(range(TOPK))
        self.hit_scores = [1.0 - 0.01 * i for i in range(TOPK)]

    def Connect(self, request, context):
        return milvus_pb2.ConnectResponse(
            status=_ok(),
            server_info=common_pb2.ServerInfo(build_tags="null-milvus", deploy_mode="STANDALONE"),
            identifier=1,
        )

    def DescribeCollection(self, request, context):
        fields = [
            schema_pb2.FieldSchema(
                fieldID=100, name="id", is_primary_key=True, data_type=schema_pb2.DataType.Int64
            ),
            schema_pb2.FieldSchema(
                fieldID=101,
                name="vector",
                data_type=schema_pb2.DataType.FloatVector,
                type_params=[common_pb2.KeyValuePair(key="dim", value=str(self.dim))],
            ),
            schema_pb2.FieldSchema(
                fieldID=102, name="tenant", data_type=schema_pb2.DataType.Int64
            ),
        ]
        name = request.collection_name or "bench"
        return milvus_pb2.DescribeCollectionResponse(
            status=_ok(),
            schema=schema_pb2.CollectionSchema(name=name, fields=fields),
            collectionID=1,
            collection_name=name,
            shards_num=1,
            consistency_level=common_pb2.Bounded,
            created_timestamp=_ts(),
            db_name=request.db_name or "default",
        )

    def Insert(self, request, context):
        n = int(request.num_rows)
        return milvus_pb2.MutationResult(
            status=_ok(),
            IDs=schema_pb2.IDs(int_id=schema_pb2.LongArray(data=range(n))),
            insert_cnt=n,
            timestamp=_ts(),
        )

    def Search(self, request, context):
        nq = int(request.nq)
        if nq <= 0:
            pg = common_pb2.PlaceholderGroup.FromString(request.placeholder_group)
            nq = sum(len(p.values) for p in pg.placeholders) or 1
        return milvus_pb2.SearchResults(
            status=_ok(),
            results=schema_pb2.SearchResultData(
                num_queries=nq,
                top_k=TOPK,
                ids=schema_pb2.IDs(int_id=schema_pb2.LongArray(data=self.hit_ids * nq)),
                scores=self.hit_scores * nq,
                topks=[TOPK] * nq,
                primary_field_name="id",
            ),
            collection_name=request.collection_name,
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dim", type=int, default=1536)
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=a.workers),
        options=[
            ("grpc.max_receive_message_length", 512 * 1024 * 1024),
            ("grpc.max_send_message_length", 512 * 1024 * 1024),
        ],
    )
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(NullMilvus(a.dim), server)
    bound = server.add_insecure_port(f"{a.host}:{a.port}")
    if bound == 0:
        print(f"null_milvus: cannot bind {a.host}:{a.port}", file=sys.stderr)
        sys.exit(1)
    server.start()
    print(f"null_milvus listening on {a.host}:{bound}", file=sys.stderr, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(0)


if __name__ == "__main__":
    main()
