#!/usr/bin/env python3
"""Regenerate proto/{common,schema,rg,milvus}.proto from the descriptors shipped in pymilvus.

The installed pymilvus (`pymilvus/grpc_gen/*_pb2.py`) is the ground truth for field numbers,
types and names. This script reads its serialized FileDescriptorProtos and writes trimmed .proto
sources:

* common.proto, schema.proto and rg.proto (resource-group configs): every message and enum (all
  cheap).
* milvus.proto: the RPCs in `RPCS` and `UNSUPPORTED_RPCS` below (every unary RPC of pymilvus's
  MilvusService whose types we can declare; `SKIPPED_RPCS` lists the rest with the reason) and
  the messages they reach (transitively).
* Custom options (`privilege_ext_obj`), extensions and the dependencies on descriptor.proto,
  msg.proto and feder.proto are dropped; fields whose type lives in one of those files
  are left out and noted in a comment. `deprecated` options become comments (prost would turn
  them into `#[deprecated]`, and `Status.error_code` must still be set).

Usage:  .venv/bin/python scripts/dump_pymilvus_protos.py [OUT_DIR]   (default: proto/)
"""

from __future__ import annotations

import sys
from pathlib import Path

from google.protobuf import descriptor_pb2
from pymilvus.grpc_gen import common_pb2, milvus_pb2, rg_pb2, schema_pb2

# RPCs of milvus.proto.milvus.MilvusService that Quiver declares (the lead implements each).
RPCS = [
    # connection / health / misc
    "Connect", "GetVersion", "CheckHealth", "AllocTimestamp", "GetComponentStates", "GetMetrics",
    # collections
    "CreateCollection", "DropCollection", "HasCollection", "DescribeCollection", "ShowCollections",
    "GetCollectionStatistics", "AlterCollection", "AlterCollectionField", "RenameCollection",
    "TruncateCollection", "AddCollectionField",
    # partitions
    "CreatePartition", "DropPartition", "HasPartition", "ShowPartitions", "LoadPartitions",
    "ReleasePartitions", "GetPartitionStatistics",
    # data
    "Insert", "Upsert", "Delete", "Flush", "GetFlushState", "FlushAll", "GetFlushAllState",
    # indexes
    "CreateIndex", "DescribeIndex", "DropIndex", "AlterIndex", "GetIndexState",
    "GetIndexBuildProgress", "GetIndexStatistics",
    # load
    "LoadCollection", "ReleaseCollection", "GetLoadState", "GetLoadingProgress",
    # search / query
    "Search", "HybridSearch", "Query",
    # aliases
    "CreateAlias", "DropAlias", "AlterAlias", "DescribeAlias", "ListAliases",
    # databases
    "CreateDatabase", "DropDatabase", "ListDatabases", "DescribeDatabase", "AlterDatabase",
    # credentials / RBAC
    "CreateCredential", "UpdateCredential", "DeleteCredential", "ListCredUsers",
    "CreateRole", "DropRole", "AlterRole", "OperateUserRole", "SelectRole", "SelectUser",
    "OperatePrivilege", "OperatePrivilegeV2", "SelectGrant",
    # ops
    "GetReplicas", "GetPersistentSegmentInfo", "GetQuerySegmentInfo", "ManualCompaction",
    "GetCompactionState", "GetCompactionStateWithPlans", "LoadBalance",
    # resource groups
    "CreateResourceGroup", "DropResourceGroup", "UpdateResourceGroups", "TransferNode",
    "TransferReplica", "ListResourceGroups", "DescribeResourceGroup",
]

# The rest of pymilvus's MilvusService, declared so that each answers in-band
# ("<Rpc> is not supported by Quiver", src/proxy/misc.rs) instead of gRPC UNIMPLEMENTED.
UNSUPPORTED_RPCS = [
    "BatchDescribeCollection", "AddCollectionFunction", "AlterCollectionFunction",
    "DropCollectionFunction", "Prewarm", "DescribePrewarmTask",
    "CreateNamespace", "DescribeNamespace", "ListNamespaces", "DropNamespace", "HasNamespace",
    "GetNamespaceStats",
    "CalcDistance", "AddCollectionStructField", "Dummy", "RegisterLink",
    "Import", "GetImportState", "ListImportTasks",
    "ReplicateMessage", "BackupRBAC", "RestoreRBAC",
    "CreatePrivilegeGroup", "DropPrivilegeGroup", "ListPrivilegeGroups", "OperatePrivilegeGroup",
    "RunAnalyzer", "AddFileResource", "RemoveFileResource", "ListFileResources",
    "AddUserTags", "DeleteUserTags", "GetUserTags", "ListUsersWithTag",
    "CreateRowPolicy", "DropRowPolicy", "ListRowPolicies",
    "UpdateReplicateConfiguration", "GetReplicateConfiguration",
    "ComputePhraseMatchSlop",
    "CreateSnapshot", "DropSnapshot", "ListSnapshots", "DescribeSnapshot", "RestoreSnapshot",
    "RestoreExternalSnapshot", "ExportSnapshot", "GetExportSnapshotState",
    "GetRestoreSnapshotState", "ListRestoreSnapshotJobs", "PinSnapshotData", "UnpinSnapshotData",
    "BatchUpdateManifest", "RefreshExternalCollection",
    "GetRefreshExternalCollectionProgress", "ListRefreshExternalCollectionJobs",
]

# RPCs of pymilvus's MilvusService that are deliberately not declared (-> gRPC UNIMPLEMENTED).
SKIPPED_RPCS = {
    # streaming: the in-band "not supported" answer needs a unary response
    "CreateReplicateStream": "bidirectional streaming",
    "DumpMessages": "server streaming",
    # request and response live in milvus.proto.feder (feder.proto), which we do not compile;
    # a stand-in cannot be declared in milvus.proto under that package name
    "ListIndexedSegment": "types in milvus.proto.feder",
    "DescribeSegmentIndexData": "types in milvus.proto.feder",
    # pymilvus's add_collection_field tries AlterCollectionSchema first and falls back to the
    # AddCollectionField RPC (which Quiver serves) only on gRPC UNIMPLEMENTED (or one specific
    # "external collection" status): an in-band "not supported" would break add_collection_field
    "AlterCollectionSchema": "UNIMPLEMENTED drives pymilvus's add_collection_field fallback",
    # GetReplicateInfoResponse has no status field: an in-band answer would read as success
    "GetReplicateInfo": "response has no status field",
}

DECLARED_RPCS = RPCS + UNSUPPORTED_RPCS

# Packages whose types we never emit: fields referring to them are dropped.
DROPPED_PACKAGES = ("milvus.proto.msg.", "milvus.proto.feder.", "google.protobuf.")

T = descriptor_pb2.FieldDescriptorProto
SCALAR_NAMES = {
    T.TYPE_DOUBLE: "double", T.TYPE_FLOAT: "float", T.TYPE_INT64: "int64", T.TYPE_UINT64: "uint64",
    T.TYPE_INT32: "int32", T.TYPE_FIXED64: "fixed64", T.TYPE_FIXED32: "fixed32", T.TYPE_BOOL: "bool",
    T.TYPE_STRING: "string", T.TYPE_BYTES: "bytes", T.TYPE_UINT32: "uint32", T.TYPE_SFIXED32: "sfixed32",
    T.TYPE_SFIXED64: "sfixed64", T.TYPE_SINT32: "sint32", T.TYPE_SINT64: "sint64",
}


def file_proto(mod) -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto.FromString(mod.DESCRIPTOR.serialized_pb)


FILES = {
    "common": file_proto(common_pb2),
    "schema": file_proto(schema_pb2),
    "rg": file_proto(rg_pb2),
    "milvus": file_proto(milvus_pb2),
}


def index_types():
    """Full name ('.pkg.Msg.Nested') -> (DescriptorProto|EnumDescriptorProto, kind, top-level full name)."""
    out = {}
    for fd in FILES.values():
        pkg = "." + fd.package

        def walk(msgs, enums, prefix, top):
            for e in enums:
                full = f"{prefix}.{e.name}"
                out[full] = (e, "enum", top or full)
            for m in msgs:
                full = f"{prefix}.{m.name}"
                out[full] = (m, "message", top or full)
                walk(m.nested_type, m.enum_type, full, top or full)

        walk(fd.message_type, fd.enum_type, pkg, None)
    return out


TYPES = index_types()


def dropped(type_name: str) -> bool:
    return type_name.lstrip(".").startswith(DROPPED_PACKAGES) or not type_name.startswith(".milvus.proto.")


def milvus_closure() -> set[str]:
    """Top-level milvus.proto message/enum full names reachable from the chosen RPCs."""
    svc = next(s for s in FILES["milvus"].service if s.name == "MilvusService")
    methods = {m.name: m for m in svc.method}
    missing = [r for r in DECLARED_RPCS if r not in methods]
    if missing:
        raise SystemExit(f"RPCs not in pymilvus MilvusService: {missing}")
    dup = sorted({r for r in DECLARED_RPCS if DECLARED_RPCS.count(r) > 1} | (set(DECLARED_RPCS) & set(SKIPPED_RPCS)))
    if dup:
        raise SystemExit(f"RPCs listed twice: {dup}")
    unlisted = [r for r in methods if r not in DECLARED_RPCS and r not in SKIPPED_RPCS]
    if unlisted:
        raise SystemExit(f"pymilvus MilvusService RPCs neither declared nor skipped: {unlisted}")
    for r in DECLARED_RPCS:
        m = methods[r]
        if m.client_streaming or m.server_streaming:
            raise SystemExit(f"streaming RPC {r} cannot be declared")
        for t in (m.input_type, m.output_type):
            if dropped(t):
                raise SystemExit(f"RPC {r} uses {t} from a file we do not include")
    seen: set[str] = set()
    todo = []
    for r in DECLARED_RPCS:
        todo += [methods[r].input_type, methods[r].output_type]
    while todo:
        name = todo.pop()
        if name in seen or dropped(name):
            continue
        seen.add(name)
        desc, kind, top = TYPES[name]
        if top != name:
            todo.append(top)
        if kind == "message":
            stack = [desc]
            while stack:
                d = stack.pop()
                stack.extend(d.nested_type)
                for f in d.field:
                    if f.type_name:
                        todo.append(f.type_name)
    return {n for n in seen if n.startswith(".milvus.proto.milvus.") and TYPES[n][2] == n}


def type_ref(type_name: str, pkg: str) -> str:
    if type_name.startswith(f".{pkg}."):
        return type_name[len(pkg) + 2:]
    if type_name.startswith(".milvus.proto."):
        # `common.Status` / `schema.IDs`: resolved relative to the milvus.proto scope, as upstream.
        return type_name[len(".milvus.proto."):]
    return type_name  # fully qualified with leading dot


def opts(options, extra=()) -> str:
    items = list(extra)
    if hasattr(options, "packed") and options.HasField("packed"):
        items.append(f"packed = {'true' if options.packed else 'false'}")
    return f" [{', '.join(items)}]" if items else ""


def depr(options) -> str:
    """`deprecated` is kept only as a comment: as an option, prost would emit `#[deprecated]`
    and every use (e.g. the still-required `Status.error_code`) would fail `-D warnings`."""
    return "  // deprecated upstream" if options.HasField("deprecated") and options.deprecated else ""


def field_type(f, pkg, map_entries) -> str:
    if f.type in (T.TYPE_MESSAGE, T.TYPE_ENUM, T.TYPE_GROUP):
        if f.type_name in map_entries:
            k, v = map_entries[f.type_name]
            return f"map<{field_type(k, pkg, {})}, {field_type(v, pkg, {})}>"
        return type_ref(f.type_name, pkg)
    return SCALAR_NAMES[f.type]


def render_enum(e, ind) -> list[str]:
    lines = [f"{ind}enum {e.name} {{"]
    if e.options.HasField("allow_alias") and e.options.allow_alias:
        lines.append(f"{ind}  option allow_alias = true;")
    if e.options.HasField("deprecated") and e.options.deprecated:
        lines[-1] += "  // deprecated upstream"
    for v in e.value:
        lines.append(f"{ind}  {v.name} = {v.number}{opts(v.options)};{depr(v.options)}")
    for r in e.reserved_range:
        lines.append(f"{ind}  reserved {r.start} to {r.end};" if r.end != r.start else f"{ind}  reserved {r.start};")
    for n in e.reserved_name:
        lines.append(f'{ind}  reserved "{n}";')
    lines.append(f"{ind}}}")
    return lines


def render_message(m, full, pkg, ind) -> list[str]:
    lines = [f"{ind}message {m.name} {{"]
    if m.options.HasField("deprecated") and m.options.deprecated:
        lines[-1] += "  // deprecated upstream"
    map_entries = {}
    for n in m.nested_type:
        if n.options.map_entry:
            map_entries[f"{full}.{n.name}"] = (n.field[0], n.field[1])
    for e in m.enum_type:
        lines += render_enum(e, ind + "  ")
    for n in m.nested_type:
        if not n.options.map_entry:
            lines += render_message(n, f"{full}.{n.name}", pkg, ind + "  ")

    def is_dropped(f):
        if f.type_name in map_entries:
            return any(g.type_name and dropped(g.type_name) for g in map_entries[f.type_name])
        return bool(f.type_name) and dropped(f.type_name)

    def fline(f, ind2):
        if is_dropped(f):
            if f.type_name in map_entries:
                k, v = map_entries[f.type_name]
                shown = f"map<{field_type(k, pkg, {})}, {v.type_name.lstrip('.')}>"
            else:
                shown = ("repeated " if f.label == T.LABEL_REPEATED else "") + f.type_name.lstrip(".")
            return f"{ind2}// dropped: {shown} {f.name} = {f.number};  (type not included)"
        label = ""
        if f.label == T.LABEL_REPEATED and f.type_name not in map_entries:
            label = "repeated "
        elif f.proto3_optional:
            label = "optional "
        return f"{ind2}{label}{field_type(f, pkg, map_entries)} {f.name} = {f.number}{opts(f.options)};{depr(f.options)}"

    real_oneofs = {}
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            real_oneofs.setdefault(f.oneof_index, []).append(f)
    done_oneofs = set()
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            idx = f.oneof_index
            if idx in done_oneofs:
                continue
            done_oneofs.add(idx)
            members = real_oneofs[idx]
            kept = [g for g in members if not is_dropped(g)]
            if kept:
                lines.append(f"{ind}  oneof {m.oneof_decl[idx].name} {{")
                lines += [fline(g, ind + "    ") for g in members]
                lines.append(f"{ind}  }}")
            else:
                lines += [fline(g, ind + "  ") for g in members]
        else:
            lines.append(fline(f, ind + "  "))
    for r in m.reserved_range:
        end = r.end - 1  # exclusive in descriptors
        lines.append(f"{ind}  reserved {r.start};" if end == r.start else f"{ind}  reserved {r.start} to {end};")
    for n in m.reserved_name:
        lines.append(f'{ind}  reserved "{n}";')
    lines.append(f"{ind}}}")
    return lines


HEADER = """\
// Generated by scripts/dump_pymilvus_protos.py from the descriptors shipped in pymilvus {ver}
// (pymilvus/grpc_gen/{name}_pb2.py). Field numbers, names and types are wire facts of the Milvus
// protocol; keep them identical (tests/compat/test_proto_drift.py checks this).
// Custom options (privilege_ext_obj), extensions and dependencies on descriptor.proto, msg.proto
// and feder.proto are dropped; fields typed with those are commented out as "dropped".
syntax = "proto3";

package {package};
"""


def render_file(key: str, keep_top: set[str] | None) -> str:
    import pymilvus

    fd = FILES[key]
    pkg = fd.package
    out = [HEADER.format(ver=pymilvus.__version__, name=key, package=pkg)]
    deps = [d for d in fd.dependency if d in ("common.proto", "schema.proto", "rg.proto")]
    for d in deps:
        out.append(f'import "{d}";')
    if deps:
        out.append("")
    for e in fd.enum_type:
        if keep_top is None or f".{pkg}.{e.name}" in keep_top:
            out += render_enum(e, "")
            out.append("")
    for m in fd.message_type:
        full = f".{pkg}.{m.name}"
        if keep_top is None or full in keep_top:
            out += render_message(m, full, pkg, "")
            out.append("")
    for s in fd.service:
        if s.name != "MilvusService":
            continue
        out.append(f"service {s.name} {{")
        by_name = {mm.name: mm for mm in s.method}
        for r in DECLARED_RPCS:
            mm = by_name[r]
            out.append(f"  rpc {mm.name}({type_ref(mm.input_type, pkg)}) returns ({type_ref(mm.output_type, pkg)}) {{}}")
        out.append("}")
        out.append("")
    return "\n".join(out)


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = milvus_closure()
    (out_dir / "common.proto").write_text(render_file("common", None))
    (out_dir / "schema.proto").write_text(render_file("schema", None))
    (out_dir / "rg.proto").write_text(render_file("rg", None))
    (out_dir / "milvus.proto").write_text(render_file("milvus", keep))
    print(
        f"wrote {out_dir}: {len(DECLARED_RPCS)} RPCs ({len(RPCS)} implemented, "
        f"{len(UNSUPPORTED_RPCS)} answered 'not supported'; skipped: {', '.join(SKIPPED_RPCS)}), "
        f"{len(keep)} top-level milvus.proto types"
    )


if __name__ == "__main__":
    main()
