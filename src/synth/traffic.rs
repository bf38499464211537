//! What happens in the account, one step at a time: pods calling AWS with their
//! credentials (fetching new ones when due), nodes, services, people and CI, and now and
//! then an episode that a detection is there to catch. Workload calls are in `workload`,
//! everyone else's in `platform`, the episodes in `episodes`.

mod episodes;
mod platform;
mod workload;

use fastrand::Rng;

use super::calls::{Err, PodTags};
use super::json::{Out, uuid};
use super::records::{Caller, Rec, Who};
use super::world::{
    CLUSTER, Federation, NAT, Node, OFFICE_IP, OIDC_ARN, Session, SessionSpec, Style, Via, WORKLOADS, World,
    new_pod, ua,
};

use episodes::{EPISODE_SPACING, EPISODES, Later};

/// 2026-11-30T08:00:00Z.
const START: i64 = 1_796_025_600;
/// Mean gap between records in milliseconds: about 26 records a second, all day.
const GAP_MS: i64 = 38;

/// What one step does (weights in steps per thousand).
#[derive(Clone, Copy)]
enum Step {
    Workload,
    SseKms,
    Churn,
    Node,
    Service,
    Human,
    Ci,
    LegacyCi,
}

const STEPS: [(u32, Step); 8] = [
    (690, Step::Workload),
    (45, Step::SseKms),
    (22, Step::Churn),
    (160, Step::Node),
    (20, Step::Service),
    (30, Step::Human),
    (2, Step::Ci),
    (6, Step::LegacyCi),
];

const PIA_ERR: &str = "Unauthorized Exception! EKS does not have permissions to assume the associated role.";
const NOT_AUTHORIZED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

/// Picks from a weighted table.
fn pick<T: Copy>(rng: &mut Rng, table: &[(u32, T)]) -> T {
    let total: u32 = table.iter().map(|(w, _)| w).sum();
    let mut r = rng.u32(..total.max(1));
    for &(w, t) in table {
        if r < w {
            return t;
        }
        r -= w;
    }
    table[table.len() - 1].1
}

/// A chance of `per_mille` in a thousand.
fn chance(rng: &mut Rng, per_mille: u32) -> bool {
    rng.u32(..1000) < per_mille
}

/// The generator's state.
pub(super) struct Gen {
    pub o: Out,
    rng: Rng,
    world: World,
    /// Event time, milliseconds since the epoch.
    ms: i64,
    steps: u64,
    next_episode: u64,
    episode: usize,
    later: Vec<Later>,
    workload_weights: Vec<(u32, usize)>,
    /// Scratch for encryption contexts.
    context: Vec<u8>,
    changes: u64,
}

impl Gen {
    pub(super) fn new(seed: u64) -> Self {
        let mut rng = Rng::with_seed(seed);
        let world = World::new(&mut rng, START);
        let next_episode = rng.u64(50..400);
        let episode = rng.usize(..EPISODES.len());
        Self {
            o: Out::with_capacity(512 * 1024),
            rng,
            world,
            ms: START * 1000,
            steps: 0,
            next_episode,
            episode,
            later: Vec::new(),
            workload_weights: WORKLOADS.iter().enumerate().map(|(i, d)| (d.weight, i)).collect(),
            context: Vec::with_capacity(256),
            changes: 0,
        }
    }

    fn now(&self) -> i64 {
        self.ms.div_euclid(1000)
    }

    fn tick(&mut self) {
        self.ms += self.rng.i64(0..=2 * GAP_MS);
    }

    /// A record writer and the world, borrowed together.
    fn parts(&mut self) -> (Rec<'_>, &mut World) {
        let now = self.now();
        (Rec::new(&mut self.o, &mut self.rng, now), &mut self.world)
    }

    /// Writes the records of one step into `o`.
    pub(super) fn step(&mut self) {
        self.tick();
        let now = self.now();
        if let Some(i) = self.later.iter().position(|l| l.due() <= now) {
            let later = self.later.swap_remove(i);
            self.run_later(later);
            return;
        }
        self.steps += 1;
        if self.steps >= self.next_episode {
            self.next_episode = self.steps + self.rng.u64(EPISODE_SPACING);
            let episode = EPISODES[self.episode % EPISODES.len()];
            self.episode += 1;
            self.run_episode(episode);
            return;
        }
        match pick(&mut self.rng, &STEPS) {
            Step::Workload => {
                let (wi, pi) = self.pick_pod();
                if self.ensure_credentials(wi, pi) {
                    self.tick();
                }
                let op = pick(&mut self.rng, self.world.workloads[wi].def.ops);
                self.workload_op(wi, pi, op);
            }
            Step::SseKms => self.sse_kms(),
            Step::Churn => self.churn(),
            Step::Node => self.node_step(),
            Step::Service => self.service_step(),
            Step::Human => self.human_step(),
            Step::Ci => self.ci_step(),
            Step::LegacyCi => self.legacy_ci_step(),
        }
    }

    fn pick_pod(&mut self) -> (usize, usize) {
        let wi = pick(&mut self.rng, &self.workload_weights);
        let pi = self.rng.usize(..self.world.workloads[wi].pods.len());
        (wi, pi)
    }

    // ------------------------------------------------------------------ credentials

    /// Fetches credentials for a pod that has none or whose SDK is due to refresh them;
    /// whether it did.
    fn ensure_credentials(&mut self, wi: usize, pi: usize) -> bool {
        let now = self.now();
        let fresh = self.world.workloads[wi].pods[pi]
            .session
            .as_ref()
            .is_some_and(|s| now < s.refresh_at);
        if !fresh {
            self.exchange(wi, pi);
        }
        !fresh
    }

    /// A credential exchange for a pod (IRSA or Pod Identity); a few fail first.
    fn exchange(&mut self, wi: usize, pi: usize) {
        match self.world.workloads[wi].def.via {
            Via::Irsa => {
                if chance(&mut self.rng, 30) {
                    let now = self.now();
                    let (code, message) = match self.rng.u32(..20) {
                        0..8 => (
                            "InvalidIdentityToken",
                            "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.".to_string(),
                        ),
                        8..14 => ("AccessDenied", NOT_AUTHORIZED.to_string()),
                        14..17 => (
                            "ExpiredTokenException",
                            format!(
                                "Token expired: current date/time {} must be before the expiration date/time {}",
                                now,
                                now - self.rng.i64(1..600)
                            ),
                        ),
                        _ => (
                            "IDPCommunicationError",
                            "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements".to_string(),
                        ),
                    };
                    self.irsa(wi, pi, Some((code, &message)));
                    self.tick();
                }
                self.irsa(wi, pi, None);
            }
            Via::PodIdentity => {
                let node = self.world.workloads[wi].pods[pi].node;
                self.ensure_node(node, false);
                if chance(&mut self.rng, 10) {
                    self.pod_identity(wi, pi, true);
                    self.tick();
                }
                self.pod_identity(wi, pi, false);
            }
        }
    }

    /// One AssumeRoleWithWebIdentity of a pod's service account token.
    fn irsa(&mut self, wi: usize, pi: usize, err: Err<'_>) {
        let now = self.now();
        let (mut r, world) = self.parts();
        let w = &world.workloads[wi];
        let pod = &w.pods[pi];
        let subject = format!("system:serviceaccount:{}:{}", w.def.ns, w.def.sa);
        let name = session_name(r.rng, w.def.style, now);
        let issued = err.is_none().then(|| {
            Session::assumed(
                r.rng,
                SessionSpec {
                    role: &w.role,
                    name: name.clone(),
                    created: now,
                    lifetime: 3600,
                    federation: Federation::Eks,
                    mfa: false,
                    delivery: None,
                },
            )
        });
        let c = Caller {
            who: Who::Web {
                provider: OIDC_ARN,
                subject: &subject,
                with_provider: true,
            },
            ip: &pod.ip,
            ua: w.def.ua,
            vpce: Some(&world.vpce.sts),
        };
        r.web_identity(&c, &w.role, &name, issued.as_ref(), err);
        if let Some(s) = issued {
            world.workloads[wi].pods[pi].session = Some(s);
        }
    }

    /// A Pod Identity exchange: EKS's `sts:AssumeRole` with the pod's tags, and the node
    /// agent's `eks-auth:AssumeRoleForPodIdentity`, in the same second.
    fn pod_identity(&mut self, wi: usize, pi: usize, fail: bool) {
        let now = self.now();
        let (mut r, world) = self.parts();
        let w = &world.workloads[wi];
        let pod = &w.pods[pi];
        let node = &world.nodes[pod.node];
        let short_pod = pod.name.get(..10).unwrap_or(&pod.name);
        let name = format!("eks-{CLUSTER}-{short_pod}-{}", uuid(r.rng));
        let pod_uid = uuid(r.rng);
        let issued = (!fail).then(|| {
            Session::assumed(
                r.rng,
                SessionSpec {
                    role: &w.role,
                    name: name.clone(),
                    created: now,
                    lifetime: 21_600,
                    federation: Federation::Empty,
                    mfa: false,
                    delivery: None,
                },
            )
        });
        let tags = PodTags {
            namespace: w.def.ns,
            service_account: w.def.sa,
            pod: &pod.name,
            uid: &pod_uid,
        };
        let sts_message = format!(
            "User: pods.eks.amazonaws.com is not authorized to perform: sts:TagSession on resource: {}",
            w.role.arn
        );
        r.pods_assume_role(
            &w.role,
            &name,
            tags,
            issued.as_ref(),
            fail.then_some(("AccessDenied", sts_message.as_str())),
        );
        let c = node_caller(node, Some(&world.vpce.eks_auth), ua::PIA);
        let code = if r.rng.bool() {
            "AccessDeniedException"
        } else {
            "AccessDenied"
        };
        r.eks_auth(&c, fail.then_some((code, PIA_ERR)));
        if let Some(s) = issued {
            world.workloads[wi].pods[pi].session = Some(s);
        }
    }

    /// Renews a node's instance-profile credentials when due (EC2's `sts:AssumeRole`);
    /// whether it did.
    fn ensure_node(&mut self, ni: usize, force: bool) -> bool {
        let now = self.now();
        if !force && now < self.world.nodes[ni].session.refresh_at {
            return false;
        }
        let (mut r, world) = self.parts();
        let node = &world.nodes[ni];
        let mut s = Session::assumed(
            r.rng,
            SessionSpec {
                role: &world.node_role,
                name: node.instance.clone(),
                created: now,
                lifetime: 21_600,
                federation: Federation::Omit,
                mfa: false,
                delivery: Some("2.0"),
            },
        );
        // EC2 rotates instance credentials about hourly, well before they expire.
        s.refresh_at = now + r.rng.i64(3000..3600);
        r.imds_vend(&world.node_role, &s);
        world.nodes[ni].session = s;
        true
    }

    /// A pod replaced (rollout, rescheduling, scale-out: new name, new IP, image pull,
    /// new credentials), or an SDK client re-created (new credentials).
    fn churn(&mut self) {
        let (wi, pi) = self.pick_pod();
        if chance(&mut self.rng, 400) {
            let pod = new_pod(&mut self.rng, self.world.workloads[wi].def);
            let node = pod.node;
            self.world.workloads[wi].pods[pi] = pod;
            self.ensure_node(node, false);
            let repo = self.world.workloads[wi].def.sa;
            let tag = ["v1.42.0", "v1.42.1", "v2.3.0", "v2.3.1"][self.rng.usize(..4)];
            let layers = self.rng.usize(1..4);
            let (mut r, world) = self.parts();
            let n = &world.nodes[node];
            let c = node_caller(n, Some(&world.vpce.ecr_dkr), ua::CONTAINERD);
            r.ecr_pull(&c, repo, Some(tag));
            for _ in 0..layers {
                r.ecr_pull(&c, repo, None);
            }
            self.tick();
        }
        self.exchange(wi, pi);
    }
}

/// A pod's call through a VPC endpoint (the source is the pod's own address).
fn via<'a>(s: &'a Session, ip: &'a str, ua: &'a str, vpce: &'a str) -> Caller<'a> {
    Caller {
        who: Who::Session(s),
        ip,
        ua,
        vpce: Some(vpce),
    }
}

/// A node's call: from its own address through a VPC endpoint, or from its NAT gateway.
fn node_caller<'a>(node: &'a Node, vpce: Option<&'a str>, ua: &'a str) -> Caller<'a> {
    Caller {
        who: Who::Session(&node.session),
        ip: if vpce.is_some() { &node.ip } else { NAT[node.nat] },
        ua,
        vpce,
    }
}

fn admin_caller(world: &World, i: usize) -> Caller<'_> {
    Caller {
        who: Who::Session(&world.admins[i % world.admins.len()]),
        ip: OFFICE_IP,
        ua: ua::CLI_MAC,
        vpce: None,
    }
}

/// The `roleSessionName` an SDK picks.
fn session_name(rng: &mut Rng, style: Style, now: i64) -> String {
    let ms = now * 1000 + rng.i64(0..1000);
    match style {
        Style::Java => format!("aws-sdk-java-{ms}"),
        Style::Botocore => format!("botocore-session-{now}"),
        Style::Go => format!("{}{:06}", ms, rng.u32(..1_000_000)),
        Style::Js => format!("aws-sdk-js-session-{ms}"),
    }
}
