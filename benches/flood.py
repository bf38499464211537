#!/usr/bin/env python3
"""A CloudTrail file in which every record is a finding: one long-term access key
(`AKIA…`, an IAM user the sample configuration does not allow) downloading a bucket with
GetObject from one public address, as S3 data events log an exfiltration. All its
findings share one `long-term-access-key` alert key and one 15-minute window (the
records span four minutes), so what the alert batch holds per finding is what grows.
With `--sources N` the calls come from N addresses (IPv6, in turn): N alert keys.

    python3 benches/flood.py [--sources N] RECORDS OUT.json.gz
    TRAILWATCH_BENCH_FILE=OUT.json.gz cargo bench -p trailwatch-aws --bench lambda_path

About 790 bytes a record uncompressed; gzip level 6, like CloudTrail. Standard library only.
"""

import argparse
import gzip
import json
import random
import uuid


def record(i: int, n: int, sources: int, rnd: random.Random) -> dict:
    second = i * 240 // n
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAGEPAP5QVZ2DWKDVE4",
            "arn": "arn:aws:iam::111122223333:user/backup-bot",
            "accountId": "111122223333",
            "accessKeyId": "AKIA7YC2OX6QBLXP3WO4",
            "userName": "backup-bot",
        },
        "eventTime": "2026-11-30T09:%02d:%02dZ" % (31 + second // 60, second % 60),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "ap-southeast-1",
        "sourceIPAddress": "198.51.100.200" if sources == 1 else "2001:db8::%x" % (i % sources),
        "userAgent": "aws-cli/1.18.136 Python/3.8.5 Linux/5.4.0-1045-aws botocore/1.17.59",
        "requestParameters": {"bucketName": "orders-data", "key": "exports/part-%07d.parquet" % i},
        "responseElements": None,
        "requestID": "%016X" % rnd.getrandbits(64),
        "eventID": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": "111122223333",
        "eventCategory": "Data",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=int, help="how many records (each one a finding)")
    parser.add_argument("out", help="output file (gzip)")
    parser.add_argument("--sources", type=int, default=1, help="source addresses (alert keys)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    with gzip.open(args.out, "wt", compresslevel=6) as f:
        f.write('{"Records":[')
        for i in range(args.records):
            if i:
                f.write(",")
            f.write(json.dumps(record(i, args.records, args.sources, rnd), separators=(",", ":")))
        f.write("]}")


if __name__ == "__main__":
    main()
