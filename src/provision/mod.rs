//! The executor: converges the AWS part of a plan. Independent resources run in parallel (up to
//! a bound), each after the resources it depends on; retryable failures are retried with
//! backoff and jitter; every resource gets an outcome, and the mutating calls are counted.

pub mod aws;
mod dispatch;
#[cfg(test)]
mod fake_aws;
pub mod kube;
pub mod lock;
pub mod memory;
pub mod provisioner;
pub mod seed;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::model::outcome::{DEPENDENCY_FAILED, Done, NOT_ATTEMPTED, Outcome};
pub use crate::model::outcome::{Report, ResourceReport};
use crate::model::ownership::Owner;
use crate::model::plan::{Plan, Resource};
use crate::model::spec::DeletionPolicy;
use crate::provision::aws::{AwsError, Ctx};
use crate::provision::provisioner::{Deps, Hints, Observation, Outputs};

/// Called as each resource finishes (for progress output).
pub type Progress = std::sync::Arc<dyn Fn(&ResourceReport) + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    /// Resources converged at once by this run (every run sharing a client set also waits for
    /// its [`aws::Clients::limiter`]).
    pub concurrency: usize,
    /// Attempts per resource for retryable errors (throttling, 5xx, unreachable, timeouts).
    pub max_attempts: u32,
    /// First retry delay; doubled each time, with ±50 % jitter.
    pub backoff: Duration,
    pub progress: Option<Progress>,
    /// Take over resources that have the planned names but no nexus-dev ownership
    /// (`apply --adopt`); another capability's resources are never taken.
    pub adopt: bool,
    /// IDs found by earlier runs (a user pool's, an app client's), by resource id: tried first,
    /// in the first wave of reads, and verified there (issue 20). A stale or foreign one costs
    /// the lookup by name it saves, nothing more.
    pub remembered: Hints,
    /// What must hold before anything is written (`apply` checks that the emulator offers the
    /// plan's services): awaited beside the first wave of reads, so it costs no round trip of
    /// its own. When it fails, nothing is attempted and every resource carries its message.
    pub gate: Option<Gate>,
}

/// A check a run awaits before its first write; see [`Options::gate`].
pub type Gate = futures::future::Shared<futures::future::BoxFuture<'static, Result<(), String>>>;

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: aws::DEFAULT_IN_FLIGHT,
            max_attempts: 3,
            backoff: Duration::from_millis(250),
            progress: None,
            adopt: false,
            remembered: Hints::new(),
            gate: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("concurrency", &self.concurrency)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("adopt", &self.adopt)
            .field("remembered", &self.remembered)
            .field("gate", &self.gate.is_some())
            .finish_non_exhaustive()
    }
}

/// Converges every AWS resource of `plan`.
pub async fn apply(plan: &Plan, ctx: &Ctx, opts: &Options) -> Report {
    let resources: Vec<&Resource> = plan.resources.iter().filter(|r| r.kind.is_aws()).collect();
    apply_resources(&plan.owner(), &resources, ctx, opts).await
}

/// Converges `resources` (AWS ones, all of `owner`), ordered by their dependencies among
/// themselves; the dependencies outside the set are taken as done (an earlier phase made them).
pub async fn apply_resources(owner: &Owner, resources: &[&Resource], ctx: &Ctx, opts: &Options) -> Report {
    let ids: HashSet<String> = resources.iter().map(|r| r.id()).collect();
    // Only dependencies inside the AWS part order the AWS part.
    let deps: Vec<Vec<String>> =
        resources.iter().map(|r| r.depends_on.iter().filter(|d| ids.contains(*d)).cloned().collect()).collect();
    run(owner, ctx, opts, resources, &deps, Op::Ensure).await
}

/// Deletes the AWS resources of `plan`, dependents first. With `Retain`, nothing is deleted and
/// every resource is reported as retained.
pub async fn delete(plan: &Plan, ctx: &Ctx, opts: &Options, policy: DeletionPolicy) -> Report {
    let start = Instant::now();
    let resources: Vec<&Resource> = plan.resources.iter().filter(|r| r.kind.is_aws()).collect();
    if policy == DeletionPolicy::Retain {
        let resources = resources
            .iter()
            .map(|r| ResourceReport {
                kind: r.kind,
                name: r.name.clone(),
                outcome: Outcome::Retained,
                changes: vec!["deletionPolicy is Retain".into()],
                error: None,
                error_code: None,
                attempts: 0,
                duration_ms: 0,
                id: None,
            })
            .collect();
        return Report { resources, duration_ms: start.elapsed().as_millis() as u64, ..Report::default() };
    }
    run(&plan.owner(), ctx, opts, &resources, &dependents(ctx, &resources), Op::Delete).await
}

/// Reverse edges: a resource goes once everything depending on it is gone. A dry run deletes
/// nothing, so nothing waits: every resource is read at once.
fn dependents(ctx: &Ctx, resources: &[&Resource]) -> Vec<Vec<String>> {
    if ctx.dry_run {
        return vec![Vec::new(); resources.len()];
    }
    resources
        .iter()
        .map(|r| {
            let id = r.id();
            resources.iter().filter(|o| o.depends_on.contains(&id)).map(|o| o.id()).collect()
        })
        .collect()
}

/// The orphans among `candidates` (resources the capability's plan no longer wants, such as
/// [`crate::model::plan::unplanned`]): those that exist and are `owner`'s. Under `Delete` they are
/// deleted (`pruned`); under `Retain`, or in a dry run, they are only reported (`orphaned`).
/// What does not exist, or is not the capability's, is left out of the report.
pub async fn prune(
    owner: &Owner,
    candidates: &[Resource],
    ctx: &Ctx,
    opts: &Options,
    policy: DeletionPolicy,
) -> Report {
    let resources: Vec<&Resource> = candidates.iter().collect();
    let keep = policy == DeletionPolicy::Retain;
    let probe = Ctx { dry_run: ctx.dry_run || keep, ..ctx.clone() };
    let mut report = run(owner, &probe, opts, &resources, &dependents(&probe, &resources), Op::Delete).await;
    report.resources.retain_mut(|r| match r.outcome {
        Outcome::Deleted if probe.dry_run => {
            r.outcome = Outcome::Orphaned;
            r.changes = vec![if keep {
                "no longer in the plan; kept: deletionPolicy is Retain (delete it by hand, or set deletionPolicy: Delete)".into()
            } else {
                "no longer in the plan; apply deletes it (deletionPolicy is Delete)".into()
            }];
            true
        }
        Outcome::Deleted => {
            r.outcome = Outcome::Pruned;
            true
        }
        Outcome::Failed => true,
        // Absent, or somebody else's.
        _ => false,
    });
    report
}

/// A look for orphans beside other work (issue 20): [`prune`]'s reads, made as a dry run in a
/// task of its own that starts at once, so that they cost no round trip of their own. Found
/// nothing (the common case), nothing more is sent; what it finds is pruned for real afterwards.
pub struct OrphanProbe {
    task: tokio::task::JoinHandle<Report>,
    owner: Owner,
    candidates: Vec<Resource>,
    ctx: Ctx,
    opts: Options,
    policy: DeletionPolicy,
}

impl OrphanProbe {
    /// Starts looking for the orphans among `candidates` (see [`prune`]).
    pub fn start(owner: &Owner, candidates: Vec<Resource>, ctx: &Ctx, opts: &Options, policy: DeletionPolicy) -> Self {
        let probing = Ctx { dry_run: true, ..ctx.clone() };
        let quiet = Options { progress: None, ..opts.clone() };
        let (o, found) = (owner.clone(), candidates.clone());
        let task = tokio::spawn(async move { prune(&o, &found, &probing, &quiet, policy).await });
        Self { task, owner: owner.clone(), candidates, ctx: ctx.clone(), opts: opts.clone(), policy }
    }

    /// Adds the probe to `report`, the work it ran beside. A dry run reports what it found. If
    /// `prune` (the work went well) and it found anything, that is pruned now, as [`prune`]
    /// does; otherwise only its calls count.
    pub async fn finish(self, report: &mut Report, prune: bool) {
        let found = self.task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if self.ctx.dry_run || found.resources.is_empty() {
            report.merge_alongside(found);
            return;
        }
        report.merge_alongside(Report { resources: Vec::new(), ..found });
        if prune {
            report.merge(self::prune(&self.owner, &self.candidates, &self.ctx, &self.opts, self.policy).await);
        }
    }
}

/// What a run does to each resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ensure,
    Delete,
}

async fn run(
    owner: &Owner,
    ctx: &Ctx,
    opts: &Options,
    resources: &[&Resource],
    deps: &[Vec<String>],
    op: Op,
) -> Report {
    let start = Instant::now();
    // Writers take turns per capability; a dry run writes nothing and waits for nobody.
    let _writer = if ctx.dry_run {
        None
    } else {
        match lock::acquire(owner, &ctx.account, &ctx.clients.region).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the capability's lock; going on without it");
                None
            }
        }
    };
    // The IDs this machine remembers, under those the caller knows (the capability's status).
    let mut opts = opts.clone();
    for (id, found) in memory::load(owner, &ctx.account, &ctx.clients.region) {
        opts.remembered.entry(id).or_insert(found);
    }
    let ((resources, depth), counter) =
        crate::provision::aws::counted(run_counted(ctx, &opts, resources, deps, op, owner)).await;
    if !ctx.dry_run {
        memory::record(owner, &ctx.account, &ctx.clients.region, &resources);
    }
    Report {
        resources,
        mutating_calls: counter.mutating(),
        read_calls: counter.reads(),
        duration_ms: start.elapsed().as_millis() as u64,
        depth,
    }
}

async fn run_counted(
    ctx: &Ctx,
    opts: &Options,
    resources: &[&Resource],
    deps: &[Vec<String>],
    op: Op,
    owner: &Owner,
) -> (Vec<ResourceReport>, u32) {
    let mut outputs = Outputs::new();
    // Requests each resource waited on one after another, its early read's and dependencies'
    // included (`Report::depth`).
    let mut depths: HashMap<String, u32> = HashMap::new();
    let mut reports: Vec<Option<ResourceReport>> = vec![None; resources.len()];
    let mut finished: HashMap<String, bool> = HashMap::new(); // id → succeeded
    let mut started = vec![false; resources.len()];
    // Read everything up front, at once: most of a warm apply is reading, and a resource's own
    // state seldom depends on another being done. What cannot be read yet is read in its turn.
    let gate = async {
        match &opts.gate {
            Some(g) => g.clone().await.err(),
            None => None,
        }
    };
    let (reads, refused) = futures::join!(early_reads(ctx, opts, resources, op, owner), gate);
    // Once the endpoint proved unreachable (or the gate refused), nothing more is attempted: one
    // clear error beats fifty identical ones, each after its own retries.
    let mut halt: Option<String> = refused;
    let mut observations: HashMap<String, Observation> = HashMap::new();
    for (id, read, depth) in reads {
        depths.insert(id.clone(), depth);
        match read {
            Some(Ok(o)) => {
                observations.insert(id, o);
            }
            Some(Err(e)) if endpoint_lost(&e) => {
                halt.get_or_insert_with(|| lost(ctx, &e));
            }
            _ => {}
        }
    }
    // In its turn, a resource whose remembered ID did not hold tries the one its SSM parameter
    // publishes.
    let mut hints = dispatch::hints(resources, &observations);
    for (id, v) in &opts.remembered {
        hints.entry(id.clone()).or_insert_with(|| v.clone());
    }
    let hints = &hints;
    let mut running = FuturesUnordered::new();
    loop {
        // Start what is ready, up to the bound.
        for i in 0..resources.len() {
            if started[i] || running.len() >= opts.concurrency.max(1) {
                continue;
            }
            if let Some(why) = &halt {
                started[i] = true;
                let rep = report(
                    resources[i],
                    Err((format!("not attempted: {why}"), NOT_ATTEMPTED.into())),
                    0,
                    Duration::ZERO,
                );
                finished.insert(resources[i].id(), false);
                reports[i] = Some(rep);
                continue;
            }
            if !deps[i].iter().all(|d| finished.contains_key(d)) {
                continue;
            }
            started[i] = true;
            let r = resources[i];
            if let Some(failed) = deps[i].iter().find(|d| finished.get(*d) == Some(&false)) {
                let verb = if op == Op::Ensure { "depends on" } else { "is needed by" };
                let rep = report(
                    r,
                    Err((format!("skipped: {verb} {failed}, which failed"), DEPENDENCY_FAILED.into())),
                    0,
                    Duration::ZERO,
                );
                if let Some(p) = &opts.progress {
                    p(&rep);
                }
                reports[i] = Some(rep);
                finished.insert(r.id(), false);
                continue;
            }
            let outs = outputs.clone();
            // The early read serves the first attempt only; a retry reads afresh.
            let mut pre = observations.remove(&r.id());
            // It waited for its early read and for every dependency.
            let start = deps[i].iter().chain([&r.id()]).filter_map(|d| depths.get(d)).max().copied().unwrap_or(0);
            let depth = aws::Depth::starting_at(start);
            running.push(aws::at_depth(depth.clone(), async move {
                let t = Instant::now();
                let (result, attempts) = with_retries(opts, || {
                    let pre = pre.take();
                    let outs = &outs;
                    Box::pin(async move {
                        let _permit = ctx.clients.limiter.acquire().await;
                        dispatch::run(ctx, r, op, pre, Deps::new(owner, r, outs, hints), opts.adopt).await
                    })
                })
                .await;
                (i, result, attempts, t.elapsed(), depth.get())
            }));
        }
        let Some((i, result, attempts, elapsed, depth)) = StreamExt::next(&mut running).await else {
            // Nothing runs and nothing can start: everything is done (cycles cannot occur; the
            // plan orders dependencies first).
            break;
        };
        let r = resources[i];
        depths.insert(r.id(), depth);
        finished.insert(r.id(), result.is_ok());
        if let Ok(done) = &result {
            outputs.insert(r.id(), done.outputs.clone());
        }
        if let Err(e) = &result
            && endpoint_lost(e)
        {
            halt.get_or_insert_with(|| lost(ctx, e));
        }
        let result = result.map_err(|e| (e.to_string(), e.code().to_owned()));
        let rep = report(r, result, attempts, elapsed);
        if let Some(p) = &opts.progress {
            p(&rep);
        }
        reports[i] = Some(rep);
    }
    let reports = reports
        .into_iter()
        .zip(resources)
        .map(|(rep, r)| {
            rep.unwrap_or_else(|| report(r, Err(("not started".into(), "NotStarted".into())), 0, Duration::ZERO))
        })
        .collect();
    (reports, depths.into_values().max().unwrap_or(0))
}

/// The first wave of an ensure: every resource that can be read before the others are done,
/// read at once, each with its depth (a delete reads in its turn).
async fn early_reads(
    ctx: &Ctx,
    opts: &Options,
    resources: &[&Resource],
    op: Op,
    owner: &Owner,
) -> Vec<(String, Option<Result<Observation, AwsError>>, u32)> {
    if op != Op::Ensure {
        return Vec::new();
    }
    let remembered = &opts.remembered;
    // Parameters in batches of ten; the baseline of "one call after another" reads each.
    let parameters: Vec<&str> = resources
        .iter()
        .filter(|r| r.kind == crate::model::plan::Kind::SsmParameter)
        .map(|r| r.name.as_str())
        .collect();
    let prefetch = (!ctx.serial).then(|| aws::ssm::Prefetch::new(ctx, &parameters));
    let prefetch = prefetch.as_ref();
    // Collected first: a lazily mapped iterator here makes the future's `Send` bound
    // higher-ranked, which the compiler cannot prove.
    let reads: Vec<_> = resources
        .iter()
        .map(|r| {
            let deps = Deps::first_wave(owner, r, remembered, prefetch);
            Box::pin(async move {
                let _permit = ctx.clients.limiter.acquire().await;
                let depth = aws::Depth::starting_at(0);
                let read = aws::at_depth(depth.clone(), dispatch::observe_early(ctx, r, deps)).await;
                (r.id(), read, depth.get())
            })
        })
        .collect();
    // The baseline of "one call after another" reads one resource at a time here too.
    let width = if ctx.serial { 1 } else { resources.len().max(1) };
    futures::stream::iter(reads).buffer_unordered(width).collect().await
}

/// An endpoint that refuses connections or stops answering serves no other resource either.
fn endpoint_lost(e: &AwsError) -> bool {
    matches!(e, AwsError::Unreachable { .. } | AwsError::Timeout { .. })
}

/// The one message every resource not attempted carries, naming the endpoint.
fn lost(ctx: &Ctx, e: &AwsError) -> String {
    let endpoint = ctx.clients.endpoint.as_deref().unwrap_or("of AWS");
    match e {
        AwsError::Timeout { .. } => format!("the AWS endpoint {endpoint} stopped answering ({e})"),
        _ => format!("the AWS endpoint {endpoint} is unreachable ({e})"),
    }
}

fn report(r: &Resource, result: Result<Done, (String, String)>, attempts: u32, elapsed: Duration) -> ResourceReport {
    let (outcome, changes, error, error_code, id) = match result {
        Ok(done) => {
            let id = done.id().map(str::to_owned);
            (done.outcome, done.changes, None, None, id)
        }
        Err((msg, code)) => (Outcome::Failed, Vec::new(), Some(msg), Some(code), None),
    };
    ResourceReport {
        kind: r.kind,
        name: r.name.clone(),
        outcome,
        changes,
        error,
        error_code,
        attempts,
        duration_ms: elapsed.as_millis() as u64,
        id,
    }
}

/// Runs `f` until it succeeds, fails for good, or `max_attempts` is reached. Every ensure and
/// delete is idempotent, so running one again is safe.
async fn with_retries<F, Fut>(opts: &Options, mut f: F) -> (Result<Done, AwsError>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Done, AwsError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if e.is_retryable() && attempt < opts.max_attempts => {
                let delay = jitter(opts.backoff * 2u32.pow(attempt - 1));
                tracing::debug!(error = %e, attempt, ?delay, "retrying");
                tokio::time::sleep(delay).await;
            }
            other => return (other, attempt),
        }
    }
}

/// `d` ± 50 %, so that retries of many resources do not arrive together.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let frac = (h.finish() % 1000) as f64 / 1000.0; // 0..1
    d.mul_f64(0.5 + frac)
}

#[cfg(test)]
mod tests {
    use super::fake_aws::FakeAws;
    use super::*;
    use crate::model::plan::{self, Kind, ParamValue, Settings};
    use crate::provision::aws::Clients;

    /// The Cognito part of the example with Cognito, and the parameters publishing its IDs, for
    /// a capability of its own (the IDs this machine remembers are per capability).
    fn cognito_plan(name: &str) -> Plan {
        let mut cr = crate::input::examples::loaded("with-cognito.yaml").cr;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        cr.spec.capability_name = format!("{name}{}x{nanos}", std::process::id());
        let mut plan = plan::build(&cr, &crate::input::examples::profile("local"));
        plan.resources.retain(|r| match &r.settings {
            Settings::SsmParameter(p) => matches!(p.value, ParamValue::From { .. }),
            _ => r.kind.as_str().starts_with("cognito."),
        });
        plan
    }

    /// One pass over `plan` against `fake`, knowing `remembered`.
    async fn pass(fake: &std::sync::Arc<FakeAws>, plan: &Plan, remembered: &[(Kind, &str)]) -> Report {
        let ctx = Ctx::new(Clients::from_config(&fake.sdk_config(&plan.target.region), true), "000000000000");
        let id_of = |kind: Kind| plan.of_kind(kind).next().map(|r| r.id()).unwrap();
        let remembered = remembered.iter().map(|(k, v)| (id_of(*k), (*v).to_owned())).collect();
        apply(plan, &ctx, &Options { remembered, ..Options::default() }).await
    }

    fn assert_warm(report: &Report) {
        let off: Vec<_> = report.resources.iter().filter(|r| r.outcome != Outcome::Unchanged).collect();
        assert!(off.is_empty(), "{off:#?}");
        assert_eq!(report.mutating_calls, 0);
    }

    /// The three parameters' reads: their values in one call, their tags one call each.
    fn ssm_reads() -> Vec<&'static str> {
        vec!["GetParameters", "ListTagsForResource", "ListTagsForResource", "ListTagsForResource"]
    }

    fn sorted(mut v: Vec<&str>) -> Vec<String> {
        v.sort();
        v.into_iter().map(str::to_owned).collect()
    }

    // Issue 20: with the IDs remembered, a warm pass is one round trip, every setting still read.
    #[tokio::test(start_paused = true)]
    async fn a_warm_pass_with_remembered_ids_reads_everything_in_one_wave() {
        let plan = cognito_plan("waves");
        let fake = FakeAws::holding(&plan, "eu-west-1_pool", "client1");
        let report =
            pass(&fake, &plan, &[(Kind::CognitoUserPool, "eu-west-1_pool"), (Kind::CognitoUserPoolClient, "client1")])
                .await;
        assert_warm(&report);
        let mut one = ssm_reads();
        one.extend(["DescribeUserPool", "DescribeUserPoolClient", "DescribeUserPoolDomain"]);
        one.extend(["GetGroup"; 3]);
        assert_eq!(fake.waves(), vec![sorted(one)]);
        assert_eq!(report.depth, 1);
    }

    // What the remembered IDs save: without them the pool is listed, then described, and only then
    // are its client and groups read.
    #[tokio::test(start_paused = true)]
    async fn without_remembered_ids_the_pool_is_listed_and_its_children_wait_for_it() {
        let plan = cognito_plan("unknown");
        let fake = FakeAws::holding(&plan, "eu-west-1_pool", "client1");
        let report = pass(&fake, &plan, &[]).await;
        assert_warm(&report);
        let mut first = ssm_reads();
        first.extend(["ListUserPools", "DescribeUserPoolDomain"]);
        let mut third = vec!["DescribeUserPoolClient"];
        third.extend(["GetGroup"; 3]);
        assert_eq!(fake.waves(), vec![sorted(first), sorted(vec!["DescribeUserPool"]), sorted(third)]);
        assert_eq!(report.depth, 3);
        // What the next pass remembers.
        let ids: Vec<_> = report.resources.iter().filter_map(|r| Some((r.kind, r.id.as_deref()?))).collect();
        assert_eq!(ids, [(Kind::CognitoUserPool, "eu-west-1_pool"), (Kind::CognitoUserPoolClient, "client1")]);
    }

    // A remembered pool that is gone: the pool is found by name, the reads made in the stale
    // pool are made again in the real one, and nothing is written.
    #[tokio::test(start_paused = true)]
    async fn a_stale_remembered_pool_is_looked_up_by_name_and_its_children_read_again() {
        let plan = cognito_plan("stale");
        let fake = FakeAws::holding(&plan, "eu-west-1_pool", "client1");
        let report =
            pass(&fake, &plan, &[(Kind::CognitoUserPool, "eu-west-1_gone"), (Kind::CognitoUserPoolClient, "client1")])
                .await;
        assert_warm(&report);
        let pool = report.resources.iter().find(|r| r.kind == Kind::CognitoUserPool).unwrap();
        assert_eq!(pool.id.as_deref(), Some("eu-west-1_pool"));
        let waves = fake.waves();
        // The client, not found by its ID in the pool that is gone, is looked for by name there.
        assert_eq!(waves[1], sorted(vec!["ListUserPools", "ListUserPoolClients"]), "{waves:?}");
        assert_eq!(waves[2], sorted(vec!["DescribeUserPool"]), "{waves:?}");
        // The domain, read by name, stands.
        let mut again = vec!["DescribeUserPoolClient"];
        again.extend(["GetGroup"; 3]);
        assert_eq!(waves[3], sorted(again), "{waves:?}");
    }

    /// A gate that answers after three round trips of the stand-in: `verdict`.
    fn gate_after_three_round_trips(fake: &FakeAws, verdict: Result<(), String>) -> Gate {
        use futures::FutureExt;
        let wait = fake.rtt * 3;
        async move {
            tokio::time::sleep(wait).await;
            verdict
        }
        .boxed()
        .shared()
    }

    // Issue 20: the check `apply` makes before writing (the emulator's coverage) goes beside the
    // first wave of reads. Nothing is written before it passes, nothing at all if it fails.
    #[tokio::test(start_paused = true)]
    async fn a_gate_holds_every_write_until_it_passes_and_stops_them_all_when_it_fails() {
        let plan = cognito_plan("gated");
        let ctx_on = |fake: &std::sync::Arc<FakeAws>| {
            Ctx::new(Clients::from_config(&fake.sdk_config(&plan.target.region), true), "000000000000")
        };
        // An account with another capability's pool: every resource of this plan is to be made.
        let refusing = FakeAws::holding(&cognito_plan("other"), "eu-west-1_other", "client9");
        let gate = gate_after_three_round_trips(&refusing, Err("the emulator does not offer cognito-idp".into()));
        let report = apply(&plan, &ctx_on(&refusing), &Options { gate: Some(gate), ..Options::default() }).await;
        assert_eq!(report.mutating_calls, 0);
        let said = |r: &ResourceReport| r.error.as_deref().is_some_and(|e| e.contains("does not offer cognito-idp"));
        assert!(report.resources.iter().all(|r| r.outcome == Outcome::Failed && said(r)), "{:#?}", report.resources);
        assert_eq!(refusing.waves().len(), 1, "only the first wave's reads: {:?}", refusing.waves());

        let passing = FakeAws::holding(&cognito_plan("other"), "eu-west-1_other", "client9");
        let gate = gate_after_three_round_trips(&passing, Ok(()));
        let report = apply(&plan, &ctx_on(&passing), &Options { gate: Some(gate), ..Options::default() }).await;
        assert!(report.mutating_calls > 0, "the stand-in refuses writes, but they are sent");
        let sent = passing.sent.lock().unwrap().clone();
        let first_write = sent.iter().filter(|s| aws::is_mutating(&s.operation)).map(|s| s.at).min().unwrap();
        let last_read_of_the_first_wave = sent.iter().map(|s| s.at).filter(|at| *at < passing.rtt).max().unwrap();
        assert!(first_write >= passing.rtt * 3, "a write went at {first_write:?}, before the gate passed");
        assert_eq!(last_read_of_the_first_wave, Duration::ZERO, "the reads did not wait for the gate");
    }

    #[test]
    fn jitter_stays_within_half_either_way() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(100));
            assert!(j >= Duration::from_millis(50) && j <= Duration::from_millis(150), "{j:?}");
        }
    }
}
