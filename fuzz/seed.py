#!/usr/bin/env python3
"""Seed the fuzz corpora from samples/ (stdlib only, deterministic).

    python3 fuzz/seed.py            # writes fuzz/corpus/<target>/ (gitignored)

Every target gets inputs in the shape it reads: `decode` the files as they are (gzip
or plain), `splitter` their decompressed bytes behind its control byte, `record` and `skim` single
records, `envelope` documents and records behind its shape byte. The fuzzers' own
findings accumulate in the same directories between runs; seeding again only adds.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "samples"
CORPUS = HERE / "corpus"
# Inputs over this are left out: libFuzzer would truncate them (-max_len) anyway.
MAX_SEED = 256 << 10
INPUT_SUFFIXES = (".json", ".json.gz", ".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".gz")


def put(target: str, data: bytes) -> None:
    if not data or len(data) > MAX_SEED:
        return
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def inflate(raw: bytes) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        # Multi-member and truncated streams: take what decodes.
        return zlib.decompressobj(wbits=31).decompress(raw)
    except zlib.error:
        return b""


def records(text: bytes):
    """The records of a CloudTrail file, an NDJSON file or an envelope (best effort)."""
    docs = []
    # RecursionError: Python's json recurses per level (samples/adversarial nests 100 000).
    try:
        docs = [json.loads(text)]
    except (ValueError, RecursionError):
        for line in text.splitlines():
            try:
                docs.append(json.loads(line))
            except (ValueError, RecursionError):
                pass
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("Records"), list):
            yield from doc["Records"]
        elif isinstance(doc.get("logEvents"), list):
            for event in doc["logEvents"]:
                if isinstance(event, dict) and isinstance(event.get("message"), str):
                    try:
                        yield json.loads(event["message"])
                    except (ValueError, RecursionError):
                        pass
        elif isinstance(doc.get("detail"), dict):
            yield doc["detail"]
        elif "eventName" in doc:
            yield doc


def main() -> None:
    files = sorted(
        p for p in SAMPLES.rglob("*")
        if p.is_file() and p.name.endswith(INPUT_SUFFIXES) and not p.name.endswith(".expected")
    )
    seen_records = set()
    for path in files:
        raw = path.read_bytes()
        plain = inflate(raw)
        put("decode", raw)
        put("splitter", b"\xe0" + plain)  # 32 KiB pieces, one read
        put("splitter", b"\x07" + plain)  # 256 B pieces, 7-byte reads
        put("envelope", b"\x00" + plain)
        for record in records(plain):
            if not isinstance(record, dict):
                continue
            blob = json.dumps(record, separators=(",", ":")).encode()
            # One of each (eventSource, eventName, errorCode): enough shapes, few seeds.
            shape = (record.get("eventSource"), record.get("eventName"), record.get("errorCode"))
            if repr(shape) in seen_records:
                continue
            seen_records.add(repr(shape))
            put("record", blob)
            put("skim", blob)
            put("envelope", bytes([1 + len(seen_records) % 6]) + blob)
        if b'"awslogs"' in plain:
            try:
                data = json.loads(plain)["awslogs"]["data"]
                put("envelope", b"\x01" + gzip.decompress(base64.b64decode(data)))
            except (ValueError, KeyError, TypeError, OSError, RecursionError):
                pass
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"fuzz/corpus/{target}: {len(list((CORPUS / target).iterdir()))} inputs")


if __name__ == "__main__":
    main()
