#!/usr/bin/env python3
"""StreamAlert-style baseline for trailwatch's stateless detections (issue 6, item d).

What a user would otherwise write in Python: for each file, gzip.open + json.load of the
whole document, then every rule function on every record of `Records`. The rules follow
src/detect/{mod,exchange,node,keys,change}.rs and the Inventory in src/config.rs; the
stateful detections are out of scope. Standard library only (Python >= 3.11).

    python3 benches/baseline.py --config samples/trailwatch.toml FILE...

prints `<detection-id> <findings>` for the eight stateless detections (sorted), then
`records <n>`. `--events` prints `<detection-id> <eventID>` per finding instead.
"""

import argparse
import gzip
import ipaddress
import json
import sys
import tomllib
from collections import Counter

STATELESS = [
    "irsa-assume-failure", "pod-identity-failure", "node-role-misuse", "imdsv1-credential-use",
    "node-credential-exfiltration", "long-term-access-key", "unexpected-web-identity-subject",
    "identity-config-change",
]
PODS_EKS = "pods.eks.amazonaws.com"
NODE_ALLOWLIST = [
    "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer", "ecr:Describe*", "ecr:List*", "ecr-public:GetAuthorizationToken",
    "ecr:CreateRepository", "ecr:BatchImportUpstreamImage",
    "sts:GetServiceBearerToken", "ec2:DescribeInstances", "ec2:DescribeInstanceTypes",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeTags", "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups", "ec2:DescribeVolumes", "ec2:DescribeVolumesModifications",
    "ec2:DescribeVpcs", "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses", "ec2:AssignIpv6Addresses", "ec2:UnassignIpv6Addresses",
    "ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:DetachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute", "ec2:CreateTags",
    "eks:DescribeCluster", "eks-auth:AssumeRoleForPodIdentity", "sts:GetCallerIdentity",
    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
    "logs:DescribeLogStreams", "logs:PutRetentionPolicy", "cloudwatch:PutMetricData",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations", "ssm:ListAssociations",
    "ssm:DescribeAssociation", "ssm:GetDocument", "ssm:DescribeDocument",
    "ssm:UpdateInstanceAssociationStatus", "ssm:PutInventory", "ssm:PutComplianceItems",
    "ssm:GetManifest", "ssm:GetDeployablePatchSnapshotForInstance", "ssmmessages:*", "ec2messages:*",
]
# Not public (src/detect/mod.rs public_ip). Spelled out: ipaddress.is_private also covers
# the documentation ranges (198.51.100.0/24, 203.0.113.0/24) that the samples use as public.
NOT_PUBLIC = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
    "0.0.0.0/32", "255.255.255.255/32", "100.64.0.0/10",
    "::1/128", "::/128", "fc00::/7", "fe80::/10")]


def s(value):
    """A string field; any other type reads as absent, as in src/record.rs."""
    return value if isinstance(value, str) else None


def obj(value):
    return value if isinstance(value, dict) else {}


def either(a, b):
    return a if a is not None else b


def arn_account(arn):
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def role_name(arn):
    if not arn.startswith("arn:") or ":iam::" not in arn[4:]:
        return None
    resource = arn[4:].split(":iam::", 1)[1]
    if ":role/" not in resource:
        return None
    return resource.split(":role/", 1)[1].rsplit("/", 1)[-1] or None


def pattern_matches(pattern, value):
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else pattern == value


def service_account_subject(subject):
    """`system:serviceaccount:<ns>:<sa>` -> (ns, sa), else (None, None)."""
    if subject is None or not subject.startswith("system:serviceaccount:"):
        return None, None
    ns, sep, sa = subject[len("system:serviceaccount:"):].partition(":")
    return (ns, sa) if sep and ns and sa else (None, None)


def public_ip(source):
    if source is None or "%" in source:  # Rust's parser takes no IPv6 zone ids
        return None
    try:
        ip = ipaddress.ip_address(source)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return None if any(ip in net for net in NOT_PUBLIC) else ip


class Inventory:
    """The parts of src/config.rs Inventory the stateless rules look up."""

    def __init__(self, config):
        self.egress, self.oidc, self.node_roles, self.node_role_names = [], {}, {}, {}
        self.endpoints = []
        self.watched, self.watched_in, self.by_role = set(), set(), {}
        for i, c in enumerate(config.get("clusters", [])):
            self.egress.append([ipaddress.ip_network(n, strict=False) for n in c.get("egress_cidrs", [])])
            self.endpoints.append(c.get("vpc_endpoints", []))
            if c.get("oidc_provider"):
                p = c["oidc_provider"]
                while p.startswith("https://"):
                    p = p[len("https://"):]
                self.oidc[p.rstrip("/").lower()] = i
            # A role several clusters list is theirs in config order.
            for role in c.get("node_roles", []):
                for key, table in ((role, self.node_roles),
                                   (f"{arn_account(role) or ''}/{role_name(role)}", self.node_role_names)):
                    if i not in table.setdefault(key, []):
                        table[key].append(i)
                self.watch(role)
        for b in config.get("bindings", []):
            self.watch(b["role_arn"])
            self.by_role.setdefault(b["role_arn"], []).append(b)
        on = config.get("detections", {})
        self.enabled = {d: on.get(d, {}).get("enabled", True) for d in STATELESS}
        for role in on.get("identity-config-change", {}).get("watch_roles", []):
            self.watch(role)
        self.allow_principals = set(on.get("long-term-access-key", {}).get("allow_principals", []))
        allow = NODE_ALLOWLIST + on.get("node-role-misuse", {}).get("allow_actions", [])
        self.allow_exact = {a for a in allow if not a.endswith("*")}
        self.allow_prefixes = [a[:-1] for a in allow if a.endswith("*")]

    def cluster_by_oidc(self, provider):
        issuer = provider.rsplit("oidc-provider/", 1)[-1]
        return self.oidc.get(issuer.lower())

    def watch(self, arn):
        self.watched.add(role_name(arn))
        self.watched_in.add(f"{arn_account(arn) or ''}/{role_name(arn)}")

    def is_watched_role(self, account, name):
        return f"{account}/{name}" in self.watched_in if account is not None else name in self.watched

    def node_role_clusters(self, issuer_arn, session_arn):
        if issuer_arn in self.node_roles:
            return self.node_roles[issuer_arn]
        if session_arn is None or arn_account(session_arn) is None or ":assumed-role/" not in session_arn:
            return None
        name = session_arn.split(":assumed-role/", 1)[1].split("/")[0]
        return self.node_role_names.get(f"{arn_account(session_arn)}/{name}")

    def cluster_by_node_role(self, issuer_arn, session_arn, addr=None, vpce=None):
        """Of the clusters listing the role, the one whose egress holds addr (or whose
        endpoints list vpce), else one that lists none of that kind, else the first."""
        clusters = self.node_role_clusters(issuer_arn, session_arn)
        if not clusters:
            return None
        if len(clusters) == 1:
            return clusters[0]
        for c in clusters:
            if (vpce in self.endpoints[c]) if vpce is not None else (
                    addr is not None and any(addr in net for net in self.egress[c])):
                return c
        for c in clusters:  # one that does not judge the call
            if not (self.endpoints[c] if vpce is not None else self.egress[c]):
                return c
        return clusters[0]

    def away(self, cluster, addr, vpce):
        """Whether a call from addr (through vpce) is outside the cluster (detect::away_from)."""
        if vpce is not None:
            return bool(self.endpoints[cluster]) and vpce not in self.endpoints[cluster]
        ip, egress = public_ip(addr), self.egress[cluster]
        return ip is not None and bool(egress) and not any(ip in net for net in egress)

    def is_node_role_name(self, account, name):
        if account is not None:
            return f"{account}/{name}" in self.node_role_names
        return any(k.rsplit("/", 1)[-1] == name for k in self.node_role_names)

    def node_allows(self, action):
        return action in self.allow_exact or any(action.startswith(p) for p in self.allow_prefixes)

    def binding_check(self, role_arn, ns, sa):
        """'unbound', 'allowed' or 'other' (the role is bound, but not to ns/sa)."""
        bindings = self.by_role.get(role_arn, []) if role_arn is not None else []
        if not bindings:
            return "unbound"
        if ns is not None and sa is not None and any(
                pattern_matches(b["namespace"], ns) and pattern_matches(b["service_account"], sa)
                for b in bindings):
            return "allowed"
        return "other"


def action(r):
    source, name = s(r.get("eventSource")), s(r.get("eventName"))
    if source is None or name is None:
        return None
    service = source.removesuffix(".amazonaws.com")
    return ("cloudwatch" if service == "monitoring" else service) + ":" + name


def pod_tags(req):
    tags = {}
    for tag in req.get("tags") if isinstance(req.get("tags"), list) else []:
        if isinstance(tag, dict) and s(tag.get("key")) is not None:
            tags[tag["key"]] = s(tag.get("value"))
    return tags


def is_eks_web_identity(ident, cluster):
    provider, user = s(ident.get("identityProvider")), s(ident.get("userName"))
    return (cluster is not None or (provider is not None and "oidc.eks." in provider)
            or (user is not None and user.startswith("system:serviceaccount:")))


def web_identity_cluster(inv, ident):
    provider = s(ident.get("identityProvider"))
    return inv.cluster_by_oidc(provider) if provider is not None else None


# Rules: each takes (record, inventory) and returns the detection ids that fire.

def rule_sts(r, inv):
    out, ident, req = [], obj(r.get("userIdentity")), obj(r.get("requestParameters"))
    name, code = s(r.get("eventName")), s(r.get("errorCode"))
    from_pods = s(ident.get("invokedBy")) == PODS_EKS
    if name == "AssumeRoleWithWebIdentity" and code is not None and inv.enabled["irsa-assume-failure"]:
        if is_eks_web_identity(ident, web_identity_cluster(inv, ident)):
            out.append("irsa-assume-failure")
    if name == "AssumeRole" and from_pods and code is not None and inv.enabled["pod-identity-failure"]:
        out.append("pod-identity-failure")
    if code is None and inv.enabled["unexpected-web-identity-subject"]:
        if name == "AssumeRoleWithWebIdentity":
            if not is_eks_web_identity(ident, web_identity_cluster(inv, ident)):
                return out
            subject = either(s(ident.get("userName")),
                             s(obj(r.get("responseElements")).get("subjectFromWebIdentityToken")))
            ns, sa = service_account_subject(subject)
        elif name == "AssumeRole" and from_pods:
            tags = pod_tags(req)
            ns, sa = tags.get("kubernetes-namespace"), tags.get("kubernetes-service-account")
        else:
            return out
        if inv.binding_check(s(req.get("roleArn")), ns, sa) == "other":
            out.append("unexpected-web-identity-subject")
    return out


def rule_eks_auth(r, inv):
    if s(r.get("eventName")) == "AssumeRoleForPodIdentity" and s(r.get("errorCode")) is not None:
        return ["pod-identity-failure"]
    return []


OIDC_CHANGES = {"CreateOpenIDConnectProvider", "DeleteOpenIDConnectProvider",
                "UpdateOpenIDConnectProviderThumbprint", "AddClientIDToOpenIDConnectProvider",
                "RemoveClientIDFromOpenIDConnectProvider"}
ASSOCIATION_CHANGES = {"CreatePodIdentityAssociation", "UpdatePodIdentityAssociation",
                       "DeletePodIdentityAssociation"}


def rule_identity_config_change(r, inv):
    if s(r.get("errorCode")) is not None:
        return []
    source, name, req = s(r.get("eventSource")), s(r.get("eventName")), obj(r.get("requestParameters"))
    role = s(req.get("roleName"))
    account = either(s(r.get("recipientAccountId")), s(obj(r.get("userIdentity")).get("accountId")))
    if source == "iam.amazonaws.com" and name == "UpdateAssumeRolePolicy":
        fires = role is not None and inv.is_watched_role(account, role)
    elif source == "iam.amazonaws.com" and name in ("AttachRolePolicy", "PutRolePolicy"):
        fires = role is not None and inv.is_node_role_name(account, role)
    elif source == "eks.amazonaws.com" and name in ASSOCIATION_CHANGES:
        fires = True
    elif source == "iam.amazonaws.com" and name in OIDC_CHANGES:
        provider = either(s(req.get("url")), s(req.get("openIDConnectProviderArn"))) or ""
        trimmed = provider
        while trimmed.startswith("https://"):
            trimmed = trimmed[len("https://"):]
        fires = inv.cluster_by_oidc(trimmed) is not None or "oidc.eks." in provider
    else:
        fires = source == "iam.amazonaws.com" and name == "CreateAccessKey"
    return ["identity-config-change"] if fires else []


def eks_token_check(r):
    """The GetCallerIdentity EKS sends, from its own addresses, to check a cluster token."""
    ua = s(r.get("userAgent")) or ""
    return (s(r.get("eventSource")) == "sts.amazonaws.com" and s(r.get("eventName")) == "GetCallerIdentity"
            and not any(p in ua for p in ("aws-sdk-", "aws-cli/", "Boto3/", "Botocore/", "botocore/")))


def rule_node_session(r, inv):
    ident = obj(r.get("userIdentity"))
    context = obj(ident.get("sessionContext"))
    delivery, arn = s(context.get("ec2RoleDelivery")), s(ident.get("arn"))
    issuer = s(obj(context.get("sessionIssuer")).get("arn"))
    addr, vpce = s(r.get("sourceIPAddress")), s(r.get("vpcEndpointId"))
    try:
        ip = ipaddress.ip_address(addr) if addr is not None and "%" not in addr else None
    except ValueError:
        ip = None
    cluster = inv.cluster_by_node_role(issuer, arn, ip, vpce)
    instance = delivery is not None and not (arn is not None and "assumed-role/aws:ec2-instance/" in arn)
    if cluster is None and not instance:
        return []
    out, is_call = [], s(r.get("eventType")) in (None, "AwsApiCall")
    if inv.enabled["imdsv1-credential-use"] and delivery == "1.0":
        out.append("imdsv1-credential-use")
    if cluster is None:
        return out
    act = action(r)
    if inv.enabled["node-role-misuse"] and is_call and act is not None and not inv.node_allows(act):
        out.append("node-role-misuse")
    if inv.enabled["node-credential-exfiltration"] and is_call and not eks_token_check(r):
        if inv.away(cluster, addr, vpce):
            out.append("node-credential-exfiltration")
    return out


def rule_long_term_access_key(r, inv):
    ident = obj(r.get("userIdentity"))
    key, principal = s(ident.get("accessKeyId")), s(ident.get("arn"))
    if key is None or not key.startswith("AKIA") or principal in inv.allow_principals:
        return []
    return ["long-term-access-key"]


def detect(r, inv):
    """Every enabled stateless rule on one record, dispatched as in src/detect/mod.rs."""
    source, out = s(r.get("eventSource")), []
    if source == "sts.amazonaws.com":
        out += rule_sts(r, inv)
    elif source == "eks-auth.amazonaws.com" and inv.enabled["pod-identity-failure"]:
        out += rule_eks_auth(r, inv)
    elif source in ("iam.amazonaws.com", "eks.amazonaws.com") and inv.enabled["identity-config-change"]:
        out += rule_identity_config_change(r, inv)
    if s(obj(r.get("userIdentity")).get("type")) == "AssumedRole":
        out += rule_node_session(r, inv)
    if inv.enabled["long-term-access-key"]:
        out += rule_long_term_access_key(r, inv)
    return out


def read_records(path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
        doc = json.load(f)
    records = doc.get("Records") if isinstance(doc, dict) else None
    return records if isinstance(records, list) else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="trailwatch TOML configuration")
    parser.add_argument("--events", action="store_true", help="print `<id> <eventID>` per finding")
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args()
    with open(args.config, "rb") as f:
        inv = Inventory(tomllib.load(f))
    counts, records = Counter({d: 0 for d in STATELESS}), 0
    for path in args.files:
        if "CloudTrail-Digest" in path or "CloudTrail-Insight" in path:
            continue  # not log files (trailwatch skips them by name too)
        for r in read_records(path):
            if not isinstance(r, dict) or s(r.get("eventType")) == "AwsCloudTrailInsight":
                continue
            records += 1
            for detection in detect(r, inv):
                counts[detection] += 1
                if args.events:
                    print(detection, s(r.get("eventID")))
    if not args.events:
        for detection in sorted(counts):
            print(detection, counts[detection])
    print("records", records)


if __name__ == "__main__":
    sys.exit(main())
