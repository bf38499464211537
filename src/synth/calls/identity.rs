//! Credentials and IAM: STS exchanges and assumes, IAM reads, identity changes, and
//! denied calls with IAM's messages.

use crate::synth::json::{hex_id, uuid};
use crate::synth::records::{Caller, Rec, ReqId, Res, Tail, Who, assumed_role_user, host, region_of};
use crate::synth::world::{CLUSTER, CLUSTER_ARN, GLOBAL_REGION, OIDC_ARN, OIDC_HOST, REGION, Role, Session};

use super::{Err, HIDDEN, PodTags};

impl Rec<'_> {
    // ------------------------------------------------------------------ STS

    /// `sts:AssumeRole` by a session into `target` (another account or a chained role).
    pub(in crate::synth) fn assume_role(
        &mut self,
        c: &Caller<'_>,
        target: &Role,
        issued: &Session,
        err: Err<'_>,
    ) {
        self.head("1.08", c, "sts.amazonaws.com", "AssumeRole", REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("roleArn", &target.arn);
        o.lit("roleSessionName", &issued.name);
        o.n(
            "durationSeconds",
            (issued.expires - issued.created).max(900) as u64,
        );
        o.end();
        if err.is_some() {
            o.null("responseElements");
        } else {
            o.obj("responseElements");
            self.credentials(issued);
            assumed_role_user(self.o, target, issued);
            self.o.end();
        }
        self.tail(
            Tail::new(true, host::STS)
                .res(Res::Role(target))
                .shared()
                .via(c.vpce),
        );
    }

    /// GetCallerIdentity.
    pub(in crate::synth) fn caller_identity(&mut self, c: &Caller<'_>, err: Err<'_>) {
        self.head("1.08", c, "sts.amazonaws.com", "GetCallerIdentity", REGION, err);
        self.o.null("requestParameters");
        self.o.null("responseElements");
        self.tail(Tail::new(true, host::STS).via(c.vpce));
    }

    /// AssumeRoleWithWebIdentity; `c.who` is the token holder. `issued` on success.
    pub(in crate::synth) fn web_identity(
        &mut self,
        c: &Caller<'_>,
        role: &Role,
        session_name: &str,
        issued: Option<&Session>,
        err: Err<'_>,
    ) {
        self.head(
            "1.08",
            c,
            "sts.amazonaws.com",
            "AssumeRoleWithWebIdentity",
            REGION,
            err,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("roleArn", &role.arn);
        o.lit("roleSessionName", session_name);
        o.end();
        match issued {
            Some(s) => {
                o.obj("responseElements");
                self.credentials(s);
                let o = &mut *self.o;
                let (subject, provider) = match c.who {
                    Who::Web {
                        subject, provider, ..
                    } => (subject, provider),
                    _ => ("", OIDC_ARN),
                };
                o.lit("subjectFromWebIdentityToken", subject);
                assumed_role_user(o, role, s);
                o.lit("provider", provider);
                o.lit("audience", "sts.amazonaws.com");
                o.end();
                o.obj("additionalEventData");
                o.lit("identityProviderConnectionVerificationMethod", "IAMTrustStore");
                o.obj("RequestDetails");
                o.lit("awsServingRegion", REGION);
                o.lit("endpointType", "regional");
                o.end();
                o.end();
            }
            None => o.null("responseElements"),
        }
        self.tail(Tail::new(true, host::STS).res(Res::Role(role)).via(c.vpce));
    }

    /// The `sts:AssumeRole` EKS Pod Identity makes for a pod, with its session tags.
    pub(in crate::synth) fn pods_assume_role(
        &mut self,
        role: &Role,
        session_name: &str,
        pod: PodTags<'_>,
        issued: Option<&Session>,
        err: Err<'_>,
    ) {
        let c = Caller {
            who: Who::Service("pods.eks.amazonaws.com"),
            ip: "pods.eks.amazonaws.com",
            ua: "pods.eks.amazonaws.com",
            vpce: None,
        };
        self.head("1.08", &c, "sts.amazonaws.com", "AssumeRole", REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("roleArn", &role.arn);
        o.lit("roleSessionName", session_name);
        o.n("durationSeconds", 21_600);
        o.arr("tags");
        for (k, v) in [
            ("eks-cluster-arn", CLUSTER_ARN),
            ("eks-cluster-name", CLUSTER),
            ("kubernetes-namespace", pod.namespace),
            ("kubernetes-service-account", pod.service_account),
            ("kubernetes-pod-name", pod.pod),
            ("kubernetes-pod-uid", pod.uid),
        ] {
            o.open();
            o.lit("key", k);
            o.lit("value", v);
            o.end();
        }
        o.end_arr();
        o.raw(
            "transitiveTagKeys",
            br#"["eks-cluster-arn","eks-cluster-name","kubernetes-namespace","kubernetes-service-account","kubernetes-pod-name","kubernetes-pod-uid"]"#,
        );
        o.end();
        match issued {
            Some(s) => {
                o.obj("responseElements");
                self.credentials(s);
                assumed_role_user(self.o, role, s);
                let size = self.rng.u64(55..65);
                self.o.n("packedPolicySize", size);
                self.o.end();
            }
            None => o.null("responseElements"),
        }
        self.tail(Tail::service(true).res(Res::Role(role)).shared());
    }

    /// The node agent's `eks-auth:AssumeRoleForPodIdentity`.
    pub(in crate::synth) fn eks_auth(&mut self, c: &Caller<'_>, err: Err<'_>) {
        self.head(
            "1.09",
            c,
            "eks-auth.amazonaws.com",
            "AssumeRoleForPodIdentity",
            REGION,
            err,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("clusterName", CLUSTER);
        o.lit("token", HIDDEN);
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::EKS_AUTH).via(c.vpce));
    }

    /// EC2 fetching instance-profile credentials for a node (IMDS).
    pub(in crate::synth) fn imds_vend(&mut self, role: &Role, issued: &Session) {
        let c = Caller {
            who: Who::Service("ec2.amazonaws.com"),
            ip: "ec2.amazonaws.com",
            ua: "ec2.amazonaws.com",
            vpce: None,
        };
        self.head("1.08", &c, "sts.amazonaws.com", "AssumeRole", REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("roleArn", &role.arn);
        o.lit("roleSessionName", &issued.name);
        o.end();
        o.obj("responseElements");
        self.credentials(issued);
        assumed_role_user(self.o, role, issued);
        self.o.end();
        self.tail(Tail::service(true).res(Res::Role(role)).shared());
    }

    // ------------------------------------------------------------------ IAM reads

    /// IAM reads (GetRole, ListAttachedRolePolicies, ListRoles).
    pub(in crate::synth) fn iam_read(
        &mut self,
        c: &Caller<'_>,
        name: &'static str,
        role: &str,
        err: Err<'_>,
    ) {
        self.head("1.09", c, "iam.amazonaws.com", name, GLOBAL_REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        if name == "ListRoles" {
            o.n("maxItems", 1000);
        } else {
            o.lit("roleName", role);
        }
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::IAM).via(c.vpce));
    }

    // ------------------------------------------------------------------ identity changes

    /// UpdateAssumeRolePolicy of an IRSA role (the policy is a JSON document in a string).
    pub(in crate::synth) fn update_trust_policy(
        &mut self,
        c: &Caller<'_>,
        role: &str,
        (ns, sa): (&str, &str),
        err: Err<'_>,
    ) {
        self.head(
            "1.09",
            c,
            "iam.amazonaws.com",
            "UpdateAssumeRolePolicy",
            GLOBAL_REGION,
            err,
        );
        let policy = format!(
            "{{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {{\n            \"Effect\": \"Allow\",\n            \"Principal\": {{\n                \"Federated\": \"{OIDC_ARN}\"\n            }},\n            \"Action\": \"sts:AssumeRoleWithWebIdentity\",\n            \"Condition\": {{\n                \"StringEquals\": {{\n                    \"{OIDC_HOST}:aud\": \"sts.amazonaws.com\",\n                    \"{OIDC_HOST}:sub\": \"system:serviceaccount:{ns}:{sa}\"\n                }}\n            }}\n        }}\n    ]\n}}"
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("roleName", role);
        o.s("policyDocument", &policy);
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(false, host::IAM).via(c.vpce));
    }

    /// EKS CreatePodIdentityAssociation.
    pub(in crate::synth) fn create_association(&mut self, c: &Caller<'_>, ns: &str, sa: &str, role: &Role) {
        self.head(
            "1.10",
            c,
            "eks.amazonaws.com",
            "CreatePodIdentityAssociation",
            REGION,
            None,
        );
        let id = hex_id(self.rng, "a-", 17);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("clusterName", CLUSTER);
        o.lit("namespace", ns);
        o.lit("serviceAccount", sa);
        o.lit("roleArn", &role.arn);
        o.s("clientRequestToken", &uuid(self.rng));
        o.end();
        o.obj("responseElements");
        o.obj("association");
        o.lit("clusterName", CLUSTER);
        o.lit("namespace", ns);
        o.lit("serviceAccount", sa);
        o.lit("roleArn", &role.arn);
        o.open_str("associationArn");
        o.part("arn:aws:eks:ap-southeast-1:111122223333:podidentityassociation/prod/");
        o.part(&id);
        o.close_str();
        o.lit("associationId", &id);
        o.raw("tags", b"{}");
        o.time("createdAt", self.now);
        o.time("modifiedAt", self.now);
        o.end();
        o.end();
        self.tail(Tail::new(false, host::EKS).via(c.vpce));
    }

    /// IAM CreateAccessKey for `user`.
    pub(in crate::synth) fn create_access_key(&mut self, c: &Caller<'_>, user: &str, key: &str) {
        self.head(
            "1.09",
            c,
            "iam.amazonaws.com",
            "CreateAccessKey",
            GLOBAL_REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("userName", user);
        o.end();
        o.obj("responseElements");
        o.obj("accessKey");
        o.lit("userName", user);
        o.lit("accessKeyId", key);
        o.lit("status", "Active");
        o.human_time("createDate", self.now);
        o.end();
        o.end();
        self.tail(Tail::new(false, host::IAM).via(c.vpce));
    }

    /// IAM UpdateOpenIDConnectProviderThumbprint for the cluster's issuer.
    pub(in crate::synth) fn update_thumbprint(&mut self, c: &Caller<'_>) {
        self.head(
            "1.09",
            c,
            "iam.amazonaws.com",
            "UpdateOpenIDConnectProviderThumbprint",
            GLOBAL_REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("openIDConnectProviderArn", OIDC_ARN);
        o.raw(
            "thumbprintList",
            b"[\"9e99a48a9960b14926bb7f3b02e22da2b0ab7280\"]",
        );
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(false, host::IAM).via(c.vpce));
    }

    // ------------------------------------------------------------------ generic

    /// A denied call of `action` (`service:Name`) on `resource`, with the message IAM writes.
    pub(in crate::synth) fn denied(
        &mut self,
        c: &Caller<'_>,
        caller_arn: &str,
        action: &'static str,
        resource: &str,
    ) {
        let (service, name) = action.split_once(':').unwrap_or((action, action));
        let source = match service {
            "s3" => "s3.amazonaws.com",
            "iam" => "iam.amazonaws.com",
            "secretsmanager" => "secretsmanager.amazonaws.com",
            "kms" => "kms.amazonaws.com",
            "ec2" => "ec2.amazonaws.com",
            "dynamodb" => "dynamodb.amazonaws.com",
            "sqs" => "sqs.amazonaws.com",
            "ssm" => "ssm.amazonaws.com",
            "lambda" => "lambda.amazonaws.com",
            _ => "sts.amazonaws.com",
        };
        let (code, message) = match service {
            "ec2" => (
                "Client.UnauthorizedOperation",
                format!(
                    "You are not authorized to perform this operation. User: {caller_arn} is not authorized to perform: {action} because no identity-based policy allows the {action} action"
                ),
            ),
            "s3" => ("AccessDenied", "Access Denied".to_string()),
            "iam" | "sqs" | "dynamodb" => (
                "AccessDenied",
                format!(
                    "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
                ),
            ),
            _ => (
                "AccessDeniedException",
                format!(
                    "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
                ),
            ),
        };
        let region = region_of(source);
        self.head("1.09", c, source, name, region, Some((code, &message)));
        let o = &mut *self.o;
        o.obj("requestParameters");
        match service {
            "s3" => o.lit("Host", host::S3_REGIONAL),
            "secretsmanager" => o.s("secretId", resource),
            "kms" => o.s("keyId", resource),
            "ssm" => o.raw(
                "parameterFilters",
                br#"[{"key":"Path","option":"Recursive","values":["/prod/"]}]"#,
            ),
            "iam" => o.n("maxItems", 100),
            _ => {}
        }
        o.end();
        o.null("responseElements");
        let id = if service == "s3" { ReqId::S3 } else { ReqId::Uuid };
        let hostname = match service {
            "iam" => host::IAM,
            "s3" => host::S3_REGIONAL,
            "ec2" => host::EC2,
            "kms" => host::KMS,
            "secretsmanager" => host::SECRETS,
            "dynamodb" => host::DYNAMODB,
            "sqs" => host::SQS,
            "ssm" => host::SSM,
            _ => host::STS,
        };
        self.tail(Tail::new(true, hostname).id(id).via(c.vpce));
    }
}
