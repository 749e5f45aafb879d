"""Drift test: Quiver's proto/*.proto against the descriptors shipped in the installed pymilvus.

Compiles proto/{common,schema,rg,milvus}.proto with grpc_tools.protoc into a FileDescriptorSet and
compares every message, enum, field and RPC we declare with pymilvus's own descriptors
(`pymilvus/grpc_gen/*_pb2.py`). Anything we declare that differs from pymilvus fails the test;
fields/values/RPCs pymilvus has and we leave out are only reported (printed, see `pytest -s`).

Self-contained: needs neither the Quiver server nor any conftest fixture.
Run: .venv/bin/python -m pytest tests/compat/test_proto_drift.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = Path(os.environ.get("QUIVER_PROTO_DIR", REPO / "proto"))  # override to test a copy
PROTO_FILES = ["common.proto", "schema.proto", "rg.proto", "milvus.proto"]
SERVICE = "milvus.proto.milvus.MilvusService"

# RPCs pymilvus needs for connect + create + insert + index + load + search/query + flush.
REQUIRED_RPCS = [
    "Connect", "DescribeCollection", "CreateCollection", "Insert", "Search", "Query",
    "CreateIndex", "DescribeIndex", "LoadCollection", "GetLoadingProgress", "Flush",
    "GetFlushState",
]

F = descriptor_pb2.FieldDescriptorProto


# --------------------------------------------------------------------------------------------
# Loading both sides as {full_name: DescriptorProto / EnumDescriptorProto}
# --------------------------------------------------------------------------------------------

def _index(files):
    """Return (messages, enums, services) keyed by full name with a leading dot."""
    messages, enums, services = {}, {}, {}

    def walk(prefix, msgs, ens):
        for e in ens:
            enums[f"{prefix}.{e.name}"] = e
        for m in msgs:
            full = f"{prefix}.{m.name}"
            messages[full] = m
            walk(full, m.nested_type, m.enum_type)

    for fd in files:
        prefix = "." + fd.package if fd.package else ""
        walk(prefix, fd.message_type, fd.enum_type)
        for s in fd.service:
            services[f"{prefix}.{s.name}"] = s
    return messages, enums, services


def _compile_ours(tmp_dir: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    out = tmp_dir / "quiver.pb"
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--descriptor_set_out={out}",
        "--include_imports",
        *[str(PROTO_DIR / f) for f in PROTO_FILES],
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_dir, env=os.environ.copy())
    assert res.returncode == 0, f"protoc failed on our protos:\n{res.stdout}\n{res.stderr}"
    fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    names = [f.name for f in fds.file]
    for f in PROTO_FILES:
        assert f in names, f"{f} missing from compiled set {names}"
    # Our protos must not pull in anything else (descriptor.proto, msg.proto, feder.proto, ...).
    extra = sorted(set(names) - set(PROTO_FILES))
    assert not extra, f"our protos import unexpected files: {extra}"
    return list(fds.file)


def _pymilvus_files() -> list[descriptor_pb2.FileDescriptorProto]:
    from pymilvus.grpc_gen import common_pb2, feder_pb2, milvus_pb2, msg_pb2, rg_pb2, schema_pb2

    return [
        descriptor_pb2.FileDescriptorProto.FromString(m.DESCRIPTOR.serialized_pb)
        for m in (common_pb2, schema_pb2, milvus_pb2, msg_pb2, rg_pb2, feder_pb2)
    ]


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    files = _compile_ours(tmp_path_factory.mktemp("proto_drift"))
    return _index(files)


@pytest.fixture(scope="module")
def theirs():
    return _index(_pymilvus_files())


# --------------------------------------------------------------------------------------------
# Field comparison helpers
# --------------------------------------------------------------------------------------------

def _is_map(field, messages) -> bool:
    if field.type != F.TYPE_MESSAGE or field.label != F.LABEL_REPEATED:
        return False
    entry = messages.get(field.type_name)
    return bool(entry is not None and entry.options.map_entry)


def _oneof_of(msg, field):
    """Name of the real (non-synthetic) oneof a field belongs to, or None."""
    if field.HasField("oneof_index") and not field.proto3_optional:
        return msg.oneof_decl[field.oneof_index].name
    return None


def _describe(field, msg, messages):
    """Wire-relevant shape of a field as a comparable dict."""
    d = {
        "name": field.name,
        "type": F.Type.Name(field.type),
        "label": F.Label.Name(field.label),
        "type_name": field.type_name or None,
        "oneof": _oneof_of(msg, field),
        "proto3_optional": field.proto3_optional,
        "map": _is_map(field, messages),
    }
    if d["map"]:
        entry = messages[field.type_name]
        d["map_kv"] = tuple((F.Type.Name(f.type), f.type_name or None) for f in entry.field)
    return d


def _compare_message(full, our_msg, their_msg, ours_msgs, theirs_msgs, problems, info):
    their_fields = {f.number: f for f in their_msg.field}
    our_numbers = set()
    for f in our_msg.field:
        our_numbers.add(f.number)
        tf = their_fields.get(f.number)
        where = f"{full[1:]}.{f.name} (= {f.number})"
        if tf is None:
            problems.append(f"{where}: field number not present in pymilvus")
            continue
        od = _describe(f, our_msg, ours_msgs)
        td = _describe(tf, their_msg, theirs_msgs)
        for key in od:
            if od[key] != td.get(key):
                problems.append(f"{where}: {key} differs: ours={od[key]!r} pymilvus={td.get(key)!r}")
    for num, tf in sorted(their_fields.items()):
        if num not in our_numbers:
            info.append(f"{full[1:]}: omitted field {tf.name} = {num} ({tf.type_name or F.Type.Name(tf.type)})")
    our_oneofs = {o.name for o in our_msg.oneof_decl}
    for o in our_oneofs:
        if o not in {x.name for x in their_msg.oneof_decl}:
            problems.append(f"{full[1:]}: oneof {o} not present in pymilvus")


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

def test_messages_match_pymilvus(ours, theirs):
    ours_msgs, _, _ = ours
    theirs_msgs, _, _ = theirs
    problems, info = [], []
    for full, msg in sorted(ours_msgs.items()):
        if msg.options.map_entry:
            continue  # compared through the owning map field
        their = theirs_msgs.get(full)
        if their is None:
            problems.append(f"message {full[1:]} does not exist in pymilvus")
            continue
        _compare_message(full, msg, their, ours_msgs, theirs_msgs, problems, info)
    for line in info:
        print("INFO", line)
    assert not problems, "proto drift vs pymilvus:\n  " + "\n  ".join(problems)


def test_enums_match_pymilvus(ours, theirs):
    _, ours_enums, _ = ours
    _, theirs_enums, _ = theirs
    problems, info = [], []
    for full, enum in sorted(ours_enums.items()):
        their = theirs_enums.get(full)
        if their is None:
            problems.append(f"enum {full[1:]} does not exist in pymilvus")
            continue
        their_values = {v.name: v.number for v in their.value}
        for v in enum.value:
            if v.name not in their_values:
                problems.append(f"{full[1:]}.{v.name}: value not present in pymilvus")
            elif their_values[v.name] != v.number:
                problems.append(f"{full[1:]}.{v.name}: ours={v.number} pymilvus={their_values[v.name]}")
        for name in sorted(set(their_values) - {v.name for v in enum.value}):
            info.append(f"{full[1:]}: omitted value {name} = {their_values[name]}")
    for line in info:
        print("INFO", line)
    assert not problems, "enum drift vs pymilvus:\n  " + "\n  ".join(problems)


def test_rpcs_match_pymilvus(ours, theirs):
    _, _, our_services = ours
    _, _, their_services = theirs
    svc_key = "." + SERVICE
    assert svc_key in our_services, f"service {SERVICE} not declared in proto/milvus.proto"
    their_methods = {m.name: m for m in their_services[svc_key].method}
    problems = []
    for m in our_services[svc_key].method:
        t = their_methods.get(m.name)
        if t is None:
            problems.append(f"rpc {m.name} does not exist in pymilvus {SERVICE}")
            continue
        if (m.input_type, m.output_type) != (t.input_type, t.output_type):
            problems.append(
                f"rpc {m.name}: ours ({m.input_type}) -> {m.output_type}, "
                f"pymilvus ({t.input_type}) -> {t.output_type}"
            )
        if m.client_streaming or m.server_streaming or t.client_streaming or t.server_streaming:
            problems.append(f"rpc {m.name}: streaming mismatch / unexpected streaming")
    declared = {m.name for m in our_services[svc_key].method}
    print(f"INFO declared {len(declared)} of {len(their_methods)} pymilvus RPCs; not declared:",
          ", ".join(sorted(set(their_methods) - declared)))
    assert not problems, "rpc drift vs pymilvus:\n  " + "\n  ".join(problems)


def test_required_rpcs_declared(ours):
    _, _, our_services = ours
    svc = our_services.get("." + SERVICE)
    assert svc is not None, f"service {SERVICE} not declared"
    declared = {m.name for m in svc.method}
    missing = [r for r in REQUIRED_RPCS if r not in declared]
    assert not missing, f"required RPCs not declared: {missing}"


def test_every_declared_type_is_self_contained(ours):
    """Every message/enum referenced by a field or RPC we declare is declared by us too."""
    ours_msgs, ours_enums, our_services = ours
    known = set(ours_msgs) | set(ours_enums)
    missing = []
    for full, msg in ours_msgs.items():
        for f in msg.field:
            if f.type_name and f.type_name not in known:
                missing.append(f"{full[1:]}.{f.name} -> {f.type_name}")
    for svc in our_services.values():
        for m in svc.method:
            for t in (m.input_type, m.output_type):
                if t not in known:
                    missing.append(f"rpc {m.name} -> {t}")
    assert not missing, "unresolved types:\n  " + "\n  ".join(missing)
