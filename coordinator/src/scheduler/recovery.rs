//! Installing sweeps: a new submission (or a resume) and the re-expansion of stored sweeps
//! after a restart, with their results, attempts and live leases.

use super::*;

impl State {
    pub(super) fn install(
        &mut self,
        exp: ExpandedSweep,
        record: SweepRecord,
        results: Vec<ResultRecord>,
        attempts: Vec<AttemptRecord>,
    ) -> usize {
        let si = self.sweeps.len();
        let mut queues: Vec<Queue> = Vec::new();
        let mut qindex: HashMap<(u16, u16, Phase), usize> = HashMap::new();
        let mut groups: HashMap<GroupKey, Group> = HashMap::new();
        let mut train_open: HashMap<(u16, u16), u64> = HashMap::new();
        let done: std::collections::HashSet<&str> =
            results.iter().map(|r| r.task_key.as_str()).collect();
        let mut tasks = Vec::with_capacity(exp.tasks.len());
        for (ti, plan) in exp.tasks.into_iter().enumerate() {
            let g = groups.entry(group_key(&plan)).or_default();
            g.total += 1;
            let is_done = done.contains(plan.key.as_str());
            if !is_done {
                let qi = *qindex
                    .entry((plan.backbone, plan.arm, plan.phase))
                    .or_insert_with(|| {
                        queues.push(Queue {
                            backbone: plan.backbone,
                            arm: plan.arm,
                            phase: plan.phase,
                            ready: VecDeque::new(),
                        });
                        queues.len() - 1
                    });
                queues[qi].ready.push_back(ti as u32);
                if plan.phase == Phase::Train {
                    *train_open.entry((plan.backbone, plan.arm)).or_default() += 1;
                }
            }
            self.task_index
                .insert(plan.key.clone(), (si as u32, ti as u32));
            tasks.push(TaskEntry {
                plan,
                state: if is_done {
                    TState::Done
                } else {
                    TState::Queued
                },
                attempts: 0,
                last_error: None,
            });
        }
        for r in &results {
            if let Some(&(_, ti)) = self.task_index.get(&r.task_key) {
                let p = &tasks[ti as usize].plan;
                let g = groups.entry(group_key(p)).or_default();
                count_result(g, r);
            }
        }
        let events = Feed::new();
        self.by_id.insert(record.sweep_id.clone(), si);
        self.sweeps.push(SweepState {
            record,
            sweep: exp.sweep,
            datasets: exp.datasets,
            tasks,
            queues,
            groups,
            results,
            attempts,
            events,
            started: Instant::now(),
            finished_this_run: 0,
            train_open,
            rr: 0,
        });
        self.work.notify_waiters();
        si
    }

    pub(super) fn restore_lease(&mut self, l: LeaseRecord, _now: u64) {
        let Some((si, ti)) = self.locate(&l.task_key) else {
            return;
        };
        let s = &mut self.sweeps[si];
        let t = &mut s.tasks[ti];
        if t.state != TState::Queued {
            return;
        }
        // Remove it from its ready queue.
        if let Some(q) = queue_of(&mut s.queues, &t.plan) {
            q.ready.retain(|&x| x as usize != ti);
        }
        t.state = TState::Leased {
            lease_id: l.lease_id.clone(),
            worker: l.worker_id.clone(),
            attempt: l.attempt,
            deadline_ms: l.deadline_unix_ms,
            started_ms: l.started_unix_ms,
        };
        t.attempts = t.attempts.max(l.attempt);
        self.leases
            .insert(l.lease_id.clone(), (si as u32, ti as u32));
        let backbone = s.sweep.config.backbones[t.plan.backbone as usize]
            .name
            .clone();
        if let Some(g) = s.groups.get_mut(&group_key(&t.plan)) {
            g.running += 1;
        }
        *self.running_per_backbone.entry(backbone).or_default() += 1;
    }

    pub(super) async fn submit(
        &mut self,
        exp: ExpandedSweep,
        opts: SubmitOptions,
    ) -> Result<Submitted, CoordinatorError> {
        let SubmitOptions {
            out_dir,
            resume,
            retry_failed,
            actions_from,
        } = opts;
        if let Some(&si) = self.by_id.get(&exp.sweep_id) {
            if !resume {
                return Err(CoordinatorError::SweepExists(exp.sweep_id));
            }
            let s = &mut self.sweeps[si];
            for (i, b) in exp.sweep.config.benchmarks.iter().enumerate() {
                let now = &exp.datasets[i].fingerprint;
                if let Some((_, was)) = s
                    .record
                    .fingerprints
                    .iter()
                    .find(|(n, _)| *n == b.display_name())
                    && was != now
                {
                    return Err(CoordinatorError::DatasetChanged {
                        sweep: exp.sweep_id.clone(),
                        benchmark: b.display_name(),
                        was: was.clone(),
                        now: now.clone(),
                    });
                }
            }
            let retried = if retry_failed {
                self.requeue_failed(si)
            } else {
                0
            };
            let s = &mut self.sweeps[si];
            if s.record.state == "cancelled" || (retried > 0 && s.record.state == "done") {
                s.record.state = "running".into();
                self.pending.push(Mutation::PutSweep(s.record.clone()));
            }
            let tasks = s.tasks.len() as u64;
            self.work.notify_waiters();
            return Ok(Submitted {
                sweep_id: exp.sweep_id,
                tasks,
                resumed: true,
            });
        }
        let out_dir =
            out_dir.unwrap_or_else(|| self.settings.data_dir.join("sweeps").join(&exp.sweep_id));
        let record = SweepRecord {
            sweep_id: exp.sweep_id.clone(),
            name: exp.sweep.config.name.clone(),
            config_toml: exp.config_toml.clone(),
            origin: exp.origin.clone(),
            base_dir: exp.sweep.base_dir.display().to_string(),
            out_dir: out_dir.display().to_string(),
            state: "running".into(),
            created_unix_ms: now_ms(),
            fingerprints: exp
                .sweep
                .config
                .benchmarks
                .iter()
                .zip(&exp.datasets)
                .map(|(b, d)| (b.display_name(), d.fingerprint.clone()))
                .collect(),
            frozen: Vec::new(),
            next_seq: 0,
            actions_from: actions_from.clone(),
        };
        if !actions_from.is_empty() {
            let Some(actions) = self.actions.clone() else {
                return Err(CoordinatorError::Actions(
                    "`--actions-from` needs the action store, which this coordinator does not host"
                        .into(),
                ));
            };
            for backbone in &exp.sweep.config.backbones {
                for arm in &exp.sweep.config.arms {
                    if arm.accumulation == Accumulation::Off {
                        continue;
                    }
                    let ns = namespace(&exp.sweep_id, &arm.name, &backbone.name);
                    actions
                        .import(&ns, &actions_from)
                        .await
                        .map_err(CoordinatorError::Actions)?;
                }
            }
        }
        let tasks = exp.tasks.len() as u64;
        let id = exp.sweep_id.clone();
        info!(sweep = %id, tasks, counts = ?expand::counts(&exp.sweep, &exp.tasks), "sweep submitted");
        self.pending.push(Mutation::PutSweep(record.clone()));
        self.install(exp, record, Vec::new(), Vec::new());
        Ok(Submitted {
            sweep_id: id,
            tasks,
            resumed: false,
        })
    }
}

impl State {
    /// Gives every task of sweep `si` recorded `failed` a fresh attempt budget: its result is
    /// removed (its attempts stay in the log) and it is queued again. Returns how many.
    fn requeue_failed(&mut self, si: usize) -> usize {
        let s = &mut self.sweeps[si];
        let failed: Vec<ResultRecord> = s
            .results
            .iter()
            .filter(|r| r.status == Status::Failed.as_str())
            .cloned()
            .collect();
        if failed.is_empty() {
            return 0;
        }
        s.results.retain(|r| r.status != Status::Failed.as_str());
        for r in &failed {
            let Some(&(_, ti)) = self.task_index.get(&r.task_key) else {
                continue;
            };
            let ti = ti as usize;
            let t = &mut s.tasks[ti];
            if let Some(g) = s.groups.get_mut(&group_key(&t.plan)) {
                uncount_result(g, r);
            }
            t.state = TState::Queued;
            t.attempts = 0;
            t.last_error = None;
            if t.plan.phase == Phase::Train {
                *s.train_open
                    .entry((t.plan.backbone, t.plan.arm))
                    .or_default() += 1;
            }
            self.pending.push(Mutation::DeleteResult {
                sweep_id: s.record.sweep_id.clone(),
                task_key: r.task_key.clone(),
            });
            self.pending.push(Mutation::PutProgress(TaskProgress {
                sweep_id: s.record.sweep_id.clone(),
                task_key: r.task_key.clone(),
                attempts: 0,
                last_error: None,
            }));
            requeue_back(s, ti);
        }
        info!(sweep = %s.record.sweep_id, tasks = failed.len(), "failed tasks queued again with a fresh attempt budget");
        self.work.notify_waiters();
        failed.len()
    }
}

pub(super) fn recover_expansion(rec: &SweepRecord) -> Result<ExpandedSweep, CoordinatorError> {
    let cfg = SweepConfig::from_toml_str(&rec.config_toml, &rec.origin)?;
    let sweep = cfg.validate(&rec.origin, PathBuf::from(&rec.base_dir))?;
    let exp = expand::expand(sweep, rec.config_toml.clone(), rec.origin.clone())?;
    for (name, was) in &rec.fingerprints {
        if let Some((i, _)) = exp
            .sweep
            .config
            .benchmarks
            .iter()
            .enumerate()
            .find(|(_, b)| &b.display_name() == name)
        {
            let now = &exp.datasets[i].fingerprint;
            if now != was {
                return Err(CoordinatorError::DatasetChanged {
                    sweep: rec.sweep_id.clone(),
                    benchmark: name.clone(),
                    was: was.clone(),
                    now: now.clone(),
                });
            }
        }
    }
    Ok(exp)
}
