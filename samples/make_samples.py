#!/usr/bin/env python3
"""Regenerate trailwatch's sample data set (deterministic, Python 3.11 stdlib only).

    python3 samples/make_samples.py

Writes every input under samples/ and, beside each, `<input file name>.expected`: one
`<detection-id> <eventID>` line per expected finding, sorted, UTF-8, trailing newline
(empty when nothing should fire). The expectations are annotated by hand on each record
below (`batch.add(record, "<detection-id>", ...)`) from the detection rules in
samples/README.md; they are ground truth written independently of the engine.

Determinism: every id comes from one seeded random.Random consumed in program order,
gzip uses mtime=0 and level 6, JSON keeps CloudTrail's key order. Editing a scenario
changes the ids generated after it; that is expected, re-run and commit everything.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import sys
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RNG = random.Random(20261130)
UTC = timezone.utc

ACCOUNT = "111122223333"
TRUSTED_OTHER_ACCOUNT = "444455556666"
REGION = "ap-southeast-1"
CLUSTER = "prod"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
OIDC_ID = "EXAMPLED539D4633E53DE1B71EXAMPLE"
OIDC_HOST = f"oidc.eks.{REGION}.amazonaws.com/id/{OIDC_ID}"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_HOST}"
# An EKS issuer of another cluster ("staging") that was never registered in this account.
UNREGISTERED_OIDC_HOST = f"oidc.eks.{REGION}.amazonaws.com/id/EXAMPLE7F3C1A0B9D8E6F5A4BEXAMPLE"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB_OIDC_HOST}"
EKS_CA_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"

NAT_A, NAT_B = "52.1.2.3", "52.1.2.4"
ATTACKER_IP = "198.51.100.23"
OFFICE_IP = "203.0.113.50"

TRAIL_BUCKET = f"aws-cloudtrail-logs-{ACCOUNT}-3f9a1c2b"
TRAIL_NAME = "management-events"
LOG_PREFIX = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/30"
DIGEST_PREFIX = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/30"

# --------------------------------------------------------------------------- ids

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"


def rand_str(n: int, alphabet: str) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def uid() -> str:
    return str(uuid.UUID(int=RNG.getrandbits(128), version=4))


def asia() -> str:
    return "ASIA" + rand_str(16, B32)


def akia() -> str:
    return "AKIA" + rand_str(16, B32)


def aroa() -> str:
    return "AROA" + rand_str(17, B32)


def aida() -> str:
    return "AIDA" + rand_str(17, B32)


def hexs(n: int) -> str:
    return rand_str(n, HEX)


def s3_request_id() -> str:
    return rand_str(16, "0123456789ABCDEF")


def amz_id2() -> str:
    return base64.b64encode(bytes(RNG.getrandbits(8) for _ in range(57))).decode()


ROLES = [
    "prod-node-role",
    "prod-production-order-service",
    "prod-production-payment-service",
    "prod-monitoring-prometheus",
    "prod-kube-system-external-dns",
    "prod-kube-system-ebs-csi",
    "Admin",
    "ReadOnly",
    "github-actions-deploy",
    "bastion-instance-role",
    "prod-node-role-gpu",
    "aws:ec2-instance",
    "reporting-lambda-role",
]
ROLE_PID = {r: aroa() for r in ROLES}
ROLE_PID["shared-artifacts-reader"] = aroa()


def role_arn(role: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{role}"


VPCE = {
    svc: "vpce-0" + hexs(16)
    for svc in [
        "sts", "s3", "dynamodb", "ecr", "ecr-dkr", "ec2", "logs", "monitoring", "ssm",
        "ssmmessages", "ec2messages", "eks", "eks-auth", "sqs", "kms", "secretsmanager",
        "autoscaling",
    ]
}

# --------------------------------------------------------------------------- time


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def human(t: datetime) -> str:
    """The 'Nov 30, 2026, 10:02:11 AM' form CloudTrail uses in STS/IAM responses."""
    h = t.hour % 12 or 12
    return f"{t:%b} {t.day}, {t.year}, {h}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def minor(ver: str) -> int:
    return int(ver.split(".")[1])


ALL_RECORDS: list[dict] = []


class Batch:
    """Records of one output file, in time order, with their expected findings."""

    def __init__(self, hhmm: str, gap: tuple[int, int], minutes: int = 5):
        self.end = datetime(2026, 11, 30, int(hhmm[:2]), int(hhmm[2:]), tzinfo=UTC)
        self.start = self.end - timedelta(minutes=minutes)
        self.t = self.start
        self.gap = gap
        self.records: list[dict] = []
        self.expected: list[str] = []

    def tick(self) -> datetime:
        self.t += timedelta(seconds=RNG.randint(*self.gap))
        if self.t >= self.end:
            raise SystemExit(f"batch ending {iso(self.end)} overflows its window")
        return self.t

    def add(self, rec: dict, *detections: str) -> dict:
        self.records.append(rec)
        ALL_RECORDS.append(rec)
        self.expected += [f"{d} {rec['eventID']}" for d in detections]
        return rec


# --------------------------------------------------------------------------- records


def is_vpc_ip(ip: str) -> bool:
    return ip.startswith("10.")


def default_host(svc: str, region: str) -> str:
    if svc == "eks-auth":
        return f"eks-auth.{region}.api.aws"
    if svc in ("iam", "route53"):
        return f"{svc}.amazonaws.com"
    if svc == "ecr":
        return f"api.ecr.{region}.amazonaws.com"
    if svc == "ecr-public":
        return "api.ecr-public.us-east-1.amazonaws.com"
    if svc == "s3":
        return f"s3.{region}.amazonaws.com"
    return f"{svc}.{region}.amazonaws.com"


def ev(b: Batch, ident: dict, source: str, name: str, ip: str, ua: str, *, t=None,
       ver="1.08", region=REGION, err=None, req=None, resp=None, extra=None,
       read_only=True, resources=None, data=False, vpce=None, host=None, tls=True,
       tls12=False, shared=False, console=False, request_id=None) -> dict:
    """One CloudTrail record, keys in the order CloudTrail writes them."""
    t = b.tick() if t is None else t
    svc = source.removesuffix(".amazonaws.com")
    if vpce is None:
        vpce = VPCE[svc] if is_vpc_ip(ip) else False
    r = {
        "eventVersion": ver,
        "userIdentity": ident,
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if err:
        r["errorCode"], r["errorMessage"] = err
    r["requestParameters"] = req
    r["responseElements"] = resp(t) if callable(resp) else resp
    if extra is not None:
        r["additionalEventData"] = extra
    r["requestID"] = request_id or uid()
    r["eventID"] = uid()
    r["readOnly"] = read_only
    if resources is not None:
        r["resources"] = resources
    r["eventType"] = "AwsApiCall"
    r["managementEvent"] = not data
    r["recipientAccountId"] = ACCOUNT
    if shared:
        r["sharedEventID"] = uid()
    if vpce:
        r["vpcEndpointId"] = vpce
        if minor(ver) >= 9:
            r["vpcEndpointAccountId"] = ACCOUNT
    r["eventCategory"] = "Data" if data else "Management"
    if tls:
        r["tlsDetails"] = {
            "tlsVersion": "TLSv1.2" if tls12 else "TLSv1.3",
            "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256" if tls12 else "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host or default_host(svc, region),
        }
    if console:
        r["sessionCredentialFromConsole"] = "true"
    return r


# --------------------------------------------------------------------------- identities


def session(kind, role, name, ip, ua, created, *, key=None, delivery="2.0",
            provider=None, mfa="false"):
    return {"kind": kind, "role": role, "name": name, "ip": ip, "ua": ua,
            "created": created, "key": key or asia(), "delivery": delivery,
            "provider": provider, "mfa": mfa}


def user(name, ip, ua, *, key=None, console_created=None):
    return {"kind": "user", "name": name, "pid": aida(), "ip": ip, "ua": ua,
            "key": key or (asia() if console_created else akia()),
            "console_created": console_created}


def ident_of(s: dict) -> dict:
    if s["kind"] == "user":
        d = {"type": "IAMUser", "principalId": s["pid"],
             "arn": f"arn:aws:iam::{ACCOUNT}:user/{s['name']}", "accountId": ACCOUNT,
             "accessKeyId": s["key"], "userName": s["name"]}
        if s["console_created"]:
            d["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                   "attributes": {"creationDate": s["console_created"],
                                                  "mfaAuthenticated": "true"}}
        return d
    role = s["role"]
    ctx: dict = {"sessionIssuer": {"type": "Role", "principalId": ROLE_PID[role],
                                   "arn": role_arn(role), "accountId": ACCOUNT,
                                   "userName": role}}
    if s["kind"] == "irsa":
        ctx["webIdFederationData"] = {"federatedProvider": s["provider"], "attributes": {}}
    elif s["kind"] == "admin":
        ctx["webIdFederationData"] = {}
    ctx["attributes"] = {"creationDate": s["created"], "mfaAuthenticated": s["mfa"]}
    if s["kind"] == "instance":
        ctx["ec2RoleDelivery"] = s["delivery"]
    return {"type": "AssumedRole", "principalId": f"{ROLE_PID[role]}:{s['name']}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{s['name']}",
            "accountId": ACCOUNT, "accessKeyId": s["key"], "sessionContext": ctx}


def call(b: Batch, s: dict, source: str, name: str, *, ip=None, ua=None, **kw) -> dict:
    """A call made with session/user `s` (from its usual IP and agent unless given)."""
    if s["kind"] == "user" and s["console_created"]:
        kw.setdefault("console", True)
    return ev(b, ident_of(s), source, name, ip or s["ip"], ua or s["ua"], **kw)


UA = {
    "boto3": "Boto3/1.35.70 md/Botocore#1.35.70 ua/2.0 os/linux#6.1.115-126.197.amzn2023.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.70",
    "java": "aws-sdk-java/2.29.20 Linux/6.1.115-126.197.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "go": "aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/sts#1.33.1",
    "ecr_cred": "aws-sdk-go-v2/1.30.3 ua/2.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ecr#1.32.1 ecr-credential-provider/v1.31.0",
    "containerd": "containerd/1.7.23",
    "cni": "aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) amazon-vpc-cni-k8s/cni-ipamd/v1.19.0",
    "fluentbit": "aws-fluent-bit-plugins/2.32.4 aws-sdk-go/1.44.301 (go1.20.14; linux; amd64)",
    "pia": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/eksauth#1.7.2",
    "autoscaler": "aws-sdk-go/1.48.7 (go1.21.9; linux; amd64) cluster-autoscaler/v1.31.0",
    "ssm_agent": "aws-sdk-go/1.51.21 (go1.22.6; linux; amd64) amazon-ssm-agent/3.3.1142.0",
    "cwagent": "aws-sdk-go/1.55.5 (go1.22.9; linux; amd64) CWAgent/1.300049.1",
    "kubelet": "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/eks#1.52.1 aws-iam-authenticator/0.6.27",
    "cli_mac": "aws-cli/2.22.7 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off",
    "cli_linux": "aws-cli/2.22.7 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off",
    "cli_old": "aws-cli/1.18.136 Python/3.8.5 Linux/5.4.0-1045-aws botocore/1.17.59",
    "github": "aws-sdk-nodejs/2.1692.0 linux/v20.18.0 configure-aws-credentials-for-github-actions promise",
    "console": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "js": "aws-sdk-js/3.699.0 ua/2.1 os/linux#6.1.115-126.197.amzn2023.x86_64 lang/js md/nodejs#20.18.1 api/s3#3.699.0",
    # Quotes and a backslash: exercises JSON escapes in a string the engine must echo safely.
    "js_quoted": 'aws-sdk-js/3.699.0 ua/2.1 lang/js md/nodejs#20.18.1 api/s3#3.699.0 app/"reports-exporter \\"nightly\\" (C:\\\\build)"',
    "external_dns": "aws-sdk-go/1.55.5 (go1.23.2; linux; amd64) ExternalDNS/v0.15.0",
    "ebs_csi": "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.187.0 ebs-csi-driver/v1.37.0",
    "yace": "aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/cloudwatch#1.43.1 yace/v0.61.2",
    "ec2": "ec2.amazonaws.com",
    "internal": "AWS Internal",
}


def node(instance, ip, created, *, role="prod-node-role", delivery="2.0", ua=None):
    return session("instance", role, instance, ip, ua or UA["cni"], created, delivery=delivery)


# Worker nodes of cluster "prod" (node role sessions; session name = instance id).
N1 = node("i-0abc1a2b3c4d5e6f7", "10.0.12.7", "2026-11-30T06:02:11Z")
N2 = node("i-0abc2b3c4d5e6f7a8", "10.0.45.19", "2026-11-30T06:14:52Z")
N3 = node("i-0abc3c4d5e6f7a8b9", "10.0.78.33", "2026-11-30T08:40:03Z")
N4_V1 = node("i-0abc4d5e6f7a8b9c0", "10.0.91.8", "2026-11-30T07:31:40Z", delivery="1.0")
# Nodes whose pod-identity exchanges fail (their IPs carry no other node traffic).
N5 = node("i-0abc5e6f7a8b9c0d1", NAT_B, "2026-11-30T08:01:26Z")
N6 = node("i-0abc6f7a8b9c0d1e2", "10.0.33.14", "2026-11-30T08:05:12Z")
N7 = node("i-0abc7a8b9c0d1e2f3", "10.0.34.21", "2026-11-30T08:09:57Z")
N8 = node("i-0abc8b9c0d1e2f3a4", "10.0.35.9", "2026-11-30T08:11:30Z")
# A node that joins during the node-role batch (its credentials are vended there).
N9 = node("i-0abc9d0e1f2a3b4c5", "10.0.82.44", "")
# Instance roles that are not node roles of any configured cluster.
BASTION = node("i-0bas7e1f2a3b4c5d6", "10.0.1.25", "2026-11-30T05:58:00Z",
               role="bastion-instance-role", delivery="1.0", ua=UA["cli_linux"])
GPU_NODE = node("i-0gpu9c8b7a6f5e4d3", "10.0.60.5", "2026-11-30T08:20:45Z",
                role="prod-node-role-gpu", ua=UA["boto3"])
SSM_DHMC = session("instance", "aws:ec2-instance", N2["name"], N2["ip"], UA["ssm_agent"],
                   "2026-11-30T06:15:03Z")

ALICE = session("admin", "Admin", "alice", OFFICE_IP, UA["cli_mac"], "2026-11-30T08:51:12Z",
                mfa="true")
DAVE = session("admin", "ReadOnly", "dave", OFFICE_IP, UA["cli_mac"], "2026-11-30T09:02:40Z",
               mfa="true")

POD_IP = {
    "order-service": "10.0.21.14",
    "order-service-2": "10.0.21.15",
    "payment-service": "10.0.22.30",
    "prometheus": "10.0.23.40",
    "external-dns": "10.0.24.50",
    "debug-pod": "10.0.25.60",
    "ebs-csi": "10.0.26.70",
}

ORDER_BUCKET = "prod-order-artifacts-111122223333"
REPORT_BUCKET = "prod-reports-111122223333"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
ASG = "eks-prod-ng-general-20261102-1ec8f2a4-1f2b-4c3d-8e9f-0a1b2c3d4e5f"
ECR_REG = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"

# --------------------------------------------------------------------------- builders


def sts_creds(key: str, t: datetime, seconds: int) -> dict:
    return {"accessKeyId": key, "sessionToken": "<redacted sample>",
            "expiration": human(t + timedelta(seconds=seconds))}


def role_resource(role: str, account: str = ACCOUNT) -> list:
    return [{"accountId": account, "type": "AWS::IAM::Role", "ARN": role_arn(role, account)}]


def web_identity(b, subject, role, ip, ua, session_name, *, err=None,
                 provider_host=OIDC_HOST, provider_field=True, ver="1.08"):
    """AssumeRoleWithWebIdentity; returns (record, session or None)."""
    prov_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{provider_host}"
    ident = {"type": "WebIdentityUser",
             "principalId": f"{prov_arn if provider_field else provider_host}:sts.amazonaws.com:{subject}",
             "userName": subject}
    if provider_field:
        ident["identityProvider"] = prov_arn
    t = b.tick()
    resp = extra = sess = None
    if err is None:
        sess = session("irsa", role, session_name, ip, ua, iso(t), provider=prov_arn)
        resp = {"credentials": sts_creds(sess["key"], t, 3600),
                "subjectFromWebIdentityToken": subject,
                "assumedRoleUser": {"assumedRoleId": f"{ROLE_PID[role]}:{session_name}",
                                    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session_name}"},
                "provider": prov_arn,
                "audience": "sts.amazonaws.com"}
        extra = {"identityProviderConnectionVerificationMethod": "IAMTrustStore",
                 "RequestDetails": {"awsServingRegion": REGION, "endpointType": "regional"}}
    rec = ev(b, ident, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", ip, ua, t=t, ver=ver,
             err=err, req={"roleArn": role_arn(role), "roleSessionName": session_name},
             resp=resp, extra=extra, resources=role_resource(role))
    return rec, sess


def irsa(b, ns, sa, role, ip, ua, session_name, **kw):
    return web_identity(b, f"system:serviceaccount:{ns}:{sa}", role, ip, ua, session_name, **kw)


def github(b, role, ip, *, err=None):
    return web_identity(b, "repo:example-org/app:ref:refs/heads/main", role, ip, UA["github"],
                        "GitHubActions", err=err, provider_host=GITHUB_OIDC_HOST)


PIA_ERR = "Unauthorized Exception! EKS does not have permissions to assume the associated role."


def pod_identity(b, nd, ns, sa, pod, role, *, sts_err=None, eks_err=None, sts_record=True,
                 eks_record=True, pod_ip=None, ua=None):
    """EKS Pod Identity: sts:AssumeRole by pods.eks.amazonaws.com, then the node's
    eks-auth:AssumeRoleForPodIdentity (same second). Returns (sts, eks_auth, session)."""
    t = b.tick()
    session_name = f"eks-{CLUSTER[:10]}-{pod[:10]}-{uid()}"
    pod_uid = uid()
    tags = [("eks-cluster-arn", CLUSTER_ARN), ("eks-cluster-name", CLUSTER),
            ("kubernetes-namespace", ns), ("kubernetes-service-account", sa),
            ("kubernetes-pod-name", pod), ("kubernetes-pod-uid", pod_uid)]
    sess = None
    sts = eks = None
    if sts_record:
        resp = None
        if sts_err is None:
            sess = session("pod", role, session_name, pod_ip or nd["ip"], ua or UA["boto3"], iso(t))
            resp = {"credentials": sts_creds(sess["key"], t, 21600),
                    "assumedRoleUser": {"assumedRoleId": f"{ROLE_PID[role]}:{session_name}",
                                        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session_name}"},
                    "packedPolicySize": RNG.randint(55, 64)}
        sts = ev(b, {"type": "AWSService", "invokedBy": "pods.eks.amazonaws.com"},
                 "sts.amazonaws.com", "AssumeRole", "pods.eks.amazonaws.com",
                 "pods.eks.amazonaws.com", t=t, err=sts_err,
                 req={"roleArn": role_arn(role), "roleSessionName": session_name,
                      "durationSeconds": 21600,
                      "tags": [{"key": k, "value": v} for k, v in tags],
                      "transitiveTagKeys": [k for k, _ in tags]},
                 resp=resp, resources=role_resource(role), shared=True, tls=False)
    if eks_record:
        eks = call(b, nd, "eks-auth.amazonaws.com", "AssumeRoleForPodIdentity", t=t,
                   ua=UA["pia"], ver="1.09", err=eks_err,
                   req={"clusterName": CLUSTER, "token": "HIDDEN_DUE_TO_SECURITY_REASONS"})
    return sts, eks, sess


def imds_vend(b, nd):
    """EC2 fetching instance-profile credentials for a node (session = instance id)."""
    t = b.tick()
    nd["created"] = iso(t)
    nd["key"] = asia()
    role = nd["role"]
    return ev(b, {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "sts.amazonaws.com",
              "AssumeRole", "ec2.amazonaws.com", "ec2.amazonaws.com", t=t,
              req={"roleArn": role_arn(role), "roleSessionName": nd["name"]},
              resp={"credentials": sts_creds(nd["key"], t, 21600),
                    "assumedRoleUser": {"assumedRoleId": f"{ROLE_PID[role]}:{nd['name']}",
                                        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{nd['name']}"}},
              resources=role_resource(role), shared=True, tls=False)


def s3(b, s, name, bucket, key, *, size=None, err=None, ver="1.10", **kw):
    read_only = name in ("GetObject", "HeadObject")
    extra = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
             "bytesTransferredIn": 0 if read_only else (size or 0),
             "AuthenticationMethod": "AuthHeader", "x-amz-id-2": amz_id2(),
             "bytesTransferredOut": (size or 0) if read_only and not err else 0}
    resp = None
    if name == "PutObject" and not err:
        resp = {"x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY}
    return call(b, s, "s3.amazonaws.com", name, ver=ver, err=err, data=True,
                req={"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com", "key": key},
                resp=resp, extra=extra, read_only=read_only,
                resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                           {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
                host=f"{bucket}.s3.{REGION}.amazonaws.com", request_id=s3_request_id(), **kw)


def s3_list_objects(b, s, bucket, prefix, **kw):
    return call(b, s, "s3.amazonaws.com", "ListObjects", ver="1.10", data=True,
                req={"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
                     "list-type": "2", "prefix": prefix},
                extra={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                       "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                       "x-amz-id-2": amz_id2(), "bytesTransferredOut": 4419},
                resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                            "ARN": f"arn:aws:s3:::{bucket}"}],
                host=f"{bucket}.s3.{REGION}.amazonaws.com", request_id=s3_request_id(), **kw)


def s3_list_buckets(b, s, **kw):
    return call(b, s, "s3.amazonaws.com", "ListBuckets", ver="1.10",
                req={"Host": f"s3.{REGION}.amazonaws.com"},
                extra={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                       "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                       "x-amz-id-2": amz_id2(), "bytesTransferredOut": 6214},
                request_id=s3_request_id(), **kw)


def ddb(b, s, name, table, *, err=None, **kw):
    read_only = name in ("GetItem", "Query", "Scan", "DescribeTable")
    req = {"tableName": table}
    if name in ("GetItem", "PutItem", "UpdateItem"):
        req["key"] = {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS"}
    return call(b, s, "dynamodb.amazonaws.com", name, ver="1.09", err=err,
                data=name != "DescribeTable", read_only=read_only, req=req,
                resources=[{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table",
                            "ARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"}], **kw)


def kms_decrypt(b, s, context, **kw):
    return call(b, s, "kms.amazonaws.com", "Decrypt", ver="1.11",
                req={"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context},
                resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KMS_KEY}], **kw)


def sqs_send(b, s, queue, **kw):
    return call(b, s, "sqs.amazonaws.com", "SendMessage", ver="1.11", data=True, read_only=False,
                req={"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}"},
                resp={"mD5OfMessageBody": hexs(32), "messageId": uid()},
                resources=[{"accountId": ACCOUNT, "type": "AWS::SQS::Queue",
                            "ARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"}], **kw)


def cw(b, s, name, **kw):
    req = {"namespace": "ContainerInsights"} if name == "PutMetricData" else \
        {"namespace": "AWS/RDS", "metricName": "CPUUtilization"} if name == "ListMetrics" else \
        {"startTime": "Nov 30, 2026, 9:00:00 AM", "endTime": "Nov 30, 2026, 9:30:00 AM",
         "metricDataQueries": [{"id": "q1", "metricStat": {"metric": {"namespace": "AWS/SQS",
                                "metricName": "ApproximateNumberOfMessagesVisible"},
                                "period": 60, "stat": "Maximum"}}]}
    return call(b, s, "monitoring.amazonaws.com", name, ver="1.09",
                read_only=name != "PutMetricData", req=req, **kw)


def ecr_auth(b, s, **kw):
    kw.setdefault("ua", UA["ecr_cred"])
    return call(b, s, "ecr.amazonaws.com", "GetAuthorizationToken", ver="1.08",
                req={"registryIds": [ACCOUNT]}, **kw)


def ecr_pull(b, s, repo, tag, **kw):
    """An image pull through the registry endpoint: BatchGetImage + GetDownloadUrlForLayer."""
    kw.setdefault("vpce", VPCE["ecr-dkr"] if is_vpc_ip(kw.get("ip") or s["ip"]) else False)
    res = [{"accountId": ACCOUNT, "type": "AWS::ECR::Repository",
            "ARN": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}"}]
    a = call(b, s, "ecr.amazonaws.com", "BatchGetImage", ver="1.08", ua=UA["containerd"],
             req={"imageIds": [{"imageTag": tag}],
                  "acceptedMediaTypes": ["application/vnd.docker.distribution.manifest.v2+json",
                                         "application/vnd.oci.image.index.v1+json",
                                         "application/vnd.oci.image.manifest.v1+json"],
                  "repositoryName": repo, "registryId": ACCOUNT},
             resources=res, host=ECR_REG, **kw)
    c = call(b, s, "ecr.amazonaws.com", "GetDownloadUrlForLayer", ver="1.08", ua=UA["containerd"],
             req={"repositoryName": repo, "registryId": ACCOUNT, "layerDigest": "sha256:" + hexs(64)},
             resources=res, host=ECR_REG, **kw)
    return a, c


def ec2_describe_instances(b, s, ids, **kw):
    return call(b, s, "ec2.amazonaws.com", "DescribeInstances", ver="1.09",
                req={"instancesSet": {"items": [{"instanceId": i} for i in ids]}, "filterSet": {}},
                **kw)


def ec2_cni(b, nd, name, **kw):
    eni = "eni-0" + hexs(16)
    req, resp = {}, None
    if name == "CreateNetworkInterface":
        req = {"subnetId": "subnet-0a1b2c3d4e5f60718", "description": f"aws-K8S-{nd['name']}",
               "groupSet": {"items": [{"groupId": "sg-0f1e2d3c4b5a69788"}]},
               "privateIpAddressesSet": {}, "ipv6AddressCount": 0,
               "tagSpecificationSet": {"items": [{"resourceType": "network-interface", "tags": [
                   {"key": "node.k8s.amazonaws.com/instance_id", "value": nd["name"]},
                   {"key": "cluster.k8s.amazonaws.com/name", "value": CLUSTER}]}]}}
        ip = f"10.0.{RNG.randint(100, 200)}.{RNG.randint(2, 250)}"
        resp = lambda t: {"requestId": uid(), "networkInterface": {
            "networkInterfaceId": eni, "subnetId": "subnet-0a1b2c3d4e5f60718",
            "vpcId": "vpc-0123456789abcdef0", "availabilityZone": f"{REGION}a",
            "description": f"aws-K8S-{nd['name']}", "ownerId": ACCOUNT,
            "requesterManaged": False, "status": "pending", "macAddress": "02:4f:1c:9a:7e:31",
            "privateIpAddress": ip, "privateDnsName": f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal",
            "sourceDestCheck": True, "groupSet": {"items": [{"groupId": "sg-0f1e2d3c4b5a69788",
                                                             "groupName": "eks-cluster-sg-prod"}]},
            "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": True}]},
            "ipv6AddressesSet": {}, "tagSet": {}, "interfaceType": "interface"}}
    elif name == "AttachNetworkInterface":
        req = {"networkInterfaceId": eni, "instanceId": nd["name"], "deviceIndex": 1,
               "networkCardIndex": 0}
        resp = lambda t: {"requestId": uid(), "attachmentId": "eni-attach-0" + hexs(16),
                          "networkCardIndex": 0}
    elif name == "AssignPrivateIpAddresses":
        req = {"networkInterfaceId": eni, "secondaryPrivateIpAddressCount": 5}
        resp = lambda t: {"requestId": uid(), "networkInterfaceId": eni,
                          "assignedPrivateIpAddressesSet": {"assignedPrivateIpAddressSetType": [
                              {"privateIpAddress": f"10.0.{RNG.randint(100, 200)}.{RNG.randint(2, 250)}"}
                              for _ in range(5)]}}
    elif name == "ModifyNetworkInterfaceAttribute":
        req = {"networkInterfaceId": eni, "attachment": {"attachmentId": "eni-attach-0" + hexs(16),
                                                          "deleteOnTermination": True}}
        resp = lambda t: {"requestId": uid(), "_return": True}
    elif name == "CreateTags":
        req = {"resourcesSet": {"items": [{"resourceId": eni}]},
               "tagSet": {"items": [{"key": "node.k8s.amazonaws.com/createdAt",
                                     "value": "2026-11-30T09:00:00Z"}]}}
        resp = lambda t: {"requestId": uid(), "_return": True}
    elif name == "DescribeNetworkInterfaces":
        req = {"networkInterfaceIdSet": {}, "filterSet": {"items": [
            {"name": "attachment.instance-id", "valueSet": {"items": [{"value": nd["name"]}]}}]}}
    elif name == "CreateNetworkInterfacePermission":
        req = {"networkInterfaceId": eni, "awsAccountId": "999988887777", "permission": "INSTANCE-ATTACH"}
        resp = lambda t: {"requestId": uid(), "interfacePermission": {
            "networkInterfacePermissionId": "eni-perm-0" + hexs(16), "networkInterfaceId": eni,
            "awsAccountId": "999988887777", "permission": "INSTANCE-ATTACH",
            "permissionState": {"state": "GRANTED"}}}
    return call(b, nd, "ec2.amazonaws.com", name, ver="1.09", req=req, resp=resp,
                read_only=name.startswith("Describe"), **kw)


def logs_put(b, nd, name="PutLogEvents", **kw):
    req = {"logGroupName": f"/aws/containerinsights/{CLUSTER}/application",
           "logStreamName": f"fluent-bit-{nd['name']}"}
    kw.setdefault("ua", UA["fluentbit"])
    return call(b, nd, "logs.amazonaws.com", name, ver="1.08", req=req,
                read_only=False, **kw)


def asg(b, nd, name, **kw):
    req = {"autoScalingGroupNames": [ASG]} if name == "DescribeAutoScalingGroups" else \
        {"autoScalingGroupName": ASG, "desiredCapacity": 6, "honorCooldown": False} \
        if name == "SetDesiredCapacity" else \
        {"instanceId": "i-0abc9f8e7d6c5b4a3", "shouldDecrementDesiredCapacity": True}
    kw.setdefault("ua", UA["autoscaler"])
    return call(b, nd, "autoscaling.amazonaws.com", name, ver="1.08", req=req,
                read_only=name.startswith("Describe"), **kw)


def eks_describe(b, s, **kw):
    return call(b, s, "eks.amazonaws.com", "DescribeCluster", ver="1.10", req={"name": CLUSTER},
                **kw)


def caller_identity(b, s, **kw):
    return call(b, s, "sts.amazonaws.com", "GetCallerIdentity", ver="1.08", **kw)


def ssm_update(b, s, **kw):
    kw.setdefault("ua", UA["ssm_agent"])
    return call(b, s, "ssm.amazonaws.com", "UpdateInstanceInformation", ver="1.08",
                read_only=False,
                req={"instanceId": s["name"], "agentVersion": "3.3.1142.0",
                     "agentStatus": "Active", "platformType": "Linux",
                     "platformName": "Amazon Linux", "platformVersion": "2023",
                     "iPAddress": s["ip"], "computerName": f"ip-{s['ip'].replace('.', '-')}.{REGION}.compute.internal",
                     "agentName": "amazon-ssm-agent", "availabilityZone": f"{REGION}a",
                     "availabilityZoneId": "apse1-az2"}, **kw)


def iam(b, s, name, req, *, resp=None, err=None, read_only=False, **kw):
    return call(b, s, "iam.amazonaws.com", name, ver="1.09", region="us-east-1", req=req,
                resp=resp, err=err, read_only=read_only, **kw)


def trust_policy(*statements) -> str:
    """Pretty JSON as the console/CLI sends it (newlines and quotes end up escaped)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)


def irsa_trust(ns, sa):
    return {"Effect": "Allow", "Principal": {"Federated": OIDC_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{OIDC_HOST}:aud": "sts.amazonaws.com",
                                           f"{OIDC_HOST}:sub": f"system:serviceaccount:{ns}:{sa}"}}}


# --------------------------------------------------------------------------- common traffic


def node_background(b, nd, kinds):
    """Allowlisted node traffic from the node's own address (never fires anything)."""
    for k in kinds:
        if k == "ecr_auth":
            b.add(ecr_auth(b, nd, ip=NAT_A))
        elif k == "pull":
            for r in ecr_pull(b, nd, RNG.choice(["order-service", "payment-service", "checkout-web"]),
                              RNG.choice(["v1.42.0", "v1.42.1", "v2.3.0"])):
                b.add(r)
        elif k == "describe":
            b.add(ec2_describe_instances(b, nd, [nd["name"]]))
        elif k == "logs":
            b.add(logs_put(b, nd))
        elif k == "eni":
            b.add(ec2_cni(b, nd, "DescribeNetworkInterfaces"))
        elif k == "asg":
            b.add(asg(b, nd, "DescribeAutoScalingGroups"))
        elif k == "metrics":
            b.add(cw(b, nd, "PutMetricData", ua=UA["cwagent"]))
        elif k == "eks":
            b.add(eks_describe(b, nd, ua=UA["kubelet"]))
        elif k == "ssm":
            b.add(ssm_update(b, nd))
        else:
            raise ValueError(k)


# --------------------------------------------------------------------------- scenarios

SESS: dict[str, dict] = {}


def batch_irsa_failures() -> Batch:
    b = Batch("0905", (3, 8))
    node_background(b, N1, ["ecr_auth"])
    rec, SESS["order"] = irsa(b, "production", "order-service", "prod-production-order-service",
                              POD_IP["order-service"], UA["java"], "aws-sdk-java-1796029215123")
    b.add(rec)
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "config/order-service/settings.json",
             size=2841))
    rec, SESS["payment"] = irsa(b, "production", "payment-service", "prod-production-payment-service",
                                POD_IP["payment-service"], UA["boto3"], "botocore-session-1796029222")
    b.add(rec)
    b.add(ddb(b, SESS["payment"], "PutItem", "payments"))
    node_background(b, N2, ["describe", "pull"])
    # Bound subject, own role, trust policy rejects it (aud/sub mismatch).
    rec, _ = irsa(b, "production", "order-service", "prod-production-order-service", "10.0.50.11",
                  UA["java"], "aws-sdk-java-1796029251004",
                  err=("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
    b.add(rec, "irsa-assume-failure")
    b.add(sqs_send(b, SESS["order"], "order-events"))
    # Subject not bound to the role it asks for.
    rec, _ = irsa(b, "production", "checkout", "prod-production-payment-service", "10.0.50.12",
                  UA["js"], "aws-sdk-js-session-1796029263",
                  err=("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
    b.add(rec, "irsa-assume-failure")
    rec, SESS["prom"] = irsa(b, "monitoring", "prometheus", "prod-monitoring-prometheus",
                             POD_IP["prometheus"], UA["yace"], "1796029270118263004")
    b.add(rec)
    b.add(cw(b, SESS["prom"], "GetMetricData"))
    node_background(b, N3, ["logs", "eni"])
    # Token from a cluster whose issuer is not registered: no identityProvider in the record.
    rec, _ = irsa(b, "batch", "report-job", "prod-production-order-service", "10.0.50.13", UA["boto3"],
                  "botocore-session-1796029290",
                  err=("InvalidIdentityToken",
                       f"No OpenIDConnect provider found in your account for https://{UNREGISTERED_OIDC_HOST}"),
                  provider_host=UNREGISTERED_OIDC_HOST, provider_field=False)
    b.add(rec, "irsa-assume-failure")
    # GitHub Actions (not EKS): neither the failure nor the success is an EKS finding.
    rec, _ = github(b, "github-actions-deploy", "203.0.113.77",
                    err=("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
    b.add(rec)
    rec, SESS["gha"] = github(b, "github-actions-deploy", "203.0.113.78")
    b.add(rec)
    b.add(caller_identity(b, SESS["gha"], ip="203.0.113.78", ua=UA["github"]))
    t_exp = int(b.t.timestamp())
    rec, _ = irsa(b, "production", "payment-service", "prod-production-payment-service", "10.0.50.14",
                  UA["boto3"], "botocore-session-1796029330",
                  err=("ExpiredTokenException",
                       f"Token expired: current date/time {t_exp + 5} must be before the expiration date/time {t_exp - 3595}"))
    b.add(rec, "irsa-assume-failure")
    node_background(b, N1, ["logs"])
    rec, _ = irsa(b, "monitoring", "prometheus", "prod-monitoring-prometheus", "10.0.50.15", UA["yace"],
                  "1796029352771902113",
                  err=("IDPCommunicationError",
                       "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"))
    b.add(rec, "irsa-assume-failure")
    b.add(kms_decrypt(b, SESS["payment"], {"aws:dynamodb:tableName": "payments",
                                           "aws:dynamodb:subscriberId": ACCOUNT}))
    b.add(s3(b, SESS["order"], "PutObject", ORDER_BUCKET, "exports/2026/11/30/orders-0900.csv.gz",
             size=184220))
    rec, SESS["order2"] = irsa(b, "production", "order-service", "prod-production-order-service",
                               POD_IP["order-service-2"], UA["java"], "aws-sdk-java-1796029371456")
    b.add(rec)
    b.add(ddb(b, SESS["order2"], "Query", "orders"))
    rec, SESS["dns"] = irsa(b, "kube-system", "external-dns", "prod-kube-system-external-dns",
                            POD_IP["external-dns"], UA["external_dns"], "1796029380000112334")
    b.add(rec)
    b.add(call(b, SESS["dns"], "route53.amazonaws.com", "ListResourceRecordSets", ip=NAT_A,
               ver="1.08", region="us-east-1", req={"hostedZoneId": "Z0123456789ABCDEFGHIJ"}))
    node_background(b, N2, ["ecr_auth", "eks"])
    b.add(sqs_send(b, SESS["order2"], "order-events"))
    b.add(cw(b, SESS["prom"], "ListMetrics"))
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "templates/invoice-v3.html", size=12877))
    node_background(b, N3, ["metrics", "describe"])
    b.add(ddb(b, SESS["payment"], "GetItem", "payments"))
    return b


def batch_pod_identity() -> Batch:
    b = Batch("0910", (3, 9))
    node_background(b, N1, ["ecr_auth", "describe"])
    sts, eks, SESS["pi_pay"] = pod_identity(b, N1, "production", "payment-service",
                                            "payment-service-7d9c6b5f4-x2k8p",
                                            "prod-production-payment-service",
                                            pod_ip="10.0.22.31")
    b.add(sts)
    b.add(eks)
    b.add(ddb(b, SESS["pi_pay"], "PutItem", "payments"))
    sts, eks, SESS["pi_prom"] = pod_identity(b, N2, "monitoring", "prometheus", "prometheus-server-0",
                                             "prod-monitoring-prometheus", pod_ip="10.0.23.41",
                                             ua=UA["yace"])
    b.add(sts)
    b.add(eks)
    b.add(cw(b, SESS["pi_prom"], "GetMetricData"))
    node_background(b, N3, ["logs"])
    # Role's trust policy is IRSA-only (no pods.eks.amazonaws.com): STS refuses, so does eks-auth.
    sts, eks, _ = pod_identity(
        b, N5, "production", "order-service", "order-service-5f8b7c6d9-qw7zt",
        "prod-production-order-service",
        sts_err=("AccessDenied",
                 "User: pods.eks.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: "
                 "arn:aws:iam::111122223333:role/prod-production-order-service"),
        eks_err=("AccessDenied", PIA_ERR))
    b.add(sts, "pod-identity-failure")
    b.add(eks, "pod-identity-failure")
    b.add(kms_decrypt(b, SESS["pi_pay"], {"service": "payment-service"}))
    node_background(b, N2, ["eni", "pull"])
    # The API's own spelling of the error code (only the eks-auth record is in this batch).
    _, eks, _ = pod_identity(b, N6, "production", "payment-service", "payment-service-7d9c6b5f4-m4n7r",
                             "prod-production-payment-service", sts_record=False,
                             eks_err=("AccessDeniedException", PIA_ERR))
    b.add(eks, "pod-identity-failure")
    # An association for a role that has no binding in config: fine.
    sts, eks, SESS["pi_ebs"] = pod_identity(b, N3, "kube-system", "ebs-csi-controller-sa",
                                            "ebs-csi-controller-6c8f9d7b5-kq2lx",
                                            "prod-kube-system-ebs-csi", pod_ip=POD_IP["ebs-csi"],
                                            ua=UA["ebs_csi"])
    b.add(sts)
    b.add(eks)
    b.add(call(b, SESS["pi_ebs"], "ec2.amazonaws.com", "CreateVolume", ver="1.09", read_only=False,
               req={"size": 20, "zone": f"{REGION}a", "volumeType": "gp3", "encrypted": True,
                    "tagSpecificationSet": {"items": [{"resourceType": "volume", "tags": [
                        {"key": "kubernetes.io/created-for/pvc/name", "value": "data-prometheus-server-0"},
                        {"key": "ebs.csi.aws.com/cluster", "value": "true"}]}]},
                    "clientToken": uid()},
               resp=lambda t: {"requestId": uid(), "volumeId": "vol-0" + hexs(16), "size": "20",
                               "zone": f"{REGION}a", "status": "creating", "createTime": int(t.timestamp()) * 1000,
                               "volumeType": "gp3", "iops": 3000, "throughput": 125,
                               "encrypted": True, "multiAttachEnabled": False}))
    # EC2 delivering fresh credentials to a node (AWSService, invoked by ec2, not pods.eks).
    b.add(imds_vend(b, N3))
    node_background(b, N3, ["eks", "asg"])
    b.add(ddb(b, SESS["pi_pay"], "Query", "payments"))
    b.add(cw(b, SESS["pi_prom"], "ListMetrics"))
    node_background(b, N1, ["logs", "metrics"])
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "config/order-service/feature-flags.json",
             size=913))
    node_background(b, N2, ["ecr_auth"])
    return b


def batch_node_role() -> Batch:
    b = Batch("0915", (2, 5))
    b.add(imds_vend(b, N9))
    # Negative for exfiltration: NAT address of the cluster.
    b.add(ecr_auth(b, N1, ip=NAT_A))
    # Negative for exfiltration: 10.0.12.7 through a VPC endpoint.
    for r in ecr_pull(b, N1, "order-service", "v1.42.1"):
        b.add(r)
    b.add(call(b, N1, "ecr.amazonaws.com", "DescribeImages", ver="1.08", ua=UA["ecr_cred"],
               req={"repositoryName": "order-service", "imageIds": [{"imageTag": "v1.42.1"}]}))
    b.add(call(b, N9, "ecr.amazonaws.com", "ListImages", ver="1.08", ua=UA["ecr_cred"],
               req={"repositoryName": "checkout-web", "maxResults": 100}))
    b.add(ec2_describe_instances(b, N2, [N2["name"]]))
    for name in ["CreateNetworkInterface", "AttachNetworkInterface", "ModifyNetworkInterfaceAttribute",
                 "AssignPrivateIpAddresses"]:
        b.add(ec2_cni(b, N2, name))
    # Negative for exfiltration: a service name as the source.
    b.add(ec2_cni(b, N2, "CreateTags", ip="ec2.amazonaws.com", ua=UA["ec2"], vpce=False))
    # Misuse from inside the cluster (pods on the node using the node's IMDS credentials).
    b.add(s3(b, N2, "GetObject", ORDER_BUCKET, "exports/2026/11/30/orders-0900.csv.gz", size=184220,
             ua=UA["boto3"]), "node-role-misuse")
    b.add(logs_put(b, N1))
    b.add(logs_put(b, N9, "CreateLogStream"))
    b.add(call(b, N2, "secretsmanager.amazonaws.com", "GetSecretValue", ver="1.08", ua=UA["boto3"],
               req={"secretId": "prod/payment-service/stripe"}), "node-role-misuse")
    b.add(cw(b, N3, "PutMetricData", ua=UA["cwagent"]))
    sts, eks, SESS["pi_pay2"] = pod_identity(b, N3, "production", "payment-service",
                                             "payment-service-7d9c6b5f4-z9t3c",
                                             "prod-production-payment-service", pod_ip="10.0.22.32")
    b.add(sts)
    b.add(eks)
    b.add(asg(b, N3, "DescribeAutoScalingGroups"))
    b.add(asg(b, N3, "SetDesiredCapacity"))
    b.add(ddb(b, N3, "Scan", "payments", ua=UA["boto3"]), "node-role-misuse")
    # IMDSv1 on the node role: allowlisted action (one finding) and s3 (two findings).
    b.add(ec2_describe_instances(b, N4_V1, [N4_V1["name"]]), "imdsv1-credential-use")
    b.add(eks_describe(b, N1, ua=UA["kubelet"]))
    b.add(caller_identity(b, N1, ua=UA["go"]))
    b.add(s3(b, N4_V1, "GetObject", REPORT_BUCKET, "finance/2026-11/ledger.parquet", size=7340032,
             ua=UA["boto3"]), "imdsv1-credential-use", "node-role-misuse")
    # IMDSv1 on an instance role that is not a node role: only the IMDSv1 finding.
    b.add(ec2_describe_instances(b, BASTION, [N1["name"], N2["name"], N3["name"]]),
          "imdsv1-credential-use")
    b.add(iam(b, N3, "ListRoles", {"maxItems": 1000}, read_only=True, ip=NAT_A, ua=UA["boto3"]),
          "node-role-misuse")
    b.add(ssm_update(b, N2))
    b.add(call(b, N2, "ssmmessages.amazonaws.com", "OpenControlChannel", ver="1.08",
               ua=UA["ssm_agent"], read_only=False,
               req={"channelId": N2["name"]}))
    b.add(call(b, N2, "ec2messages.amazonaws.com", "GetMessages", ver="1.08", ua=UA["ssm_agent"],
               read_only=False, req={"destination": N2["name"], "messagesRequestId": uid(),
                                     "visibilityTimeoutInSeconds": 10}))
    b.add(s3(b, N2, "PutObject", REPORT_BUCKET, "tmp/dump.tar.gz", size=52428800, ua=UA["boto3"],
             err=("AccessDenied", "Access Denied")), "node-role-misuse")
    # Exact-match allowlist entries: CreateNetworkInterface is allowed, ...Permission is not;
    # the config allows autoscaling:SetDesiredCapacity, not instance termination.
    b.add(ec2_cni(b, N1, "CreateNetworkInterfacePermission", ua=UA["boto3"]), "node-role-misuse")
    b.add(asg(b, N3, "TerminateInstanceInAutoScalingGroup"), "node-role-misuse")
    b.add(call(b, N9, "ecr-public.amazonaws.com", "GetAuthorizationToken", ver="1.08",
               region="us-east-1", ip=NAT_A, ua=UA["ecr_cred"], req=None))
    b.add(call(b, N9, "sts.amazonaws.com", "GetServiceBearerToken", ver="1.08", ip=NAT_A,
               ua=UA["ecr_cred"], region="us-east-1", host="sts.amazonaws.com", read_only=True,
               req=None, extra={"AuthenticationMethod": "SigV4"}))
    # Negative for exfiltration: "AWS Internal".
    b.add(eks_describe(b, N9, ip="AWS Internal", ua=UA["internal"], vpce=False, tls=False))
    # The node's credentials used from outside: exfiltration (and misuse for ListBuckets).
    b.add(ec2_describe_instances(b, N1, [], ip=ATTACKER_IP, ua=UA["cli_mac"]),
          "node-credential-exfiltration")
    b.add(s3_list_buckets(b, N1, ip=ATTACKER_IP, ua=UA["cli_mac"]),
          "node-credential-exfiltration", "node-role-misuse")
    # An instance role whose name merely starts like the node role: not a node role.
    b.add(s3(b, GPU_NODE, "GetObject", ORDER_BUCKET, "models/ranker-v7.onnx", size=93323264))
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "templates/receipt-v2.html", size=7781))
    for name in ["DescribeNetworkInterfaces", "CreateNetworkInterface", "AttachNetworkInterface"]:
        b.add(ec2_cni(b, N9, name))
    b.add(ddb(b, SESS["pi_pay2"], "GetItem", "payments"))
    b.add(logs_put(b, N9))
    b.add(ecr_auth(b, N9, ip=NAT_A))
    for r in ecr_pull(b, N9, "checkout-web", "v2.3.0"):
        b.add(r)
    b.add(ssm_update(b, N9))
    return b


def batch_access_keys() -> Batch:
    b = Batch("0920", (4, 10))
    hard = user("order-service-legacy", NAT_A, UA["boto3"])
    bob = user("dev-bob", OFFICE_IP, UA["cli_mac"])
    ci = user("legacy-ci", "198.51.100.200", UA["cli_old"])
    carol = user("carol", OFFICE_IP, UA["console"], console_created="2026-11-30T08:57:31Z")
    node_background(b, N1, ["ecr_auth", "describe"])
    # A long-term key baked into a pod image: calls leave through the cluster's NAT.
    b.add(s3(b, hard, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841),
          "long-term-access-key")
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "templates/invoice-v3.html", size=12877))
    b.add(caller_identity(b, bob), "long-term-access-key")
    b.add(call(b, carol, "ec2.amazonaws.com", "DescribeInstances", ver="1.09",
               req={"filterSet": {"items": [{"name": "tag:eks:cluster-name",
                                             "valueSet": {"items": [{"value": CLUSTER}]}}]}}))
    b.add(sqs_send(b, hard, "order-events"), "long-term-access-key")
    # The allowlisted legacy CI user: no finding.
    b.add(ecr_auth(b, ci, ua=UA["cli_old"], tls12=True))
    b.add(call(b, ci, "ecr.amazonaws.com", "InitiateLayerUpload", ver="1.08", read_only=False,
               tls12=True, req={"registryId": ACCOUNT, "repositoryName": "checkout-web"},
               resp={"uploadId": uid(), "partSize": 10485760}))
    node_background(b, N2, ["logs", "pull"])
    b.add(s3_list_buckets(b, bob), "long-term-access-key")
    # A failed call still authenticates with the long-term key.
    b.add(ddb(b, bob, "DescribeTable", "payments",
              err=("AccessDeniedException",
                   "User: arn:aws:iam::111122223333:user/dev-bob is not authorized to perform: "
                   "dynamodb:DescribeTable on resource: arn:aws:dynamodb:ap-southeast-1:111122223333:table/payments "
                   "because no identity-based policy allows the dynamodb:DescribeTable action")),
          "long-term-access-key")
    b.add(call(b, ci, "ecr.amazonaws.com", "PutImage", ver="1.08", read_only=False, tls12=True,
               req={"registryId": ACCOUNT, "repositoryName": "checkout-web", "imageTag": "v2.3.1",
                    "imageManifest": "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\"\n}",
                    "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"},
               resp={"image": {"registryId": ACCOUNT, "repositoryName": "checkout-web",
                               "imageId": {"imageDigest": "sha256:" + hexs(64), "imageTag": "v2.3.1"}}}))
    # AKIA values appear in parameters, not as the caller's key: no finding.
    b.add(iam(b, ALICE, "ListAccessKeys", {"userName": "order-service-legacy"}, read_only=True))
    b.add(iam(b, ALICE, "GetAccessKeyLastUsed", {"accessKeyId": hard["key"]}, read_only=True))
    b.add(ddb(b, SESS["payment"], "GetItem", "payments"))
    node_background(b, N3, ["eni", "metrics"])
    b.add(call(b, carol, "eks.amazonaws.com", "ListClusters", ver="1.10",
               req={"maxResults": 100, "include": "all"}))
    b.add(kms_decrypt(b, SESS["payment"], {"service": "payment-service"}))
    b.add(sqs_send(b, SESS["order2"], "order-events"))
    node_background(b, N1, ["logs"])
    return b


def batch_identity_config() -> Batch:
    b = Batch("0925", (4, 10))
    assoc_new = "a-" + rand_str(17, "abcdefghijklmnopqrstuvwxyz0123456789")
    assoc_old = "a-" + rand_str(17, "abcdefghijklmnopqrstuvwxyz0123456789")
    node_background(b, N1, ["ecr_auth"])
    b.add(iam(b, ALICE, "GetRole", {"roleName": "prod-production-order-service"}, read_only=True))
    b.add(iam(b, ALICE, "UpdateAssumeRolePolicy",
              {"roleName": "prod-production-order-service",
               "policyDocument": trust_policy(irsa_trust("production", "order-service"),
                                              irsa_trust("production", "order-service-canary"))}),
          "identity-config-change")
    b.add(iam(b, ALICE, "UpdateAssumeRolePolicy",
              {"roleName": "reporting-lambda-role",
               "policyDocument": trust_policy({"Effect": "Allow",
                                               "Principal": {"Service": "lambda.amazonaws.com"},
                                               "Action": "sts:AssumeRole"})}))
    # Refused change on a watched role: not a change.
    b.add(iam(b, DAVE, "UpdateAssumeRolePolicy",
              {"roleName": "prod-production-payment-service",
               "policyDocument": trust_policy(irsa_trust("production", "payment-service"))},
              err=("AccessDenied",
                   "User: arn:aws:sts::111122223333:assumed-role/ReadOnly/dave is not authorized to perform: "
                   "iam:UpdateAssumeRolePolicy on resource: role prod-production-payment-service "
                   "because no identity-based policy allows the iam:UpdateAssumeRolePolicy action")))
    node_background(b, N2, ["logs"])
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "config/order-service/settings.json",
             size=2841))
    b.add(call(b, ALICE, "eks.amazonaws.com", "ListPodIdentityAssociations", ver="1.10",
               req={"clusterName": CLUSTER, "namespace": "production"}))
    b.add(call(b, ALICE, "eks.amazonaws.com", "CreatePodIdentityAssociation", ver="1.10",
               read_only=False,
               req={"clusterName": CLUSTER, "namespace": "production", "serviceAccount": "payment-service",
                    "roleArn": role_arn("prod-production-payment-service"), "clientRequestToken": uid(),
                    "tags": {"team": "payments"}},
               resp=lambda t: {"association": {
                   "clusterName": CLUSTER, "namespace": "production", "serviceAccount": "payment-service",
                   "roleArn": role_arn("prod-production-payment-service"),
                   "associationArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER}/{assoc_new}",
                   "associationId": assoc_new, "tags": {"team": "payments"},
                   "createdAt": iso(t), "modifiedAt": iso(t)}}),
          "identity-config-change")
    # A refused create is not a change.
    b.add(call(b, ALICE, "eks.amazonaws.com", "CreatePodIdentityAssociation", ver="1.10",
               read_only=False,
               err=("ResourceInUseException",
                    "Association already exists: production/payment-service"),
               req={"clusterName": CLUSTER, "namespace": "production", "serviceAccount": "payment-service",
                    "roleArn": role_arn("prod-production-payment-service"), "clientRequestToken": uid()}))
    b.add(call(b, ALICE, "eks.amazonaws.com", "UpdatePodIdentityAssociation", ver="1.10",
               read_only=False,
               req={"clusterName": CLUSTER, "associationId": assoc_old,
                    "roleArn": role_arn("prod-monitoring-prometheus"), "clientRequestToken": uid()},
               resp=lambda t: {"association": {
                   "clusterName": CLUSTER, "namespace": "monitoring", "serviceAccount": "prometheus",
                   "roleArn": role_arn("prod-monitoring-prometheus"),
                   "associationArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER}/{assoc_old}",
                   "associationId": assoc_old, "tags": {}, "createdAt": "2026-10-02T03:14:15Z",
                   "modifiedAt": iso(t)}}),
          "identity-config-change")
    b.add(ddb(b, SESS["payment"], "PutItem", "payments"))
    b.add(call(b, ALICE, "eks.amazonaws.com", "DeletePodIdentityAssociation", ver="1.10",
               read_only=False, req={"clusterName": CLUSTER, "associationId": assoc_new},
               resp=lambda t: {"association": {
                   "clusterName": CLUSTER, "namespace": "production", "serviceAccount": "payment-service",
                   "roleArn": role_arn("prod-production-payment-service"),
                   "associationArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER}/{assoc_new}",
                   "associationId": assoc_new, "tags": {"team": "payments"},
                   "createdAt": iso(t - timedelta(seconds=40)), "modifiedAt": iso(t - timedelta(seconds=40))}}),
          "identity-config-change")
    b.add(iam(b, ALICE, "GetOpenIDConnectProvider", {"openIDConnectProviderArn": OIDC_ARN},
              read_only=True))
    b.add(iam(b, ALICE, "DeleteOpenIDConnectProvider", {"openIDConnectProviderArn": OIDC_ARN}),
          "identity-config-change")
    b.add(iam(b, ALICE, "CreateOpenIDConnectProvider",
              {"url": f"https://{OIDC_HOST}", "clientIDList": ["sts.amazonaws.com"],
               "thumbprintList": [EKS_CA_THUMBPRINT]},
              resp={"openIDConnectProviderArn": OIDC_ARN}),
          "identity-config-change")
    b.add(iam(b, ALICE, "UpdateOpenIDConnectProviderThumbprint",
              {"openIDConnectProviderArn": OIDC_ARN, "thumbprintList": [EKS_CA_THUMBPRINT]}),
          "identity-config-change")
    node_background(b, N3, ["describe"])
    # A non-EKS OIDC provider: no finding.
    b.add(iam(b, ALICE, "CreateOpenIDConnectProvider",
              {"url": f"https://{GITHUB_OIDC_HOST}", "clientIDList": ["sts.amazonaws.com"],
               "thumbprintList": [GITHUB_THUMBPRINT]},
              resp={"openIDConnectProviderArn": GITHUB_OIDC_ARN}))
    b.add(iam(b, ALICE, "CreateAccessKey", {"userName": "ci-deployer"},
              resp=lambda t: {"accessKey": {"accessKeyId": akia(), "status": "Active",
                                            "userName": "ci-deployer", "createDate": human(t)}}),
          "identity-config-change")
    b.add(iam(b, ALICE, "AttachRolePolicy",
              {"roleName": "prod-node-role", "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}),
          "identity-config-change")
    b.add(iam(b, ALICE, "PutRolePolicy",
              {"roleName": "prod-node-role", "policyName": "node-extra-secrets",
               "policyDocument": trust_policy({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                               "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/*"})}),
          "identity-config-change")
    # Not a node role: no finding.
    b.add(iam(b, ALICE, "AttachRolePolicy",
              {"roleName": "reporting-lambda-role",
               "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}))
    b.add(kms_decrypt(b, SESS["payment"], {"service": "payment-service"}))
    # The node role is a watched role too.
    b.add(iam(b, ALICE, "UpdateAssumeRolePolicy",
              {"roleName": "prod-node-role",
               "policyDocument": trust_policy({"Effect": "Allow",
                                               "Principal": {"Service": "ec2.amazonaws.com"},
                                               "Action": "sts:AssumeRole"})}),
          "identity-config-change")
    b.add(iam(b, ALICE, "ListAttachedRolePolicies", {"roleName": "prod-node-role"}, read_only=True))
    node_background(b, N1, ["logs", "eni"])
    b.add(sqs_send(b, SESS["order2"], "order-events"))
    return b


def batch_unexpected_subjects() -> Batch:
    b = Batch("0930", (4, 10))
    node_background(b, N1, ["ecr_auth", "pull"])
    # Bound subjects into their own roles: no finding.
    rec, SESS["order3"] = irsa(b, "production", "order-service", "prod-production-order-service",
                               "10.0.21.16", UA["java"], "aws-sdk-java-1796030421770")
    b.add(rec)
    b.add(s3(b, SESS["order3"], "GetObject", ORDER_BUCKET, "config/order-service/settings.json",
             size=2841))
    # A debug pod in "default" gets the order-service role (trust policy too wide).
    rec, SESS["debug"] = irsa(b, "default", "debug-pod", "prod-production-order-service",
                              POD_IP["debug-pod"], UA["cli_linux"], "botocore-session-1796030440")
    b.add(rec, "unexpected-web-identity-subject")
    b.add(s3_list_objects(b, SESS["debug"], ORDER_BUCKET, "exports/"))
    rec, SESS["prom2"] = irsa(b, "monitoring", "prometheus", "prod-monitoring-prometheus",
                              POD_IP["prometheus"], UA["yace"], "1796030460336201118")
    b.add(rec)
    node_background(b, N2, ["describe", "logs"])
    # Same namespace, different service account: still not bound to that role.
    rec, _ = irsa(b, "production", "payment-service", "prod-production-order-service", "10.0.22.33",
                  UA["boto3"], "botocore-session-1796030481")
    b.add(rec, "unexpected-web-identity-subject")
    # Grafana in "default" obtains prometheus's role through a pod identity association.
    sts, eks, SESS["grafana"] = pod_identity(b, N2, "default", "grafana", "grafana-6b7c8d9f5-tn4pq",
                                             "prod-monitoring-prometheus", pod_ip="10.0.25.61",
                                             ua=UA["yace"])
    b.add(sts, "unexpected-web-identity-subject")
    b.add(eks)
    b.add(cw(b, SESS["grafana"], "GetMetricData"))
    # A role with no binding in config: no finding whoever gets it.
    rec, SESS["dns2"] = irsa(b, "kube-system", "external-dns", "prod-kube-system-external-dns",
                             POD_IP["external-dns"], UA["external_dns"], "1796030512000883412")
    b.add(rec)
    b.add(call(b, SESS["dns2"], "route53.amazonaws.com", "ChangeResourceRecordSets", ip=NAT_A,
               ver="1.08", region="us-east-1", read_only=False,
               req={"hostedZoneId": "Z0123456789ABCDEFGHIJ", "changeBatch": {"changes": [
                   {"action": "UPSERT", "resourceRecordSet": {
                       "name": "orders.example.com", "type": "A",
                       "aliasTarget": {"hostedZoneId": "Z1LMS91P8CMLE5",
                                       "dNSName": "k8s-producti-orders-0a1b2c3d4e-1234567890.ap-southeast-1.elb.amazonaws.com",
                                       "evaluateTargetHealth": True}}}]}},
               resp={"changeInfo": {"id": "/change/C0123456789ABCDEFGHIJ", "status": "PENDING",
                                    "submittedAt": "Nov 30, 2026, 9:28:40 AM"}}))
    sts, eks, SESS["pi_pay3"] = pod_identity(b, N3, "production", "payment-service",
                                             "payment-service-7d9c6b5f4-b6v1w",
                                             "prod-production-payment-service", pod_ip="10.0.22.34")
    b.add(sts)
    b.add(eks)
    sts, eks, _ = pod_identity(b, N1, "kube-system", "ebs-csi-controller-sa",
                               "ebs-csi-controller-6c8f9d7b5-p8d2s", "prod-kube-system-ebs-csi",
                               pod_ip="10.0.26.71", ua=UA["ebs_csi"])
    b.add(sts)
    b.add(eks)
    b.add(ddb(b, SESS["pi_pay3"], "PutItem", "payments"))
    node_background(b, N3, ["eni", "metrics"])
    b.add(sqs_send(b, SESS["order3"], "order-events"))
    b.add(cw(b, SESS["prom2"], "ListMetrics"))
    node_background(b, N1, ["logs"])
    return b


def batch_benign() -> Batch:
    b = Batch("0935", (0, 3))
    legacy_ci = user("legacy-ci", "198.51.100.200", UA["cli_old"])
    carol = user("carol", OFFICE_IP, UA["console"], console_created="2026-11-30T08:57:31Z")
    sess = {}
    rec, sess["order"] = irsa(b, "production", "order-service", "prod-production-order-service",
                              POD_IP["order-service"], UA["java"], "aws-sdk-java-1796030705200")
    b.add(rec)
    rec, sess["pay"] = irsa(b, "production", "payment-service", "prod-production-payment-service",
                            POD_IP["payment-service"], UA["boto3"], "botocore-session-1796030706")
    b.add(rec)
    rec, sess["prom"] = irsa(b, "monitoring", "prometheus", "prod-monitoring-prometheus",
                             POD_IP["prometheus"], UA["yace"], "1796030708110023558")
    b.add(rec)
    b.add(imds_vend(b, N2))
    nodes = [N1, N2, N3]
    kinds = ["ecr_auth", "pull", "describe", "logs", "eni", "asg", "metrics", "eks", "ssm"]
    special_at = {20: "unicode", 45: "quoted", 70: "large", 90: "cross", 100: "pi", 110: "gha",
                  120: "ssm_dhmc", 130: "ci", 35: "console", 60: "errors", 80: "dns"}
    i = 0
    while len(b.records) < 150:
        i += 1
        kind = special_at.get(i)
        if kind == "unicode":
            # 日本語 stays raw UTF-8; é and 🚀 are written as \u escapes (see write_batch).
            b.add(s3(b, sess["order"], "PutObject", REPORT_BUCKET,
                     "reports/日本語/résumé-2026-11-30 🚀.pdf", size=48213))
            b.add(call(b, sess["order"], "sqs.amazonaws.com", "SendMessage", ver="1.09", data=True,
                       read_only=False,
                       req={"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/order-events",
                            "messageAttributes": {"customer": {"dataType": "String",
                                                               "stringValue": "Zoë Müller / 東京都"}}},
                       resp={"mD5OfMessageBody": hexs(32), "messageId": uid()}))
        elif kind == "quoted":
            b.add(s3(b, sess["order"], "GetObject", REPORT_BUCKET, "reports/daily/2026-11-29.csv",
                     size=90211, ua=UA["js_quoted"]))
        elif kind == "large":
            ids = [f"i-0{hexs(16)}" for _ in range(560)]
            b.add(ec2_describe_instances(b, ALICE, ids))
        elif kind == "cross":
            # Workload assumes a role in a trusted account: no finding.
            t = b.tick()
            sname = "order-service-artifacts"
            b.add(call(b, sess["order"], "sts.amazonaws.com", "AssumeRole", t=t, ver="1.08",
                       req={"roleArn": role_arn("shared-artifacts-reader", TRUSTED_OTHER_ACCOUNT),
                            "roleSessionName": sname, "durationSeconds": 900},
                       resp={"credentials": sts_creds(asia(), t, 900),
                             "assumedRoleUser": {"assumedRoleId": f"{ROLE_PID['shared-artifacts-reader']}:{sname}",
                                                 "arn": f"arn:aws:sts::{TRUSTED_OTHER_ACCOUNT}:assumed-role/shared-artifacts-reader/{sname}"}},
                       resources=role_resource("shared-artifacts-reader", TRUSTED_OTHER_ACCOUNT),
                       shared=True))
        elif kind == "pi":
            sts, eks, s = pod_identity(b, N1, "production", "payment-service",
                                       "payment-service-7d9c6b5f4-h5j6k",
                                       "prod-production-payment-service", pod_ip="10.0.22.35")
            b.add(sts)
            b.add(eks)
            b.add(ddb(b, s, "Query", "payments"))
        elif kind == "gha":
            rec, s = github(b, "github-actions-deploy", "203.0.113.79")
            b.add(rec)
            b.add(call(b, s, "eks.amazonaws.com", "DescribeCluster", ver="1.10", ip="203.0.113.79",
                       ua=UA["github"], req={"name": CLUSTER}))
        elif kind == "ssm_dhmc":
            b.add(ssm_update(b, SSM_DHMC))
        elif kind == "ci":
            b.add(ecr_auth(b, legacy_ci, ua=UA["cli_old"], tls12=True))
        elif kind == "console":
            b.add(call(b, carol, "eks.amazonaws.com", "DescribeCluster", ver="1.10",
                       req={"name": CLUSTER}))
        elif kind == "errors":
            # Ordinary application errors (not access denials).
            b.add(s3(b, sess["order"], "GetObject", ORDER_BUCKET, "exports/2026/11/30/missing.csv",
                     err=("NoSuchKey", "The specified key does not exist.")))
            b.add(ddb(b, sess["pay"], "PutItem", "payments",
                      err=("ConditionalCheckFailedException", "The conditional request failed")))
            b.add(iam(b, ALICE, "GetRole", {"roleName": "prod-staging-order-service"}, read_only=True,
                      err=("NoSuchEntityException",
                           "The role with name prod-staging-order-service cannot be found.")))
        elif kind == "dns":
            b.add(call(b, SESS["dns"], "route53.amazonaws.com", "ListResourceRecordSets", ip=NAT_A,
                       ver="1.08", region="us-east-1", req={"hostedZoneId": "Z0123456789ABCDEFGHIJ"}))
        else:
            r = RNG.random()
            if r < 0.45:
                nd = RNG.choice(nodes)
                node_background(b, nd, [RNG.choice(kinds)])
            elif r < 0.60:
                b.add(s3(b, sess["order"], "GetObject", ORDER_BUCKET,
                         f"templates/{RNG.choice(['invoice-v3', 'receipt-v2', 'label-v1'])}.html",
                         size=RNG.randint(900, 20000)))
            elif r < 0.72:
                b.add(ddb(b, sess["pay"], RNG.choice(["GetItem", "PutItem", "Query"]), "payments"))
            elif r < 0.80:
                b.add(sqs_send(b, sess["order"], "order-events"))
            elif r < 0.88:
                b.add(kms_decrypt(b, sess["pay"], {"service": "payment-service"}))
            elif r < 0.95:
                b.add(cw(b, sess["prom"], RNG.choice(["GetMetricData", "ListMetrics"])))
            else:
                b.add(iam(b, ALICE, RNG.choice(["ListRoles", "GetRole"]),
                          {"roleName": "prod-node-role"}, read_only=True))
    missing = set(special_at) - set(range(1, i + 1))
    assert not missing, f"benign batch ended before specials {sorted(missing)}"
    return b


# --------------------------------------------------------------------------- writers

OUTPUTS: list[Path] = []
LOG_FILES: list[dict] = []


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def escape_some(text: str) -> str:
    """Write é and 🚀 as JSON \\u escapes (CloudTrail producers differ; decoders must cope)."""
    return text.replace("é", "\\u00e9").replace("🚀", "\\ud83d\\ude80")


CHECK = "--check" in sys.argv[1:]
STALE: list[Path] = []


def write(path: Path, data: bytes) -> None:
    OUTPUTS.append(path)
    if CHECK:
        # Compare instead of writing: the committed samples must be what this script makes.
        # Gzip bytes depend on the zlib build; compare what they decompress to.
        same = path.exists() and (
            gzip.decompress(path.read_bytes()) == gzip.decompress(data)
            if path.suffix == ".gz"
            else path.read_bytes() == data
        )
        if not same:
            STALE.append(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_expected(path: Path, lines: list[str]) -> None:
    text = "".join(f"{l}\n" for l in sorted(lines))
    write(path.with_name(path.name + ".expected"), text.encode("utf-8"))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def write_batch(b: Batch) -> None:
    stamp = b.end.strftime("%Y%m%dT%H%MZ")
    key = f"{LOG_PREFIX}/{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{rand_str(16, ALNUM)}.json.gz"
    raw = escape_some(dumps({"Records": b.records})).encode("utf-8")
    assert json.loads(raw) == json.loads(dumps({"Records": b.records}))
    path = HERE / key
    write(path, gz(raw))
    write_expected(path, b.expected)
    times = [r["eventTime"] for r in b.records]
    LOG_FILES.append({"s3Bucket": TRAIL_BUCKET, "s3Object": key,
                      "hashValue": hashlib.sha256(raw).hexdigest(), "hashAlgorithm": "SHA-256",
                      "newestEventTime": max(times), "oldestEventTime": min(times)})


def write_digest() -> None:
    name = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL_NAME}_{REGION}_20261130T100000Z.json.gz"
    prev = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL_NAME}_{REGION}_20261130T090000Z.json.gz"
    digest = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2026-11-30T09:00:00Z",
        "digestEndTime": "2026-11-30T10:00:00Z",
        "digestS3Bucket": TRAIL_BUCKET,
        "digestS3Object": f"{DIGEST_PREFIX}/{name}",
        "digestPublicKeyFingerprint": hexs(32),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(f["newestEventTime"] for f in LOG_FILES),
        "oldestEventTime": min(f["oldestEventTime"] for f in LOG_FILES),
        "previousDigestS3Bucket": TRAIL_BUCKET,
        "previousDigestS3Object": f"{DIGEST_PREFIX}/{prev}",
        "previousDigestHashValue": hexs(64),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": hexs(512),
        "logFiles": LOG_FILES,
    }
    path = HERE / DIGEST_PREFIX / name
    write(path, gz(dumps(digest).encode("utf-8")))
    write_expected(path, [])


def cwl_event_id(ts_ms: int) -> str:
    return (str(ts_ms) + "".join(str(RNG.randint(0, 9)) for _ in range(56)))[:56]


def cwl_payload(b: Batch) -> dict:
    events = []
    for r in b.records:
        ts = int(datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
                 .replace(tzinfo=UTC).timestamp()) * 1000 + RNG.randint(0, 999)
        events.append({"id": cwl_event_id(ts), "timestamp": ts, "message": dumps(r)})
    return {"messageType": "DATA_MESSAGE", "owner": ACCOUNT,
            "logGroup": f"aws-cloudtrail-logs-{ACCOUNT}",
            "logStream": f"{ACCOUNT}_CloudTrail_{REGION}",
            "subscriptionFilters": ["trailwatch"], "logEvents": events}


def write_json(path: Path, obj) -> None:
    write(path, (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def awslogs(payload: dict) -> dict:
    return {"awslogs": {"data": base64.b64encode(gz(dumps(payload).encode("utf-8"))).decode()}}


def cloudwatch_logs() -> None:
    out = HERE / "cloudwatch-logs"
    b = Batch("0946", (5, 20), minutes=3)
    node_background(b, N1, ["ecr_auth"])
    rec, s = irsa(b, "production", "order-service", "prod-production-order-service",
                  POD_IP["order-service"], UA["java"], "aws-sdk-java-1796031560300")
    b.add(rec)
    # Bound to order-service, asks for payment-service's role.
    rec, _ = irsa(b, "production", "order-service", "prod-production-payment-service", "10.0.50.21",
                  UA["java"], "aws-sdk-java-1796031571002",
                  err=("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
    b.add(rec, "irsa-assume-failure")
    b.add(s3(b, s, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    b.add(logs_put(b, N2))
    write_json(out / "subscription-decoded.json", cwl_payload(b))
    write_expected(out / "subscription-decoded.json", b.expected)

    b = Batch("0951", (5, 15), minutes=3)
    node_background(b, N3, ["describe"])
    sts, eks, s = pod_identity(b, N3, "monitoring", "prometheus", "prometheus-server-1",
                               "prod-monitoring-prometheus", pod_ip="10.0.23.42", ua=UA["yace"])
    b.add(sts)
    b.add(eks)
    # Trust policy lacks sts:TagSession: the pods.eks.amazonaws.com AssumeRole fails.
    sts, _, _ = pod_identity(
        b, N7, "production", "payment-service", "payment-service-7d9c6b5f4-c3x8v",
        "prod-production-payment-service", eks_record=False,
        sts_err=("AccessDenied",
                 "User: pods.eks.amazonaws.com is not authorized to perform: sts:TagSession on resource: "
                 "arn:aws:iam::111122223333:role/prod-production-payment-service"))
    b.add(sts, "pod-identity-failure")
    b.add(cw(b, s, "GetMetricData"))
    b.add(ddb(b, SESS["payment"], "Query", "payments"))
    write_json(out / "subscription-awslogs.json", awslogs(cwl_payload(b)))
    write_expected(out / "subscription-awslogs.json", b.expected)

    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
               "logStream": "", "subscriptionFilters": [],
               "logEvents": [{"id": "", "timestamp": int(datetime(2026, 11, 30, 9, 52, tzinfo=UTC).timestamp()) * 1000,
                              "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}
    write_json(out / "control-message.json", awslogs(control))
    write_expected(out / "control-message.json", [])


def eventbridge() -> None:
    b = Batch("0953", (5, 15), minutes=1)
    _, eks, _ = pod_identity(b, N8, "production", "order-service", "order-service-5f8b7c6d9-j2h4g",
                             "prod-production-order-service", sts_record=False,
                             eks_err=("AccessDeniedException", PIA_ERR))
    b.add(eks, "pod-identity-failure")
    event = {"version": "0", "id": uid(), "detail-type": "AWS API Call via CloudTrail",
             "source": "aws.eks-auth", "account": ACCOUNT, "time": eks["eventTime"],
             "region": REGION, "resources": [], "detail": eks}
    path = HERE / "eventbridge" / "assume-role-for-pod-identity-failure.json"
    write_json(path, event)
    write_expected(path, b.expected)


def ndjson() -> None:
    b = Batch("0958", (5, 25))
    exporter = user("reports-exporter", NAT_A, UA["boto3"])
    b.add(s3(b, SESS["order"], "GetObject", ORDER_BUCKET, "templates/invoice-v3.html", size=12877))
    b.add(ddb(b, SESS["payment"], "GetItem", "payments"))
    node_background(b, N1, ["ecr_auth"])
    b.add(cw(b, SESS["prom"], "GetMetricData"))
    # A pod with a long-term key in its environment.
    b.add(s3(b, exporter, "GetObject", REPORT_BUCKET, "reports/daily/2026-11-29.csv", size=90211),
          "long-term-access-key")
    b.add(kms_decrypt(b, SESS["payment"], {"service": "payment-service"}))
    node_background(b, N2, ["logs", "describe"])
    b.add(sqs_send(b, SESS["order2"], "order-events"))
    b.add(ddb(b, SESS["payment"], "PutItem", "payments"))
    path = HERE / "ndjson" / "workload-traffic.ndjson"
    write(path, "".join(dumps(r) + "\n" for r in b.records).encode("utf-8"))
    write_expected(path, b.expected)


# --------------------------------------------------------------------------- stateful samples
#
# samples/stateful/<scenario>/<n>-<name>.json.gz: each scenario is replayed file by file
# (one run per file, in order) against one state store that starts empty per scenario;
# `<file>.expected` is what that run must output after alert deduplication. Everything
# here runs after the stateless samples above, so their ids do not move; nothing here is
# created at import time for the same reason.

STATEFUL = HERE / "stateful"
R_ORDER, R_PAY, R_PROM = ("prod-production-order-service", "prod-production-payment-service",
                          "prod-monitoring-prometheus")
UNTRUSTED_ACCOUNT = "999988887777"


class Scene(Batch):
    """A stateful-sample file: records from `start` for `minutes`; `at(t)` pins the time
    of the next record (the following ones go on from there)."""

    def __init__(self, start: datetime, gap: tuple[int, int], minutes: int):
        self.start, self.end, self.t = start, start + timedelta(minutes=minutes), start
        self.gap = gap
        self.records, self.expected = [], []
        self.pinned: datetime | None = None

    def at(self, t: datetime) -> "Scene":
        assert self.start <= t < self.end, f"{iso(t)} outside {iso(self.start)}..{iso(self.end)}"
        self.pinned = t
        return self

    def tick(self) -> datetime:
        if self.pinned is not None:
            self.t, self.pinned = self.pinned, None
            return self.t
        return super().tick()

    def in_time_order(self) -> "Scene":
        times = [r["eventTime"] for r in self.records]
        assert times == sorted(times), "records out of time order"
        return self


def utc(y, mo, d, h, mi, s=0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def secs(n: int) -> timedelta:
    return timedelta(seconds=n)


def spread(t0: datetime, t1: datetime, n: int) -> list[datetime]:
    """n increasing times in [t0, t1)."""
    step = int((t1 - t0).total_seconds()) // n
    return [t0 + secs(i * step + RNG.randint(0, step - 1)) for i in range(n)]


def sdk_session_name(kind: str, t: datetime) -> str:
    """Role session names as the SDKs make them up (java: ms, boto: s, go: ns)."""
    s = int(t.timestamp())
    if kind == "java":
        return f"aws-sdk-java-{s * 1000 + RNG.randint(0, 999)}"
    if kind == "boto3":
        return f"botocore-session-{s}"
    return f"{s}{RNG.randint(0, 999_999_999):09d}"


def irsa_session(role, name, ip, ua, created):
    """An IRSA session whose exchange happened before the scenario (key unknown to state)."""
    return session("irsa", role, name, ip, ua, created, provider=OIDC_ARN)


def irsa_for(b, ns, sa, role, ip, ua, session_name, seconds):
    """A successful IRSA exchange asking for `seconds` (durationSeconds) of credentials."""
    rec, sess = irsa(b, ns, sa, role, ip, ua, session_name)
    t = datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    rec["requestParameters"]["durationSeconds"] = seconds
    rec["responseElements"]["credentials"]["expiration"] = human(t + secs(seconds))
    return rec, sess


def assume_role(b, s, role, account, session_name, *, err=None, seconds=3600, **kw):
    """sts:AssumeRole called with session/user `s` into `role` of `account`."""
    if role not in ROLE_PID:
        ROLE_PID[role] = aroa()
    t = kw.pop("t", None) or b.tick()
    resp = None
    if err is None:
        resp = {"credentials": sts_creds(asia(), t, seconds),
                "assumedRoleUser": {"assumedRoleId": f"{ROLE_PID[role]}:{session_name}",
                                    "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session_name}"}}
    return call(b, s, "sts.amazonaws.com", "AssumeRole", t=t, ver="1.08", err=err,
                req={"roleArn": role_arn(role, account), "roleSessionName": session_name,
                     "durationSeconds": seconds},
                resp=resp, resources=role_resource(role, account), shared=True, **kw)


def kms_for_s3(b, s, bucket, key, t):
    """The KMS call S3 makes on the caller's behalf for SSE-KMS: the caller's key, but
    S3 as the source address."""
    ident = ident_of(s)
    ident["invokedBy"] = "s3.amazonaws.com"
    return ev(b, ident, "kms.amazonaws.com", "GenerateDataKey", "s3.amazonaws.com",
              "s3.amazonaws.com", t=t, ver="1.11", tls=False,
              req={"keyId": KMS_KEY, "keySpec": "AES_256",
                   "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{key}"}},
              resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KMS_KEY}])


# Permission probing from a compromised pod: action → (requestParameters, resource in the message).
PROBES = {
    "iam:ListRoles": ({"maxItems": 1000}, f"arn:aws:iam::{ACCOUNT}:role/"),
    "iam:ListUsers": ({"maxItems": 1000}, f"arn:aws:iam::{ACCOUNT}:user/"),
    "iam:GetAccountAuthorizationDetails": ({"filter": ["User", "Role", "LocalManagedPolicy"]}, "*"),
    "iam:ListAttachedRolePolicies": ({"roleName": "prod-node-role"}, role_arn("prod-node-role")),
    "iam:GetRole": ({"roleName": "Admin"}, role_arn("Admin")),
    "s3:ListBuckets": (None, None),
    "s3:GetObject": (None, None),
    "secretsmanager:ListSecrets": ({"maxResults": 100}, "*"),
    "secretsmanager:GetSecretValue": ({"secretId": "prod/rds/master"},
                                      f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/rds/master-Xk3p9Q"),
    "kms:ListKeys": ({"limit": 1000}, "*"),
    "kms:DescribeKey": ({"keyId": "alias/prod-payments"}, KMS_KEY),
    "ec2:DescribeInstances": ({"instancesSet": {}, "filterSet": {}}, None),
    "ec2:DescribeSecurityGroups": ({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}, None),
}
PROBE_ORDER = ["iam:ListRoles", "iam:ListUsers", "s3:ListBuckets", "secretsmanager:ListSecrets",
               "kms:ListKeys", "ec2:DescribeInstances", "iam:GetAccountAuthorizationDetails",
               "secretsmanager:GetSecretValue", "s3:GetObject", "kms:DescribeKey",
               "iam:ListAttachedRolePolicies", "ec2:DescribeSecurityGroups", "iam:GetRole"]


def probe(b, s, action, **kw):
    """A denied call: AccessDenied (IAM, S3), AccessDeniedException (Secrets Manager, KMS),
    Client.UnauthorizedOperation (EC2). IAM has no VPC endpoint: it leaves through the NAT."""
    svc, name = action.split(":")
    kw.setdefault("ua", UA["cli_linux"])
    arn = ident_of(s)["arn"]
    if action == "s3:ListBuckets":
        return call(b, s, "s3.amazonaws.com", "ListBuckets", ver="1.10",
                    err=("AccessDenied", "Access Denied"), req={"Host": f"s3.{REGION}.amazonaws.com"},
                    extra={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                           "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                           "x-amz-id-2": amz_id2(), "bytesTransferredOut": 243},
                    request_id=s3_request_id(), **kw)
    if action == "s3:GetObject":
        return s3(b, s, "GetObject", REPORT_BUCKET, "finance/2026-11/ledger.parquet",
                  err=("AccessDenied", "Access Denied"), **kw)
    req, resource = PROBES[action]
    if svc == "ec2":
        err = ("Client.UnauthorizedOperation",
               f"You are not authorized to perform this operation. User: {arn} is not authorized to "
               f"perform: {action} because no identity-based policy allows the {action} action")
        return call(b, s, "ec2.amazonaws.com", name, ver="1.09", err=err, req=req, **kw)
    err = ("AccessDenied" if svc == "iam" else "AccessDeniedException",
           f"User: {arn} is not authorized to perform: {action} on resource: {resource} because no "
           f"identity-based policy allows the {action} action")
    if svc == "iam":
        return iam(b, s, name, req, err=err, read_only=True, ip=NAT_A, **kw)
    return call(b, s, f"{svc}.amazonaws.com", name, ver="1.11" if svc == "kms" else "1.09",
                err=err, req=req, **kw)


def write_scene(scenario: str, name: str, b: Batch) -> None:
    raw = dumps({"Records": b.records}).encode("utf-8")
    path = STATEFUL / scenario / f"{name}.json.gz"
    write(path, gz(raw))
    write_expected(path, b.expected)


def scene_credential_stitching() -> None:
    """IRSA and Pod Identity keys remembered from file 1, used in file 2."""
    na = node("i-0c41d2e3f4a5b6c78", "10.0.14.21", "2026-11-30T05:40:10Z")
    nb = node("i-0c42e3f4a5b6c7d89", "10.0.47.9", "2026-11-30T06:02:44Z")
    b = Scene(utc(2026, 11, 30, 9, 0), (4, 12), 5)
    node_background(b, na, ["ecr_auth"])
    rec, order = irsa(b, "production", "order-service", R_ORDER, "10.0.21.41", UA["java"],
                      sdk_session_name("java", b.t))
    b.add(rec)
    b.add(s3(b, order, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    # Asks for 15 minutes only: the key is dead long before file 2.
    rec, pay = irsa_for(b, "production", "payment-service", R_PAY, "10.0.22.41", UA["boto3"],
                        sdk_session_name("boto3", b.t), 900)
    b.add(rec)
    b.add(ddb(b, pay, "PutItem", "payments"))
    sts, eks, prom = pod_identity(b, nb, "monitoring", "prometheus", "prometheus-server-0",
                                  R_PROM, pod_ip="10.0.23.44", ua=UA["yace"])
    b.add(sts)
    b.add(eks)
    b.add(cw(b, prom, "GetMetricData"))
    node_background(b, nb, ["describe", "logs"])
    b.add(sqs_send(b, order, "order-events"))
    b.add(kms_decrypt(b, pay, {"service": "payment-service"}))
    node_background(b, na, ["eni", "metrics"])
    b.add(cw(b, prom, "ListMetrics"))
    b.add(ddb(b, pay, "GetItem", "payments"))
    write_scene("credential-stitching", "1-exchange", b.in_time_order())

    b = Scene(utc(2026, 11, 30, 9, 30), (5, 25), 10)
    node_background(b, na, ["ecr_auth", "describe"])
    # Inside: the pod's address through VPC endpoints, the NAT, S3 calling KMS for it.
    b.add(s3(b, order, "GetObject", ORDER_BUCKET, "templates/invoice-v3.html", size=12877))
    b.add(cw(b, prom, "GetMetricData"))
    put = s3(b, order, "PutObject", ORDER_BUCKET, "exports/2026/11/30/orders-0930.csv.gz", size=190211)
    b.add(put)
    t_put = datetime.strptime(put["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    b.add(kms_for_s3(b, order, ORDER_BUCKET, "exports/2026/11/30/orders-0930.csv.gz", t_put))
    b.add(caller_identity(b, order, ip=NAT_A))
    node_background(b, nb, ["logs"])
    # The IRSA key of order-service from outside.
    b.add(s3_list_buckets(b, order, ip="198.51.100.60", ua=UA["cli_linux"]),
          "workload-credential-exfiltration")
    b.add(sqs_send(b, order, "order-events"))
    # The 15-minute key, 15+ minutes after it expired: no longer remembered.
    b.add(ddb(b, pay, "Scan", "payments", ip="198.51.100.61", ua=UA["cli_linux"]))
    # The Pod Identity key of prometheus from outside.
    b.add(caller_identity(b, prom, ip="203.0.113.90", ua=UA["cli_mac"]),
          "workload-credential-exfiltration")
    # A key no exchange in the state handed out (its exchange predates the scenario).
    ghost = irsa_session(R_PAY, "botocore-session-1796023960", "10.0.22.42", UA["boto3"],
                         "2026-11-30T07:32:40Z")
    b.add(ddb(b, ghost, "GetItem", "payments", ip="198.51.100.62", ua=UA["cli_linux"]))
    # An admin from the office: public, but not a workload credential.
    b.add(iam(b, ALICE, "GetRole", {"roleName": R_PROM}, read_only=True))
    b.add(cw(b, prom, "ListMetrics"))
    node_background(b, na, ["logs"])
    b.add(ddb(b, ghost, "Query", "payments"))
    write_scene("credential-stitching", "2-use", b.in_time_order())


def scene_out_of_order() -> None:
    """Uses seen before the exchange that hands their key out."""
    na = node("i-0d51e2f3a4b5c6d79", "10.0.16.8", "2026-11-30T06:20:31Z")
    b = Scene(utc(2026, 11, 30, 9, 0), (5, 15), 5)
    node_background(b, na, ["ecr_auth", "describe"])
    rec, order = irsa(b, "production", "order-service", R_ORDER, "10.0.21.51", UA["java"],
                      sdk_session_name("java", b.t))
    b.add(rec)
    b.add(s3(b, order, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    b.add(sqs_send(b, order, "order-events"))
    node_background(b, na, ["logs"])
    use = b.add(s3(b, order, "GetObject", ORDER_BUCKET, "exports/2026/11/30/orders-0900.csv.gz",
                   size=184220, ip="198.51.100.71", ua=UA["cli_mac"]),
                "workload-credential-exfiltration")
    b.add(ddb(b, order, "Query", "orders"))
    node_background(b, na, ["eni", "metrics"])
    b.add(s3(b, order, "PutObject", ORDER_BUCKET, "exports/2026/11/30/orders-0905.csv.gz", size=171520))
    b.add(sqs_send(b, order, "order-events"))
    node_background(b, na, ["eks"])
    # CloudTrail does not sort a file: the outside use comes before the exchange in Records.
    b.records.remove(use)
    b.records.insert(b.records.index(rec), use)
    write_scene("out-of-order", "1-use-before-exchange", b)

    # The exchange at 10:02 is delivered late, in a file replayed after the one holding
    # the use (10:07) — see 3-exchange-late, whose run reports the use.
    late = Scene(utc(2026, 11, 30, 10, 0), (8, 20), 5)
    node_background(late, na, ["ecr_auth"])
    rec, pay = irsa(late, "production", "payment-service", R_PAY, "10.0.22.51", UA["boto3"],
                    sdk_session_name("boto3", late.t))
    late.add(rec)
    late.add(ddb(late, pay, "GetItem", "payments"))
    late.add(kms_decrypt(late, pay, {"service": "payment-service"}))
    node_background(late, na, ["describe", "logs"])
    late.add(ddb(late, pay, "PutItem", "payments"))
    node_background(late, na, ["eni", "metrics"])
    late.add(ddb(late, pay, "Query", "payments"))
    late.add(sqs_send(late, pay, "payment-events"))

    b = Scene(utc(2026, 11, 30, 10, 5), (8, 20), 5)
    node_background(b, na, ["eni", "ecr_auth"])
    b.add(ddb(b, pay, "Query", "payments"))
    b.add(kms_decrypt(b, pay, {"service": "payment-service"}))
    node_background(b, na, ["describe"])
    b.at(utc(2026, 11, 30, 10, 7, 12))
    use = b.add(ddb(b, pay, "Scan", "payments", ip="203.0.113.144", ua=UA["cli_linux"]))
    b.add(ddb(b, pay, "GetItem", "payments"))
    node_background(b, na, ["logs", "metrics"])
    b.add(sqs_send(b, pay, "payment-events"))
    b.add(ddb(b, pay, "PutItem", "payments"))
    node_background(b, na, ["eks"])
    write_scene("out-of-order", "2-use", b.in_time_order())
    late.expected.append(f"workload-credential-exfiltration {use['eventID']}")
    write_scene("out-of-order", "3-exchange-late", late.in_time_order())


def scene_sdk_fallback() -> None:
    """Failed exchanges, then node-role business calls from the same address."""
    nx = node("i-0e61f2a3b4c5d6e7f", "10.0.77.40", "2026-11-30T07:12:09Z")  # pods 10.0.77.x
    ny = node("i-0e62a3b4c5d6e7f80", "10.0.78.52", "2026-11-30T07:14:40Z")
    denied = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    b = Scene(utc(2026, 11, 30, 11, 0), (6, 14), 30)
    node_background(b, ny, ["ecr_auth", "describe"])
    node_background(b, nx, ["logs"])
    rec, ok = irsa(b, "production", "order-service", R_ORDER, "10.0.21.92", UA["java"],
                   sdk_session_name("java", b.t))
    b.add(rec)
    b.add(s3(b, ok, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    # A: IRSA refused, then the SDK's chain reaches IMDS: node credentials from the pod's IP.
    t_a = utc(2026, 11, 30, 11, 1, 40)
    rec, _ = irsa(b.at(t_a), "production", "order-service", R_ORDER, "10.0.77.11", UA["java"],
                  sdk_session_name("java", t_a), err=denied)
    b.add(rec, "irsa-assume-failure")
    b.add(ec2_describe_instances(b, ny, [ny["name"]]))
    b.add(s3(b.at(t_a + secs(95)), nx, "GetObject", ORDER_BUCKET,
             "exports/2026/11/30/orders-1100.csv.gz", size=201433, ip="10.0.77.11", ua=UA["java"]),
          "node-role-misuse", "sdk-credential-fallback")
    # B: Pod Identity refused (trust lacks sts:TagSession) for a hostNetwork pod: the agent's
    # eks-auth call and the pod's fallback both come from the node's address.
    t_b = utc(2026, 11, 30, 11, 4, 30)
    sts, eks, _ = pod_identity(
        b.at(t_b), nx, "production", "payment-service", "payment-service-7d9c6b5f4-w8q2n", R_PAY,
        sts_err=("AccessDenied",
                 "User: pods.eks.amazonaws.com is not authorized to perform: sts:TagSession on resource: "
                 "arn:aws:iam::111122223333:role/prod-production-payment-service"),
        eks_err=("AccessDeniedException", PIA_ERR))
    b.add(sts, "pod-identity-failure")
    b.add(eks, "pod-identity-failure")
    b.add(logs_put(b.at(t_b + secs(40)), nx))  # the node's own (allowlisted) traffic
    b.add(cw(b, ok, "PutMetricData"))
    b.add(call(b.at(t_b + secs(150)), nx, "secretsmanager.amazonaws.com", "GetSecretValue",
               ver="1.08", ua=UA["boto3"], req={"secretId": "prod/payment-service/stripe"}),
          "node-role-misuse", "sdk-credential-fallback")
    # C: the node call comes 5 min + 1 s after the failure: too late.
    t_c = utc(2026, 11, 30, 11, 8, 10)
    rec, _ = irsa(b.at(t_c), "monitoring", "prometheus", R_PROM, "10.0.77.12", UA["yace"],
                  sdk_session_name("go", t_c),
                  err=("IDPCommunicationError",
                       "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"))
    b.add(rec, "irsa-assume-failure")
    # D: exactly 5 min after the failure: still inside [t, t + 5 min].
    t_d = utc(2026, 11, 30, 11, 9, 40)
    e = int(t_d.timestamp())
    rec, _ = irsa(b.at(t_d), "production", "payment-service", R_PAY, "10.0.77.13", UA["boto3"],
                  sdk_session_name("boto3", t_d),
                  err=("ExpiredTokenException",
                       f"Token expired: current date/time {e} must be before the expiration date/time {e - 412}"))
    b.add(rec, "irsa-assume-failure")
    node_background(b, ny, ["logs"])
    b.add(cw(b.at(t_c + secs(301)), nx, "GetMetricData", ip="10.0.77.12", ua=UA["yace"]),
          "node-role-misuse")
    b.add(ddb(b.at(t_d + secs(300)), nx, "Query", "payments", ip="10.0.77.13", ua=UA["boto3"]),
          "node-role-misuse", "sdk-credential-fallback")
    # E: the node call comes 20 s before the failure.
    t_e = utc(2026, 11, 30, 11, 16, 50)
    b.add(s3_list_buckets(b.at(t_e - secs(20)), nx, ip="10.0.77.14", ua=UA["java"]),
          "node-role-misuse")
    rec, _ = irsa(b.at(t_e), "production", "order-service", R_ORDER, "10.0.77.14", UA["java"],
                  sdk_session_name("java", t_e), err=denied)
    b.add(rec, "irsa-assume-failure")
    b.add(sqs_send(b, ok, "order-events"))
    # F: after the failure only allowlisted node calls from that address.
    t_f = utc(2026, 11, 30, 11, 19, 0)
    rec, _ = irsa(b.at(t_f), "production", "payment-service", R_PAY, "10.0.77.15", UA["boto3"],
                  sdk_session_name("boto3", t_f), err=denied)
    b.add(rec, "irsa-assume-failure")
    b.add(ec2_describe_instances(b.at(t_f + secs(30)), nx, [nx["name"]], ip="10.0.77.15",
                                 ua=UA["boto3"]))
    b.add(ecr_auth(b.at(t_f + secs(65)), nx, ip="10.0.77.15"))
    b.add(caller_identity(b.at(t_f + secs(80)), nx, ip="10.0.77.15", ua=UA["boto3"]))
    # G: a failure from one address, node misuse from another.
    t_g = utc(2026, 11, 30, 11, 22, 0)
    rec, _ = irsa(b.at(t_g), "production", "order-service", R_ORDER, "10.0.77.16", UA["java"],
                  sdk_session_name("java", t_g), err=denied)
    b.add(rec, "irsa-assume-failure")
    b.add(call(b.at(t_g + secs(60)), nx, "secretsmanager.amazonaws.com", "GetSecretValue",
               ver="1.08", ip="10.0.77.17", ua=UA["java"],
               req={"secretId": "prod/order-service/db"}),
          "node-role-misuse")
    node_background(b, nx, ["eni", "metrics"])
    b.add(s3(b, ok, "PutObject", ORDER_BUCKET, "exports/2026/11/30/orders-1120.csv.gz", size=176004))
    node_background(b, ny, ["pull"])
    write_scene("sdk-fallback", "1-fallback", b.in_time_order())


def scene_access_denied_burst() -> None:
    """Per-session AccessDenied counts in 5-minute windows, aligned and half a window later."""
    na = node("i-0f71a2b3c4d5e6f70", "10.0.18.12", "2026-11-30T06:44:02Z")
    b = Scene(utc(2026, 11, 30, 10, 0), (5, 15), 30)

    def burst(s, t0, t1, n, *, tenth=False):
        for i, t in enumerate(spread(t0, t1, n)):
            det = ("access-denied-burst",) if tenth and i == 9 else ()
            b.add(probe(b.at(t), s, PROBE_ORDER[i % len(PROBE_ORDER)]), *det)

    # 10:00–10:04:59: a fresh order-service pod gets its key, then probes: 11 denials
    # (the 10th is the finding, the 11th adds nothing). Benign calls in between.
    rec, s1 = irsa(b.at(utc(2026, 11, 30, 10, 0, 4)), "production", "order-service", R_ORDER,
                   "10.0.21.61", UA["java"], "aws-sdk-java-1796032804311")
    b.add(rec)
    b.add(s3(b, s1, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    burst(s1, utc(2026, 11, 30, 10, 0, 30), utc(2026, 11, 30, 10, 4, 30), 11, tenth=True)
    node_background(b.at(utc(2026, 11, 30, 10, 4, 40)), na, ["ecr_auth"])
    # 10:05–10:09:59: another order-service session, 9 denials and a NoSuchKey; a payment
    # session's 2 denials in the same window count for that session only.
    s2 = irsa_session(R_ORDER, "aws-sdk-java-1796028915820", "10.0.21.62", UA["java"],
                      "2026-11-30T08:55:15Z")
    s3p = irsa_session(R_PAY, "botocore-session-1796029540", "10.0.22.61", UA["boto3"],
                       "2026-11-30T09:05:40Z")
    burst(s2, utc(2026, 11, 30, 10, 5, 5), utc(2026, 11, 30, 10, 9, 50), 9)
    b.add(s3(b.at(utc(2026, 11, 30, 10, 7, 1)), s2, "GetObject", ORDER_BUCKET,
             "exports/2026/11/30/missing.csv", err=("NoSuchKey", "The specified key does not exist.")))
    b.records.sort(key=lambda r: r["eventTime"])  # the NoSuchKey sits among the probes
    for t, action in [(utc(2026, 11, 30, 10, 8, 20), "secretsmanager:GetSecretValue"),
                      (utc(2026, 11, 30, 10, 8, 44), "kms:DescribeKey")]:
        b.add(probe(b.at(t), s3p, action, ua=UA["boto3"]))
    b.records.sort(key=lambda r: r["eventTime"])
    b.add(ddb(b.at(utc(2026, 11, 30, 10, 10, 2)), s3p, "GetItem", "payments"))
    # 10:12:40–10:16:58: prometheus's session, 6 denials up to 10:14:59 and 6 from 10:15:00:
    # split by the aligned boundary, whole in 10:12:30–10:17:29 (the 10th is the finding).
    s4 = irsa_session(R_PROM, "1796030460118843207", "10.0.23.61", UA["yace"],
                      "2026-11-30T09:21:00Z")
    b.add(cw(b.at(utc(2026, 11, 30, 10, 12, 10)), s4, "GetMetricData"))
    times = [utc(2026, 11, 30, 10, 12, 40), utc(2026, 11, 30, 10, 13, 5), utc(2026, 11, 30, 10, 13, 31),
             utc(2026, 11, 30, 10, 14, 2), utc(2026, 11, 30, 10, 14, 30), utc(2026, 11, 30, 10, 14, 59),
             utc(2026, 11, 30, 10, 15, 0), utc(2026, 11, 30, 10, 15, 20), utc(2026, 11, 30, 10, 15, 47),
             utc(2026, 11, 30, 10, 16, 10), utc(2026, 11, 30, 10, 16, 33), utc(2026, 11, 30, 10, 16, 58)]
    for i, t in enumerate(times):
        det = ("access-denied-burst",) if i == 9 else ()
        b.add(probe(b.at(t), s4, PROBE_ORDER[i], ua=UA["yace"]), *det)
    node_background(b, na, ["logs"])
    # 10:20–10:24:59: 9 distinct denials, then CloudTrail delivers one of them again.
    s5 = irsa_session(R_PAY, "botocore-session-1796031012", "10.0.22.62", UA["boto3"],
                      "2026-11-30T09:30:12Z")
    first = len(b.records)
    burst(s5, utc(2026, 11, 30, 10, 20, 10), utc(2026, 11, 30, 10, 23, 40), 9)
    b.records.append(b.records[first + 3])  # same eventID: counts once (not in ALL_RECORDS)
    b.add(ddb(b.at(utc(2026, 11, 30, 10, 24, 30)), s5, "Query", "payments"))
    node_background(b, na, ["describe"])
    write_scene("access-denied-burst", "1-probing", b)


def scene_cross_account() -> None:
    """sts:AssumeRole out of the account by workloads, a node and an admin."""
    nx = node("i-0a81b2c3d4e5f6a7b", "10.0.31.9", "2026-11-30T07:02:50Z")
    b = Scene(utc(2026, 11, 30, 12, 0), (8, 25), 10)
    node_background(b, nx, ["ecr_auth"])
    rec, order = irsa(b, "production", "order-service", R_ORDER, "10.0.21.71", UA["java"],
                      sdk_session_name("java", b.t))
    b.add(rec)
    b.add(s3(b, order, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    # Into the trusted artifacts account and into its own account: fine.
    b.add(assume_role(b, order, "shared-artifacts-reader", TRUSTED_OTHER_ACCOUNT,
                      "order-service-artifacts", seconds=900))
    b.add(assume_role(b, order, "prod-order-reports", ACCOUNT, "order-service-reports", seconds=900))
    # Into an account nobody listed (succeeds: the partner's trust policy names this role).
    b.add(assume_role(b, order, "partner-orders-export", UNTRUSTED_ACCOUNT, "order-service-export"),
          "unexpected-cross-account-assume")
    node_background(b, nx, ["describe"])
    # A pod on the node using the node's credentials: refused, but attempted.
    node_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/prod-node-role/{nx['name']}"
    b.add(assume_role(b, nx, "partner-orders-export", UNTRUSTED_ACCOUNT, "export", ip="10.0.31.44",
                      ua=UA["cli_linux"],
                      err=("AccessDenied",
                           f"User: {node_arn} is not authorized to perform: sts:AssumeRole on resource: "
                           f"{role_arn('partner-orders-export', UNTRUSTED_ACCOUNT)}")),
          "node-role-misuse", "unexpected-cross-account-assume")
    # A role with no binding, but its key came from a remembered IRSA exchange.
    rec, dns = irsa(b, "kube-system", "external-dns", "prod-kube-system-external-dns", "10.0.24.71",
                    UA["external_dns"], sdk_session_name("go", b.t))
    b.add(rec)
    b.add(assume_role(b, dns, "route53-delegation", UNTRUSTED_ACCOUNT, "external-dns"),
          "unexpected-cross-account-assume")
    # An admin (not a workload) into the same account: not this detection's business.
    b.add(assume_role(b, ALICE, "OrganizationAccountAccessRole", UNTRUSTED_ACCOUNT, "alice"))
    b.add(sqs_send(b, order, "order-events"))
    node_background(b, nx, ["logs", "eni"])
    b.add(kms_decrypt(b, order, {"service": "order-service"}))
    write_scene("cross-account", "1-assume", b.in_time_order())


def scene_first_seen() -> None:
    """A 7-day learning period, then new networks and services for a role."""
    n1 = node("i-0b91c2d3e4f5a6b7c", "10.0.12.30", "2026-11-20T04:10:00Z")
    alice = session("admin", "Admin", "alice", OFFICE_IP, UA["cli_mac"], "2026-11-20T09:41:03Z",
                    mfa="true")
    b = Scene(utc(2026, 11, 20, 10, 0), (10, 30), 10)
    node_background(b, n1, ["ecr_auth", "describe"])
    rec, p1 = irsa(b, "production", "payment-service", R_PAY, "10.0.5.21", UA["boto3"],
                   sdk_session_name("boto3", b.t))
    b.add(rec)
    b.add(ddb(b, p1, "GetItem", "payments"))
    b.add(kms_decrypt(b, p1, {"service": "payment-service"}))
    node_background(b, n1, ["logs"])
    rec, p2 = irsa(b, "production", "payment-service", R_PAY, "10.0.5.22", UA["boto3"],
                   sdk_session_name("boto3", b.t))
    b.add(rec)
    b.add(ddb(b, p2, "PutItem", "payments"))
    b.add(ddb(b, p1, "Query", "payments"))
    b.add(kms_decrypt(b, p2, {"service": "payment-service"}))
    b.add(iam(b, alice, "GetRole", {"roleName": R_PAY}, read_only=True))
    node_background(b, n1, ["ecr_auth", "logs"])
    b.add(ddb(b, p2, "GetItem", "payments"))
    write_scene("first-seen", "1-baseline", b.in_time_order())

    n2 = node("i-0b92d3e4f5a6b7c8d", "10.0.12.31", "2026-11-30T04:12:30Z")
    b = Scene(utc(2026, 11, 30, 10, 0), (10, 30), 10)
    node_background(b, n2, ["ecr_auth", "describe"])
    rec, p3 = irsa(b, "production", "payment-service", R_PAY, "10.0.5.23", UA["boto3"],
                   sdk_session_name("boto3", b.t))
    b.add(rec)
    b.add(ddb(b, p3, "GetItem", "payments"))
    b.add(kms_decrypt(b, p3, {"service": "payment-service"}))
    # A network the role never used, outside the cluster's ranges: a peered VPC (session
    # from before this file).
    p4 = irsa_session(R_PAY, "botocore-session-1796029320", "172.20.9.14", UA["boto3"],
                      "2026-11-30T09:02:00Z")
    b.add(ddb(b, p4, "Query", "payments"), "first-seen-role-source")
    b.add(kms_decrypt(b, p4, {"service": "payment-service"}))  # 172.20.9.0/24 is known now
    node_background(b, n2, ["logs"])
    # A service the role never called, from its usual network.
    b.add(sqs_send(b, p3, "payment-events"), "first-seen-role-source")
    b.add(sqs_send(b, p3, "payment-events"))  # sqs is known now
    # A new service from a subnet of the cluster the role never used: the cluster's own
    # network (egress_cidrs) is one network, so one finding, for the service.
    p5 = irsa_session(R_PAY, "botocore-session-1796030100", "10.0.10.7", UA["boto3"],
                      "2026-11-30T09:15:00Z")
    b.add(call(b, p5, "secretsmanager.amazonaws.com", "GetSecretValue", ver="1.08",
               req={"secretId": "prod/payment-service/stripe"}), "first-seen-role-source")
    # order-service appears for the first time today: its learning period starts now.
    rec, o1 = irsa(b, "production", "order-service", R_ORDER, "10.0.21.17", UA["java"],
                   sdk_session_name("java", b.t))
    b.add(rec)
    b.add(s3(b, o1, "GetObject", ORDER_BUCKET, "config/order-service/settings.json", size=2841))
    b.add(ddb(b, p3, "PutItem", "payments"))
    node_background(b, n2, ["ecr_auth"])
    write_scene("first-seen", "2-ten-days-later", b.in_time_order())


def scene_reprocess() -> None:
    """The same file twice: the second run alerts nothing."""
    na = node("i-0c01d2e3f4a5b6c7d", "10.0.19.5", "2026-11-30T05:51:19Z")
    b = Scene(utc(2026, 11, 30, 13, 0), (5, 15), 5)
    node_background(b, na, ["ecr_auth"])
    rec, order = irsa(b, "production", "order-service", R_ORDER, "10.0.21.81", UA["java"],
                      sdk_session_name("java", b.t))
    b.add(rec)
    rec, _ = irsa(b, "production", "order-service", R_PAY, "10.0.21.82", UA["java"],
                  sdk_session_name("java", b.t),
                  err=("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
    b.add(rec, "irsa-assume-failure")
    b.add(s3(b, order, "GetObject", ORDER_BUCKET, "templates/receipt-v2.html", size=7781))
    exporter = user("reports-exporter-legacy", NAT_A, UA["boto3"])
    b.add(s3(b, exporter, "GetObject", REPORT_BUCKET, "reports/daily/2026-11-29.csv", size=90211),
          "long-term-access-key")
    node_background(b, na, ["describe", "logs"])
    b.add(s3_list_buckets(b, order, ip="198.51.100.99", ua=UA["cli_mac"]),
          "workload-credential-exfiltration")
    b.add(sqs_send(b, order, "order-events"))
    node_background(b, na, ["eni", "metrics"])
    b.add(ddb(b, order, "Query", "orders"))
    node_background(b, na, ["logs"])
    write_scene("reprocess", "1-batch", b.in_time_order())
    again = Scene(b.start, b.gap, 5)
    again.records = b.records  # byte-identical file; every finding was already alerted
    write_scene("reprocess", "2-batch-again", again)


def stateful_samples() -> None:
    for make in [scene_credential_stitching, scene_out_of_order, scene_sdk_fallback,
                 scene_access_denied_burst, scene_cross_account, scene_first_seen, scene_reprocess]:
        make()


def main() -> None:
    for make in [batch_irsa_failures, batch_pod_identity, batch_node_role, batch_access_keys,
                 batch_identity_config, batch_unexpected_subjects, batch_benign]:
        write_batch(make())
    write_digest()
    cloudwatch_logs()
    eventbridge()
    ndjson()
    stateful_samples()  # last: it draws from RNG after every file above
    ids = [r["eventID"] for r in ALL_RECORDS]
    assert len(ids) == len(set(ids)), "duplicate eventID"
    if CHECK:
        for p in STALE:
            print(f"stale: {p.relative_to(HERE)} (run python3 samples/make_samples.py)", file=sys.stderr)
        print(f"samples: {len(OUTPUTS)} files checked, {len(STALE)} stale")
        sys.exit(1 if STALE else 0)
    for p in OUTPUTS:
        print(p.relative_to(HERE))


if __name__ == "__main__":
    main()
