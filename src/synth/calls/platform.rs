//! The cluster's machinery and AWS services: nodes (ECR, the VPC CNI, the autoscaler,
//! agents), controllers (CloudWatch, tagging, Route 53, EBS, ELB) and CloudFormation.

use crate::synth::json::hex_id;
use crate::synth::records::{Caller, Rec, Res, Tail, Tls, eni, host, instance_items};
use crate::synth::world::{ACCOUNT, ASG_NAME, CLUSTER, GLOBAL_REGION, REGION};

use super::Err;

const REPO: &str = "arn:aws:ecr:ap-southeast-1:111122223333:repository/";
const TARGET_GROUP: &str = "arn:aws:elasticloadbalancing:ap-southeast-1:111122223333:targetgroup/k8s-producti-checkout-4f1a2b3c4d/9e8d7c6b5a4f3e2d";
const HOSTED_ZONE: &str = "Z0123456789ABCDEFGHIJ";
/// EC2 instance types the cluster autoscaler asks about (families × sizes).
const FAMILIES: [&str; 24] = [
    "m5", "m5a", "m5d", "m6i", "m6a", "m6g", "m7i", "m7g", "c5", "c5a", "c6i", "c6a", "c6g", "c7i", "c7g",
    "r5", "r5a", "r6i", "r6g", "r7i", "t3", "t3a", "g5", "inf2",
];
const SIZES: [&str; 10] = [
    "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "metal", "medium",
];

impl Rec<'_> {
    // ------------------------------------------------------------------ controllers

    /// CloudWatch GetMetricData (the exporter's scrape).
    pub(in crate::synth) fn metric_data(&mut self, c: &Caller<'_>) {
        self.head(
            "1.09",
            c,
            "monitoring.amazonaws.com",
            "GetMetricData",
            REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.human_time("startTime", self.now - 600);
        o.human_time("endTime", self.now);
        o.arr("metricDataQueries");
        for (i, metric) in [
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
        ]
        .iter()
        .enumerate()
        {
            o.open();
            o.open_str("id");
            o.part("q");
            o.part_num(i as u64);
            o.close_str();
            o.obj("metricStat");
            o.obj("metric");
            o.lit("namespace", "AWS/SQS");
            o.lit("metricName", metric);
            o.end();
            o.n("period", 60);
            o.lit("stat", "Maximum");
            o.end();
            o.end();
        }
        o.end_arr();
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::MONITORING).via(c.vpce));
    }

    /// Resource Groups Tagging GetResources.
    pub(in crate::synth) fn tag_resources(&mut self, c: &Caller<'_>) {
        self.head("1.08", c, "tagging.amazonaws.com", "GetResources", REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.raw(
            "resourceTypeFilters",
            br#"["sqs:queue","dynamodb:table","elasticloadbalancing:loadbalancer"]"#,
        );
        o.n("resourcesPerPage", 100);
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::TAGGING).via(c.vpce));
    }

    /// Route 53 ListResourceRecordSets or ChangeResourceRecordSets.
    pub(in crate::synth) fn route53(&mut self, c: &Caller<'_>, change: bool) {
        let name = if change {
            "ChangeResourceRecordSets"
        } else {
            "ListResourceRecordSets"
        };
        self.head("1.08", c, "route53.amazonaws.com", name, GLOBAL_REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("hostedZoneId", HOSTED_ZONE);
        if change {
            o.obj("changeBatch");
            o.arr("changes");
            for (kind, value) in [
                ("A", ""),
                ("TXT", "\"heritage=external-dns,external-dns/owner=prod\""),
            ] {
                o.open();
                o.lit("action", "UPSERT");
                o.obj("resourceRecordSet");
                o.lit("name", "shop.example.com");
                o.lit("type", kind);
                if kind == "A" {
                    o.obj("aliasTarget");
                    o.lit("hostedZoneId", "Z1LMS91P8CMLE5");
                    o.lit(
                        "dNSName",
                        "k8s-producti-checkout-4f1a2b3c4d-1234567890.ap-southeast-1.elb.amazonaws.com",
                    );
                    o.b("evaluateTargetHealth", true);
                    o.end();
                } else {
                    o.n("tTL", 300);
                    o.arr("resourceRecords");
                    o.open();
                    o.s("value", value);
                    o.end();
                    o.end_arr();
                }
                o.end();
                o.end();
            }
            o.end_arr();
            o.end();
        }
        o.end();
        if change {
            o.obj("responseElements");
            o.obj("changeInfo");
            o.open_str("id");
            o.part("/change/C");
            o.part_hex(self.rng, 20);
            o.close_str();
            o.lit("status", "PENDING");
            o.human_time("submittedAt", self.now);
            o.end();
            o.end();
        } else {
            o.null("responseElements");
        }
        self.tail(Tail::new(!change, host::ROUTE53).via(c.vpce));
    }

    /// EBS CSI driver: DescribeVolumes, or AttachVolume.
    pub(in crate::synth) fn ebs(&mut self, c: &Caller<'_>, attach: Option<&str>) {
        let name = if attach.is_some() {
            "AttachVolume"
        } else {
            "DescribeVolumes"
        };
        self.head("1.09", c, "ec2.amazonaws.com", name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        let volume = hex_id(self.rng, "vol-0", 16);
        match attach {
            Some(instance) => {
                o.lit("volumeId", &volume);
                o.lit("instanceId", instance);
                o.lit("device", "/dev/xvdaa");
                o.end();
                o.obj("responseElements");
                o.uuid("requestId", self.rng);
                o.lit("volumeId", &volume);
                o.lit("instanceId", instance);
                o.lit("device", "/dev/xvdaa");
                o.lit("status", "attaching");
                o.n("attachTime", self.now as u64 * 1000);
                o.b("deleteOnTermination", false);
                o.end();
            }
            None => {
                o.raw("volumeSet", b"{}");
                o.raw(
                    "filterSet",
                    br#"{"items":[{"name":"tag:kubernetes.io/cluster/prod","valueSet":{"items":[{"value":"owned"}]}}]}"#,
                );
                o.end();
                o.null("responseElements");
            }
        }
        self.tail(Tail::new(attach.is_none(), host::EC2).via(c.vpce));
    }

    /// Load balancer controller: DescribeTargetHealth, or RegisterTargets of `n` pod IPs.
    pub(in crate::synth) fn elb(&mut self, c: &Caller<'_>, register: usize) {
        let name = if register > 0 {
            "RegisterTargets"
        } else {
            "DescribeTargetHealth"
        };
        self.head(
            "1.08",
            c,
            "elasticloadbalancing.amazonaws.com",
            name,
            REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("targetGroupArn", TARGET_GROUP);
        if register > 0 {
            o.arr("targets");
            for _ in 0..register {
                o.open();
                o.open_str("id");
                o.part("10.0.");
                o.part_num(self.rng.u64(16..128));
                o.part(".");
                o.part_num(self.rng.u64(2..255));
                o.close_str();
                o.n("port", 8080);
                o.end();
            }
            o.end_arr();
        }
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(register == 0, host::ELB).via(c.vpce));
    }

    // ------------------------------------------------------------------ nodes

    /// ECR GetAuthorizationToken.
    pub(in crate::synth) fn ecr_auth(&mut self, c: &Caller<'_>, tls12: bool) {
        self.head(
            "1.08",
            c,
            "ecr.amazonaws.com",
            "GetAuthorizationToken",
            REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.raw("registryIds", b"[\"111122223333\"]");
        o.end();
        o.null("responseElements");
        let tls = if tls12 {
            Tls::V12(host::ECR_API)
        } else {
            Tls::V13(host::ECR_API)
        };
        self.tail(Tail::new(true, "").tls(tls).via(c.vpce));
    }

    /// An image pull's BatchGetImage, or one layer's GetDownloadUrlForLayer.
    pub(in crate::synth) fn ecr_pull(&mut self, c: &Caller<'_>, repo: &str, tag: Option<&str>) {
        let name = if tag.is_some() {
            "BatchGetImage"
        } else {
            "GetDownloadUrlForLayer"
        };
        self.head("1.08", c, "ecr.amazonaws.com", name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        match tag {
            Some(tag) => {
                o.arr("imageIds");
                o.open();
                o.lit("imageTag", tag);
                o.end();
                o.end_arr();
                o.raw(
                    "acceptedMediaTypes",
                    br#"["application/vnd.docker.distribution.manifest.v2+json","application/vnd.oci.image.index.v1+json","application/vnd.oci.image.manifest.v1+json"]"#,
                );
                o.lit("repositoryName", repo);
                o.lit("registryId", ACCOUNT);
            }
            None => {
                o.lit("repositoryName", repo);
                o.lit("registryId", ACCOUNT);
                o.open_str("layerDigest");
                o.part("sha256:");
                o.part_hex(self.rng, 64);
                o.close_str();
            }
        }
        o.end();
        o.null("responseElements");
        self.tail(
            Tail::new(true, host::ECR_DKR)
                .res(Res::Arn("AWS::ECR::Repository", REPO, repo))
                .via(c.vpce),
        );
    }

    /// A CI image push step (BatchCheckLayerAvailability, InitiateLayerUpload, …, PutImage).
    pub(in crate::synth) fn ecr_push(&mut self, c: &Caller<'_>, name: &'static str, repo: &str, tag: &str) {
        self.head("1.08", c, "ecr.amazonaws.com", name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("repositoryName", repo);
        o.lit("registryId", ACCOUNT);
        match name {
            "BatchCheckLayerAvailability" => {
                o.arr("layerDigests");
                for _ in 0..8 {
                    o.open_item();
                    o.part("sha256:");
                    o.part_hex(self.rng, 64);
                    o.close_str();
                }
                o.end_arr();
            }
            "UploadLayerPart" | "CompleteLayerUpload" => {
                o.uuid("uploadId", self.rng);
                if name == "UploadLayerPart" {
                    o.n("partFirstByte", 0);
                    o.n("partLastByte", self.rng.u64(1_000_000..40_000_000));
                }
            }
            "PutImage" => {
                o.lit("imageTag", tag);
                // The manifest is a JSON document inside a string: every quote escaped.
                let mut manifest = String::with_capacity(1500);
                manifest.push_str(
                    "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n   \"config\": {\n      \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n      \"size\": 7023,\n      \"digest\": \"sha256:",
                );
                manifest.push_str(&hex_id(self.rng, "", 64));
                manifest.push_str("\"\n   },\n   \"layers\": [");
                for i in 0..6 {
                    if i > 0 {
                        manifest.push(',');
                    }
                    manifest.push_str("\n      {\n         \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n         \"size\": ");
                    manifest.push_str(&self.rng.u32(1000..40_000_000).to_string());
                    manifest.push_str(",\n         \"digest\": \"sha256:");
                    manifest.push_str(&hex_id(self.rng, "", 64));
                    manifest.push_str("\"\n      }");
                }
                manifest.push_str("\n   ]\n}");
                o.s("imageManifest", &manifest);
                o.lit(
                    "imageManifestMediaType",
                    "application/vnd.oci.image.manifest.v1+json",
                );
            }
            _ => {}
        }
        o.end();
        o.null("responseElements");
        let read_only = name == "BatchCheckLayerAvailability";
        self.tail(
            Tail::new(read_only, host::ECR_API)
                .res(Res::Arn("AWS::ECR::Repository", REPO, repo))
                .via(c.vpce),
        );
    }

    /// EC2 DescribeInstances of `ids` random instances (the node's own when `own` is given).
    pub(in crate::synth) fn describe_instances(
        &mut self,
        c: &Caller<'_>,
        own: Option<&str>,
        ids: usize,
        err: Err<'_>,
    ) {
        self.head("1.09", c, "ec2.amazonaws.com", "DescribeInstances", REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.obj("instancesSet");
        match own {
            Some(id) => {
                o.arr("items");
                o.open();
                o.lit("instanceId", id);
                o.end();
                o.end_arr();
            }
            None => instance_items(o, self.rng, ids),
        }
        o.end();
        o.raw("filterSet", b"{}");
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::EC2).via(c.vpce));
    }

    /// The VPC CNI's ENI and IP management calls.
    pub(in crate::synth) fn cni(&mut self, c: &Caller<'_>, name: &'static str, instance: &str) {
        self.head("1.09", c, "ec2.amazonaws.com", name, REGION, None);
        let eni = eni(self.rng);
        let o = &mut *self.o;
        o.obj("requestParameters");
        match name {
            "DescribeNetworkInterfaces" => {
                o.raw("networkInterfaceIdSet", b"{}");
                o.obj("filterSet");
                o.arr("items");
                o.open();
                o.lit("name", "attachment.instance-id");
                o.obj("valueSet");
                o.arr("items");
                o.open();
                o.lit("value", instance);
                o.end();
                o.end_arr();
                o.end();
                o.end();
                o.end_arr();
                o.end();
                o.end();
                o.null("responseElements");
            }
            "AssignPrivateIpAddresses" => {
                let n = self.rng.u64(5..15);
                o.lit("networkInterfaceId", &eni);
                o.n("secondaryPrivateIpAddressCount", n);
                o.end();
                o.obj("responseElements");
                o.uuid("requestId", self.rng);
                o.lit("networkInterfaceId", &eni);
                o.obj("assignedPrivateIpAddressesSet");
                o.arr("assignedPrivateIpAddressSetType");
                for _ in 0..n {
                    o.open();
                    o.open_str("privateIpAddress");
                    o.part("10.0.");
                    o.part_num(self.rng.u64(16..128));
                    o.part(".");
                    o.part_num(self.rng.u64(2..255));
                    o.close_str();
                    o.end();
                }
                o.end_arr();
                o.end();
                o.end();
            }
            "CreateNetworkInterface" => {
                let ip = format!("10.0.{}.{}", self.rng.u32(16..128), self.rng.u32(2..255));
                o.lit("subnetId", "subnet-0a1b2c3d4e5f60718");
                o.open_str("description");
                o.part("aws-K8S-");
                o.part(instance);
                o.close_str();
                o.raw("groupSet", br#"{"items":[{"groupId":"sg-0f1e2d3c4b5a69788"}]}"#);
                o.raw("privateIpAddressesSet", b"{}");
                o.n("ipv6AddressCount", 0);
                o.obj("tagSpecificationSet");
                o.arr("items");
                o.open();
                o.lit("resourceType", "network-interface");
                o.arr("tags");
                o.open();
                o.lit("key", "node.k8s.amazonaws.com/instance_id");
                o.lit("value", instance);
                o.end();
                o.open();
                o.lit("key", "cluster.k8s.amazonaws.com/name");
                o.lit("value", CLUSTER);
                o.end();
                o.end_arr();
                o.end();
                o.end_arr();
                o.end();
                o.end();
                o.obj("responseElements");
                o.uuid("requestId", self.rng);
                o.obj("networkInterface");
                o.lit("networkInterfaceId", &eni);
                o.lit("subnetId", "subnet-0a1b2c3d4e5f60718");
                o.lit("vpcId", "vpc-0123456789abcdef0");
                o.lit("availabilityZone", "ap-southeast-1a");
                o.open_str("description");
                o.part("aws-K8S-");
                o.part(instance);
                o.close_str();
                o.lit("ownerId", ACCOUNT);
                o.b("requesterManaged", false);
                o.lit("status", "pending");
                o.lit("macAddress", "02:4f:1c:9a:7e:31");
                o.lit("privateIpAddress", &ip);
                o.open_str("privateDnsName");
                o.part("ip-");
                o.part(&ip.replace('.', "-"));
                o.part(".ap-southeast-1.compute.internal");
                o.close_str();
                o.b("sourceDestCheck", true);
                o.raw(
                    "groupSet",
                    br#"{"items":[{"groupId":"sg-0f1e2d3c4b5a69788","groupName":"eks-cluster-sg-prod-1234567890"}]}"#,
                );
                o.obj("privateIpAddressesSet");
                o.arr("item");
                o.open();
                o.lit("privateIpAddress", &ip);
                o.b("primary", true);
                o.end();
                o.end_arr();
                o.end();
                o.raw("ipv6AddressesSet", b"{}");
                o.raw("tagSet", b"{}");
                o.lit("interfaceType", "interface");
                o.end();
                o.end();
            }
            "AttachNetworkInterface" => {
                o.lit("networkInterfaceId", &eni);
                o.lit("instanceId", instance);
                o.n("deviceIndex", 1);
                o.n("networkCardIndex", 0);
                o.end();
                o.obj("responseElements");
                o.uuid("requestId", self.rng);
                o.open_str("attachmentId");
                o.part("eni-attach-0");
                o.part_hex(self.rng, 16);
                o.close_str();
                o.n("networkCardIndex", 0);
                o.end();
            }
            _ => {
                o.obj("resourcesSet");
                o.arr("items");
                o.open();
                o.lit("resourceId", &eni);
                o.end();
                o.end_arr();
                o.end();
                o.obj("tagSet");
                o.arr("items");
                o.open();
                o.lit("key", "node.k8s.amazonaws.com/createdAt");
                o.time("value", self.now);
                o.end();
                o.end_arr();
                o.end();
                o.end();
                o.obj("responseElements");
                o.uuid("requestId", self.rng);
                o.b("_return", true);
                o.end();
            }
        }
        self.tail(Tail::new(name.starts_with("Describe"), host::EC2).via(c.vpce));
    }

    /// The cluster autoscaler's DescribeInstanceTypes over `n` types (several KB).
    pub(in crate::synth) fn describe_instance_types(&mut self, c: &Caller<'_>, n: usize) {
        self.head(
            "1.09",
            c,
            "ec2.amazonaws.com",
            "DescribeInstanceTypes",
            REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.obj("instanceTypeSet");
        o.arr("items");
        for i in 0..n.min(FAMILIES.len() * SIZES.len()) {
            o.open();
            o.open_str("instanceType");
            o.part(FAMILIES[i % FAMILIES.len()]);
            o.part(".");
            o.part(SIZES[i / FAMILIES.len()]);
            o.close_str();
            o.end();
        }
        o.end_arr();
        o.end();
        o.n("maxResults", 100);
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::EC2).via(c.vpce));
    }

    /// The autoscaler's DescribeAutoScalingGroups or SetDesiredCapacity.
    pub(in crate::synth) fn autoscaling(&mut self, c: &Caller<'_>, set: Option<u64>) {
        let name = if set.is_some() {
            "SetDesiredCapacity"
        } else {
            "DescribeAutoScalingGroups"
        };
        self.head("1.08", c, "autoscaling.amazonaws.com", name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        match set {
            Some(n) => {
                o.lit("autoScalingGroupName", ASG_NAME);
                o.n("desiredCapacity", n);
                o.b("honorCooldown", false);
            }
            None => {
                o.arr("autoScalingGroupNames");
                o.item(ASG_NAME);
                o.end_arr();
                o.n("maxRecords", 100);
            }
        }
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(set.is_none(), host::AUTOSCALING).via(c.vpce));
    }

    /// Fluent Bit's CreateLogStream / DescribeLogStreams.
    pub(in crate::synth) fn logs(&mut self, c: &Caller<'_>, name: &'static str, instance: &str) {
        self.head("1.08", c, "logs.amazonaws.com", name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("logGroupName", "/aws/containerinsights/prod/application");
        o.open_str(if name == "CreateLogStream" {
            "logStreamName"
        } else {
            "logStreamNamePrefix"
        });
        o.part("fluent-bit-");
        o.part(instance);
        o.close_str();
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(name != "CreateLogStream", host::LOGS).via(c.vpce));
    }

    /// The SSM agent: UpdateInstanceInformation, ListInstanceAssociations, ec2messages GetMessages.
    pub(in crate::synth) fn ssm(&mut self, c: &Caller<'_>, name: &'static str, instance: &str) {
        let (source, hostname) = if name == "GetMessages" {
            ("ec2messages.amazonaws.com", host::EC2MESSAGES)
        } else {
            ("ssm.amazonaws.com", host::SSM)
        };
        self.head("1.08", c, source, name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        match name {
            "UpdateInstanceInformation" => {
                o.lit("instanceId", instance);
                o.lit("agentVersion", "3.3.1142.0");
                o.lit("agentStatus", "Active");
                o.lit("platformType", "Linux");
                o.lit("platformName", "Amazon Linux");
                o.lit("platformVersion", "2023");
                o.lit("iPAddress", c.ip);
                o.open_str("computerName");
                o.part("ip-");
                o.part(&c.ip.replace('.', "-"));
                o.part(".ap-southeast-1.compute.internal");
                o.close_str();
                o.lit("agentName", "amazon-ssm-agent");
                o.lit("availabilityZone", "ap-southeast-1a");
                o.lit("availabilityZoneId", "apse1-az2");
            }
            "GetMessages" => {
                o.lit("destination", instance);
                o.uuid("messagesRequestId", self.rng);
                o.n("visibilityTimeoutInSeconds", 10);
            }
            _ => {
                o.lit("instanceId", instance);
                o.n("maxResults", 50);
            }
        }
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(name != "UpdateInstanceInformation", hostname).via(c.vpce));
    }

    /// EKS DescribeCluster / ListNodegroups.
    pub(in crate::synth) fn eks_read(&mut self, c: &Caller<'_>, name: &'static str) {
        self.head("1.10", c, "eks.amazonaws.com", name, REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        if name == "DescribeCluster" {
            o.lit("name", CLUSTER);
        } else {
            o.lit("clusterName", CLUSTER);
        }
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::EKS).via(c.vpce));
    }

    /// CloudFormation DescribeStacks (eksctl's stacks).
    pub(in crate::synth) fn describe_stacks(&mut self, c: &Caller<'_>) {
        self.head(
            "1.08",
            c,
            "cloudformation.amazonaws.com",
            "DescribeStacks",
            REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("stackName", "eksctl-prod-nodegroup-general");
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::CLOUDFORMATION).via(c.vpce));
    }
}
