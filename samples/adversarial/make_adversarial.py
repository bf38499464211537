#!/usr/bin/env python3
"""Regenerate samples/adversarial/: broken and hostile input, on purpose (stdlib only).

    python3 samples/adversarial/make_adversarial.py          # write the files
    python3 samples/adversarial/make_adversarial.py --check  # exit 1 if any is stale

Every file is one case; what the engine must do with it (a named error, counted bad or
skipped records, which canaries still fire) is asserted in tests/adversarial.rs, which
also generates the cases too big to commit (gzip bombs, a million records, records past
max_record_bytes). The canary is a record signed with a long-term key: it fires
`long-term-access-key` with no configuration, so "the good record beside the bad one
still yields its finding" needs no config.

The file names avoid `.json`, `.json.gz`, `.ndjson` and `.ndjson.gz`: the golden test
(tests/golden.rs) replays every such file under samples/ and expects a clean run. A
directory replay still reads these (`.jsonl`, `.jsonl.gz`, `.gz`).

Deterministic: gzip with mtime 0, one seeded random.Random, no clock.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECK = "--check" in sys.argv[1:]
RNG = random.Random(20261201)

AKIA = "AKIAIOSFODNN7EXAMPLE"
ACCOUNT = "111122223333"
# Must never appear in a finding or in replay output (tests/adversarial.rs checks).
SECRET_CANARY = "TWCANARY-5e1f0c9a-credential-material"
LONG = 100_000  # characters in a hostile string

OUTPUTS: dict[str, bytes] = {}


def dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def lines(*docs) -> bytes:
    return b"".join((d if isinstance(d, bytes) else dumps(d)) + b"\n" for d in docs)


def out(name: str, data: bytes) -> None:
    assert name not in OUTPUTS, name
    assert not name.endswith((".json", ".json.gz", ".ndjson", ".ndjson.gz")), name
    OUTPUTS[name] = data


def canary(event_id: str, **extra) -> dict:
    """A call signed with a long-term key: `long-term-access-key` fires on it."""
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEEXAMPLE01",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/canary",
            "accountId": ACCOUNT,
            "accessKeyId": AKIA,
            "userName": "canary",
        },
        "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "ap-southeast-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    record.update(extra)
    return record


def filler(n: int) -> list[dict]:
    """Ordinary records that fire nothing (random ids so gzip cannot squash them)."""
    records = []
    for _ in range(n):
        rid = "%032x" % RNG.getrandbits(128)
        records.append({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/{rid[:12]}",
                             "accountId": ACCOUNT, "accessKeyId": "ASIA" + rid[:16].upper()},
            "eventTime": "2026-11-30T10:00:01Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
            "awsRegion": "ap-southeast-1", "sourceIPAddress": "10.0.1.2", "vpcEndpointId": "vpce-0a1b2c3d",
            "userAgent": "aws-sdk-go-v2/1.30.0", "requestParameters": {"bucketName": "b", "key": rid},
            "eventID": rid, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT,
        })
    return records


def batch(records: list) -> bytes:
    return dumps({"Records": records})


def insight(event_id: str) -> dict:
    # Insights records carry no userIdentity; this one has an AKIA key anyway, so a
    # record that is not skipped would fire.
    return {
        "eventVersion": "1.08", "eventTime": "2026-11-30T10:00:00Z", "awsRegion": "ap-southeast-1",
        "eventID": event_id, "eventType": "AwsCloudTrailInsight", "recipientAccountId": ACCOUNT,
        "sharedEventID": "5e1b2c3d-0000-4000-8000-000000000001", "eventCategory": "Insight",
        "userIdentity": {"type": "IAMUser", "accessKeyId": AKIA},
        "insightDetails": {"state": "Start", "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
                           "insightType": "ApiCallRateInsight",
                           "insightContext": {"statistics": {"baseline": {"average": 0.01},
                                                             "insight": {"average": 5.0}}}},
    }


def digest() -> dict:
    return {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2026-11-30T09:00:00Z",
        "digestEndTime": "2026-11-30T10:00:00Z",
        "digestS3Bucket": "aws-cloudtrail-logs-111122223333",
        "digestS3Object": f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/ap-southeast-1/2026/11/30/"
                          f"{ACCOUNT}_CloudTrail-Digest_ap-southeast-1_trail_ap-southeast-1_20261130T100000Z.json.gz",
        "digestPublicKeyFingerprint": "0123456789abcdef0123456789abcdef",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": "2026-11-30T09:59:58Z",
        "oldestEventTime": "2026-11-30T09:00:03Z",
        "previousDigestS3Bucket": None,
        "previousDigestS3Object": None,
        "previousDigestHashValue": None,
        "previousDigestHashAlgorithm": None,
        "previousDigestSignature": None,
        "logFiles": [{
            "s3Bucket": "aws-cloudtrail-logs-111122223333",
            "s3Object": f"AWSLogs/{ACCOUNT}/CloudTrail/ap-southeast-1/2026/11/30/"
                        f"{ACCOUNT}_CloudTrail_ap-southeast-1_20261130T0905Z_nl3lR8wX1CmE0CpM.json.gz",
            "hashValue": "%064x" % RNG.getrandbits(256),
            "hashAlgorithm": "SHA-256",
            "newestEventTime": "2026-11-30T09:04:59Z",
            "oldestEventTime": "2026-11-30T09:00:03Z",
        }],
    }


def cwl(messages: list[str], kind: str = "DATA_MESSAGE") -> dict:
    return {"messageType": kind, "owner": ACCOUNT, "logGroup": "aws-cloudtrail-logs", "logStream": "s",
            "subscriptionFilters": ["trailwatch"],
            "logEvents": [{"id": str(i), "timestamp": 1796032800000, "message": m} for i, m in enumerate(messages)]}


def awslogs(payload: bytes) -> dict:
    return {"awslogs": {"data": base64.b64encode(payload).decode()}}


def hostile(n: int) -> str:
    """A caller-chosen string: control characters, ANSI, quotes, Markdown, then `n` more."""
    return ("evil\"\\\n\r\t\x00\x07\x1b[31mRED\x1b[0m\x1b]8;;http://evil\x07link\x1b]8;;\x07 "
            "[click](http://evil) `rm -rf /` <script>alert(1)</script> \u202eRTL\u2028LS "
            + "A" * n)


# --------------------------------------------------------------------------- cases

def gzip_cases() -> None:
    whole = gz(batch([canary("truncated-before-cut")] + filler(40) + [canary("truncated-after-cut")]))
    out("truncated-gzip.jsonl.gz", whole[: len(whole) * 2 // 3])
    out("not-gzip.gz", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(RNG.getrandbits(8) for _ in range(200)))
    out("gzip-header-garbage.gz", b"\x1f\x8b" + bytes(RNG.getrandbits(8) for _ in range(200)))
    good = bytearray(gz(batch([canary("bad-crc-content")])))
    good[-8] ^= 0xFF  # CRC-32 of the member: the content decodes, the check fails at the end
    out("gzip-bad-crc.jsonl.gz", bytes(good))
    # Block-padded copies end in NULs; GNU gzip ignores them, flate2 reads a bad header.
    out("gzip-trailing-garbage.jsonl.gz", gz(batch([canary("before-trailing-garbage")])) + b"\x00" * 512)
    out("multi-member-with-empty.jsonl.gz",
        gz(batch([canary("member-1")])) + gz(b"") + gz(batch([canary("member-3")])))
    out("plain-json-named.gz", batch([canary("plain-named-gz")]))
    out("gzip-named.jsonl", gz(batch([canary("gzip-named-jsonl")])))


def empty_cases() -> None:
    out("empty.jsonl", b"")
    out("empty.gz", b"")
    out("empty-member.jsonl.gz", gz(b""))
    out("whitespace.jsonl", b" \n\t\r\n  \n")
    out("empty-records.jsonl", b'{"Records": []}')


def shape_cases() -> None:
    out("good-canary.jsonl", lines(canary("good-canary")))
    out("record-not-object.jsonl", lines(
        b'{"Records":[42,"' + AKIA.encode() + b'",null,true,[' + dumps(canary("in-an-array")) + b"],"
        + dumps(canary("not-object-neighbour")) + b"]}",
        b'{"Records":"' + AKIA.encode() + b'"}',
        b"[" + dumps(canary("top-level-array")) + b"]",
        b"42",
        b'"a string"',
        b"null",
    ))
    out("scalar-first.jsonl", lines(b"42", canary("after-scalar")))
    out("bom.jsonl", b"\xef\xbb\xbf" + lines(canary("after-bom")))
    nested_wrong = canary(
        "wrong-types-nested", eventSource="sts.amazonaws.com", eventName="AssumeRoleWithWebIdentity",
        errorCode="AccessDenied", errorMessage=["not", "a", "string"],
        userIdentity={"type": "WebIdentityUser", "userName": "system:serviceaccount:shop:orders",
                      "identityProvider": {"arn": "not a string"}, "accessKeyId": 7,
                      "sessionContext": {"sessionIssuer": "arn", "ec2RoleDelivery": 1.0}},
        requestParameters={"roleArn": 5, "durationSeconds": "900", "tags": {"key": "eks-cluster-name"},
                           "roleSessionName": None},
        responseElements={"credentials": "ASIA-not-an-object", "assumedRoleUser": "arn",
                          "subjectFromWebIdentityToken": 1})
    out("wrong-types.jsonl", lines(
        {"eventName": 5, "eventSource": ["s3"], "eventID": {"id": 1}, "userIdentity": AKIA,
         "eventTime": 1796032800},
        {k: None for k in ["eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
                           "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
                           "responseElements", "eventID", "eventType", "recipientAccountId", "vpcEndpointId"]},
        {"eventName": None, "eventID": None,
         "userIdentity": {k: None for k in ["type", "principalId", "arn", "accountId", "accessKeyId", "userName",
                                            "identityProvider", "invokedBy", "sessionContext"]}},
        canary("wrong-types-akia", userAgent=12, sourceIPAddress={"ip": "198.51.100.7"}, eventTime=1796032800,
               awsRegion=True, requestParameters="a string", responseElements=[1], recipientAccountId=111122223333,
               errorCode=False, eventSource=None,
               userIdentity={"type": [], "arn": 7, "accountId": None, "accessKeyId": AKIA,
                             "sessionContext": "not an object"}),
        nested_wrong,
        canary("bad-times", eventTime="not a time"),
        canary("far-future", eventTime="9999-12-31T23:59:59Z"),
        canary("far-past", eventTime="0001-01-01T00:00:00Z"),
        b'{"eventName":"AssumeRole","eventID":"huge-number","requestParameters":{"durationSeconds":1e400}}',
        b'{"eventName":"AssumeRole","eventID":"big-integer","requestParameters":{"durationSeconds":18446744073709551616}}',
        canary("wrong-types-neighbour"),
    ))
    n = 100_000
    deep_arrays = "[" * n + "1" + "]" * n
    deep_objects = '{"a":' * n + "1" + "}" * n
    out("deep-nesting.jsonl.gz", gz(lines(
        dumps(canary("deep-arrays", requestParameters=None)).replace(b'"requestParameters":null',
                                                                     b'"requestParameters":' + deep_arrays.encode()),
        dumps(canary("deep-objects", responseElements=None)).replace(b'"responseElements":null',
                                                                     b'"responseElements":' + deep_objects.encode()),
        deep_arrays.encode(),
        canary("deep-neighbour"),
    )))
    big = canary("big-300k", requestParameters={"items": [{"k": "v%03d" % (i % 100)} for i in range(23_500)]})
    assert 300_000 <= len(dumps(big)) < 1 << 20, len(dumps(big))
    out("big-record-300k.jsonl.gz", gz(batch([big, canary("big-neighbour")])))
    out("concatenated.jsonl", batch([canary("concat-1")]) + batch([canary("concat-2")]) + b"\r\n"
        + dumps(canary("crlf-line")) + b"\r\n")
    out("stray-delimiters.jsonl", lines(canary("stray-before")) + b"]\n}\n,\n" + lines(canary("stray-after")))
    out("records-unterminated.jsonl", b'{"Records":[' + dumps(canary("unterminated-first")) + b",")
    out("unterminated-string.jsonl", lines(canary("string-first")) + b'{"eventName":"abc\\')


def encoding_cases() -> None:
    def with_ua(event_id: str, raw_ua: bytes) -> bytes:
        return dumps(canary(event_id, userAgent="@UA@")).replace(b'"@UA@"', raw_ua)

    out("invalid-utf8.jsonl", b"\n".join([
        with_ua("raw-ff", b'"bad \xff byte"'),
        with_ua("overlong", b'"\xc0\xaf"'),
        with_ua("cesu-surrogate", b'"\xed\xa0\x80"'),
        with_ua("cut-multibyte", b'"\xe6\x97"'),
        with_ua("lone-high", b'"\\ud800"'),
        with_ua("lone-high-then-text", b'"\\ud800tail"'),
        with_ua("lone-low", b'"\\udc00"'),
        with_ua("high-then-non-low", b'"\\ud800\\u0041"'),
        with_ua("bad-hex", b'"\\uZZZZ"'),
        with_ua("surrogate-pair", b'"\\ud83d\\ude80"'),
        dumps(canary("utf8-neighbour")),
    ]) + b"\n")


def duplicate_cases() -> None:
    akia_id = dumps({"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/dup", "accessKeyId": AKIA})
    asia_id = dumps({"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s",
                     "accessKeyId": "ASIAIOSFODNN7EXAMPLE"})

    def two_identities(event_id: str, first: bytes, second: bytes) -> bytes:
        body = dumps(canary(event_id, userIdentity=None))
        return body.replace(b'"userIdentity":null', b'"userIdentity":' + first + b',"userIdentity":' + second)

    out("duplicate-keys.jsonl", lines(
        two_identities("dup-identity-akia-last", asia_id, akia_id),
        two_identities("dup-identity-akia-first", akia_id, asia_id),
        dumps(canary("dup-key-id")).replace(
            f'"accessKeyId":"{AKIA}"'.encode(), f'"accessKeyId":"{AKIA}","accessKeyId":"ASIAIOSFODNN7EXAMPLE"'.encode()),
        dumps(canary("dup-event-id-1")).replace(b'"eventID":"dup-event-id-1"',
                                                 b'"eventID":"dup-event-id-1","eventID":"dup-event-id-2"'),
        b'{"Records":[' + dumps(canary("dup-records-1")) + b'],"Records":[' + dumps(canary("dup-records-2")) + b"]}",
        b'{"x":0,"Records":[' + dumps(canary("dup-doc-1")) + b'],"Records":[' + dumps(canary("dup-doc-2")) + b"]}",
    ))


def misleading_name_cases() -> None:
    # Named like log files (`<acct>_CloudTrail_<region>_<time>_<id>`), not like digests or insights.
    out(f"{ACCOUNT}_CloudTrail_ap-southeast-1_20261130T1000Z_DigestInDisguise.jsonl.gz", gz(dumps(digest())))
    out(f"{ACCOUNT}_CloudTrail_ap-southeast-1_20261130T1005Z_InsightInDisguise.jsonl.gz",
        gz(batch([insight("insight-in-batch"), canary("insight-neighbour")])))
    out("insight-shapes.jsonl", lines(
        insight("insight-bare"),
        {"version": "0", "detail-type": "AWS Insight via CloudTrail", "source": "aws.iam",
         "detail": insight("insight-eventbridge")},
        cwl([json.dumps(insight("insight-cwl"))]),
        canary("insight-shapes-neighbour"),
    ))


def awslogs_cases() -> None:
    good_payload = dumps(cwl(["hello, not json", "42", json.dumps(canary("awslogs-inner"))]))
    urlsafe = base64.urlsafe_b64encode(gz(good_payload)).decode()
    assert "-" in urlsafe or "_" in urlsafe
    mime = base64.encodebytes(gz(good_payload)).decode()
    assert "\n" in mime.strip()
    out("awslogs-bad.jsonl", lines(
        {"awslogs": {"data": "!!!not base64!!!"}},
        {"awslogs": {"data": base64.b64encode(b"hello").decode()}},
        awslogs(gz(good_payload)[:40]),
        {"awslogs": {"data": base64.b64encode(gz(good_payload)).decode().rstrip("=") + "A"}},
        {"awslogs": {"data": urlsafe}},
        {"awslogs": {"data": mime}},
        {"awslogs": {"data": 5}},
        awslogs(gz(good_payload)),
        awslogs(gz(dumps(awslogs(gz(good_payload))))),
        canary("awslogs-neighbour"),
    ))


def hostile_cases() -> None:
    h = hostile(LONG)
    subject = "system:serviceaccount:" + h + ":" + h
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/{h}"
    out("hostile-strings.jsonl.gz", gz(lines(
        # Two records: all of these in one would pass max_record_bytes (1 MiB) and be skipped.
        canary("hostile-akia-1", userAgent=h, sourceIPAddress=h, awsRegion=h, eventName=h),
        canary("hostile-akia-2", eventSource=h, recipientAccountId=h, eventTime=h,
               userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/" + h,
                             "accountId": h, "accessKeyId": AKIA + h, "userName": h}),
        canary("hostile-irsa", eventSource="sts.amazonaws.com", eventName="AssumeRoleWithWebIdentity",
               errorCode="AccessDenied", errorMessage=h, userAgent=h,
               userIdentity={"type": "WebIdentityUser", "principalId": f"{oidc}:sts.amazonaws.com:{subject}",
                             "userName": subject, "identityProvider": oidc},
               requestParameters={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/" + h, "roleSessionName": h},
               responseElements=None),
        canary("hostile-pod-identity", eventSource="eks-auth.amazonaws.com", eventName="AssumeRoleForPodIdentity",
               errorCode="AccessDeniedException" + h, errorMessage=h, userAgent=h,
               userIdentity={"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{h}/i-0abc",
                             "accountId": ACCOUNT, "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
                             "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{h}"},
                                                "ec2RoleDelivery": "1.0"}},
               requestParameters={"clusterName": h, "token": "HIDDEN"}),
        canary("hostile-imdsv1", eventSource="ec2.amazonaws.com", eventName="DescribeInstances", userAgent=h,
               userIdentity={"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{h}/i-0abc",
                             "accountId": ACCOUNT, "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
                             "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{h}"},
                                                "ec2RoleDelivery": "1.0"}}),
        canary("hostile-config-change", eventSource="iam.amazonaws.com", eventName="CreateAccessKey",
               userAgent=h, requestParameters={"userName": h}),
        canary("hostile-pod-association", eventSource="eks.amazonaws.com",
               eventName="CreatePodIdentityAssociation", userAgent=h,
               requestParameters={"clusterName": h, "namespace": h, "serviceAccount": h,
                                  "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{h}"}),
    )))
    creds = {"accessKeyId": "ASIA" + "Q" * 16, "secretAccessKey": SECRET_CANARY,
             "sessionToken": SECRET_CANARY, "expiration": "Nov 30, 2026, 11:00:00 AM"}
    out("credential-canary.jsonl", lines(
        canary("canary-secrets", requestParameters={"token": SECRET_CANARY, "sessionToken": SECRET_CANARY},
               responseElements={"credentials": creds, "sessionToken": SECRET_CANARY},
               additionalEventData={"sessionToken": SECRET_CANARY}),
        canary("canary-irsa", eventSource="sts.amazonaws.com", eventName="AssumeRoleWithWebIdentity",
               userIdentity={"type": "WebIdentityUser", "userName": "system:serviceaccount:shop:orders",
                             "identityProvider": f"arn:aws:iam::{ACCOUNT}:oidc-provider/"
                                                 "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLE"},
               requestParameters={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/orders", "token": SECRET_CANARY,
                                  "webIdentityToken": SECRET_CANARY},
               responseElements={"credentials": creds,
                                 "assumedRoleUser": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/orders/s"}}),
        canary("canary-irsa-failed", eventSource="sts.amazonaws.com", eventName="AssumeRoleWithWebIdentity",
               errorCode="AccessDenied", errorMessage="Not authorized",
               userIdentity={"type": "WebIdentityUser", "userName": "system:serviceaccount:shop:orders",
                             "identityProvider": f"arn:aws:iam::{ACCOUNT}:oidc-provider/"
                                                 "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLE",
                             "sessionToken": SECRET_CANARY},
               requestParameters={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/orders", "token": SECRET_CANARY},
               responseElements=None),
        canary("canary-stitched", eventName="GetObject",
               userIdentity={"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/orders/s",
                             "accessKeyId": creds["accessKeyId"], "sessionToken": SECRET_CANARY}),
    ))


def main() -> None:
    gzip_cases()
    empty_cases()
    shape_cases()
    encoding_cases()
    duplicate_cases()
    misleading_name_cases()
    awslogs_cases()
    hostile_cases()
    total = sum(len(d) for d in OUTPUTS.values())
    assert total < 200_000, f"corpus is {total} bytes; generate big cases in the test instead"
    known = set(OUTPUTS) | {"make_adversarial.py", "README.md"}
    stale = [p.name for p in sorted(HERE.iterdir()) if p.name not in known]
    for name, data in OUTPUTS.items():
        path = HERE / name
        if CHECK:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
    if CHECK:
        for name in stale:
            print(f"stale: samples/adversarial/{name} (run python3 samples/adversarial/make_adversarial.py)",
                  file=sys.stderr)
        print(f"adversarial: {len(OUTPUTS)} files checked ({total} bytes), {len(stale)} stale")
        sys.exit(1 if stale else 0)
    for name in stale:
        print(f"not generated by this script: samples/adversarial/{name}", file=sys.stderr)
    print(f"adversarial: {len(OUTPUTS)} files, {total} bytes")


if __name__ == "__main__":
    main()
