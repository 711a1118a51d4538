//! Handing out work: leases (round-robin over a sweep's queues, per-backbone caps, the
//! train-then-test gate), heartbeats, expiry back to the queue, and cancellation.

use super::*;

impl State {
    pub(super) fn lease(&mut self, worker: &str, max: u32) -> Vec<Grant> {
        let mut grants = Vec::new();
        let now = now_ms();
        let lease_ms = self.settings.lease.as_millis() as u64;
        for si in 0..self.sweeps.len() {
            if grants.len() as u32 >= max {
                break;
            }
            if self.sweeps[si].record.state != "running" {
                continue;
            }
            let nq = self.sweeps[si].queues.len();
            let mut idle_rounds = 0;
            // Round-robin over the sweep's queues so every arm and backbone progresses.
            while (grants.len() as u32) < max && idle_rounds < nq {
                let s = &mut self.sweeps[si];
                let qi = s.rr % nq.max(1);
                s.rr = s.rr.wrapping_add(1);
                let q = &s.queues[qi];
                let backbone = &s.sweep.config.backbones[q.backbone as usize];
                let cap = backbone.max_concurrency.unwrap_or(u32::MAX);
                let running = self
                    .running_per_backbone
                    .get(&backbone.name)
                    .copied()
                    .unwrap_or(0);
                let blocked = q.phase == Phase::Test
                    && s.sweep.config.arms[q.arm as usize].accumulation
                        == Accumulation::TrainThenTest
                    && !s.record.frozen.contains(&namespace(
                        &s.record.sweep_id,
                        &s.sweep.config.arms[q.arm as usize].name,
                        &backbone.name,
                    ));
                if q.ready.is_empty() || running >= cap || blocked {
                    idle_rounds += 1;
                    continue;
                }
                idle_rounds = 0;
                let backbone_name = backbone.name.clone();
                let ti = s.queues[qi].ready.pop_front().expect("non-empty") as usize;
                // A late report can record a task while it waits in its queue (its lease
                // expired, e.g. across a coordinator restart): it stays queued until popped
                // here, and must never be leased again.
                if s.tasks[ti].state != TState::Queued {
                    continue;
                }
                self.next_lease += 1;
                let lease_id = format!("{:x}-{:x}", now, self.next_lease);
                let t = &mut s.tasks[ti];
                t.attempts += 1;
                let attempt = t.attempts;
                t.state = TState::Leased {
                    lease_id: lease_id.clone(),
                    worker: worker.to_string(),
                    attempt,
                    deadline_ms: now + lease_ms,
                    started_ms: now,
                };
                let plan = t.plan.clone();
                if let Some(g) = s.groups.get_mut(&group_key(&plan)) {
                    g.running += 1;
                }
                self.leases.insert(lease_id.clone(), (si as u32, ti as u32));
                *self.running_per_backbone.entry(backbone_name).or_default() += 1;
                let spec = build_spec(s, &plan, attempt);
                self.pending.push(Mutation::PutLease(LeaseRecord {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: plan.key.clone(),
                    lease_id: lease_id.clone(),
                    worker_id: worker.to_string(),
                    attempt,
                    deadline_unix_ms: now + lease_ms,
                    started_unix_ms: now,
                }));
                s.events.send(event(
                    "leased",
                    &plan.key,
                    &format!("attempt {attempt} on {worker}"),
                    None,
                ));
                grants.push(Grant {
                    lease_id,
                    sweep_id: s.record.sweep_id.clone(),
                    spec,
                    deadline_unix_ms: now + lease_ms,
                });
            }
        }
        grants
    }

    pub(super) fn heartbeat(&mut self, worker: &str, leases: &[String]) -> HeartbeatReply {
        let now = now_ms();
        let deadline = now + self.settings.lease.as_millis() as u64;
        let mut reply = HeartbeatReply {
            deadline_unix_ms: deadline,
            ..Default::default()
        };
        for l in leases {
            let Some(&(si, ti)) = self.leases.get(l) else {
                reply.lost.push(l.clone());
                continue;
            };
            let s = &mut self.sweeps[si as usize];
            let cancelled = s.record.state == "cancelled";
            match &mut s.tasks[ti as usize].state {
                TState::Leased {
                    worker: w,
                    deadline_ms,
                    ..
                } if w == worker => {
                    if cancelled {
                        reply.cancel.push(l.clone());
                    } else {
                        *deadline_ms = deadline;
                    }
                }
                _ => reply.lost.push(l.clone()),
            }
        }
        reply
    }

    /// One running task of this group and backbone is no longer running.
    pub(super) fn release_running(&mut self, si: usize, plan: &PlannedTask) {
        let s = &mut self.sweeps[si];
        if let Some(g) = s.groups.get_mut(&group_key(plan)) {
            g.running = g.running.saturating_sub(1);
        }
        let backbone = &s.sweep.config.backbones[plan.backbone as usize].name;
        if let Some(n) = self.running_per_backbone.get_mut(backbone) {
            *n = n.saturating_sub(1);
        }
    }

    /// Forgets the live lease of a task, if it has one.
    pub(super) fn clear_lease(&mut self, si: usize, ti: usize) {
        if let TState::Leased { lease_id, .. } = &self.sweeps[si].tasks[ti].state {
            self.leases.remove(lease_id);
        }
    }

    pub(super) fn expire(&mut self, now: u64) {
        let mut freed = false;
        let mut expired: Vec<(usize, usize)> = Vec::new();
        for &(si, ti) in self.leases.values() {
            if let TState::Leased { deadline_ms, .. } =
                self.sweeps[si as usize].tasks[ti as usize].state
                && deadline_ms <= now
            {
                expired.push((si as usize, ti as usize));
            }
        }
        expired.sort_unstable();
        {
            for (si, ti) in expired {
                self.clear_lease(si, ti);
                let s = &mut self.sweeps[si];
                let (worker, attempt, started) = match &s.tasks[ti].state {
                    TState::Leased {
                        worker,
                        attempt,
                        started_ms,
                        ..
                    } => (worker.clone(), *attempt, *started_ms),
                    _ => continue,
                };
                let plan = s.tasks[ti].plan.clone();
                let msg = format!("lease expired on worker {worker} (no heartbeat)");
                warn!(task = %plan.key, %worker, attempt, "lease expired; task goes back to the queue");
                let t = &mut s.tasks[ti];
                t.last_error = Some(msg.clone());
                let rec = AttemptRecord {
                    sweep: s.record.sweep_id.clone(),
                    task_key: plan.key.clone(),
                    attempt,
                    worker: worker.clone(),
                    disposition: "expired".into(),
                    end_reason: "lease-expired".into(),
                    error_kind: Some("lease-expired".into()),
                    error_message: Some(msg.clone()),
                    wall_ms: now.saturating_sub(started),
                    started_at: rfc3339(started),
                    finished_at: rfc3339(now),
                };
                s.attempts.push(rec.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(rec)));
                self.pending.push(Mutation::DeleteLease {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: plan.key.clone(),
                });
                let out_of_attempts = t.attempts >= s.sweep.config.limits.max_attempts;
                self.release_running(si, &plan);
                if out_of_attempts {
                    let r = Report {
                        worker_id: worker.clone(),
                        lease_id: String::new(),
                        task_key: plan.key.clone(),
                        attempt,
                        outcome: TaskOutcome::failure("lease-expired", msg.clone()),
                        hand_back: false,
                    };
                    self.finish(si, ti, &r, Status::Failed, now);
                } else {
                    let s = &mut self.sweeps[si];
                    s.tasks[ti].state = TState::Queued;
                    self.pending.push(Mutation::PutProgress(TaskProgress {
                        sweep_id: s.record.sweep_id.clone(),
                        task_key: plan.key.clone(),
                        attempts: s.tasks[ti].attempts,
                        last_error: Some(msg.clone()),
                    }));
                    requeue_front(s, ti);
                    s.events.send(event("requeued", &plan.key, &msg, None));
                }
                freed = true;
            }
        }
        if freed {
            self.work.notify_waiters();
        }
    }

    pub(super) fn cancel(&mut self, si: usize) -> u64 {
        let s = &mut self.sweeps[si];
        if s.record.state != "running" {
            return 0;
        }
        s.record.state = "cancelled".into();
        self.pending.push(Mutation::PutSweep(s.record.clone()));
        let leased = s
            .tasks
            .iter()
            .filter(|t| matches!(t.state, TState::Leased { .. }))
            .count() as u64;
        let status = self.status(si);
        self.sweeps[si].events.send(event(
            "cancelled",
            "",
            &format!("{leased} running tasks told to stop"),
            Some(status),
        ));
        leased
    }
}

pub(super) fn requeue_front(s: &mut SweepState, ti: usize) {
    queue_for(&mut s.queues, &s.tasks[ti].plan)
        .ready
        .push_front(ti as u32);
}

pub(super) fn requeue_back(s: &mut SweepState, ti: usize) {
    queue_for(&mut s.queues, &s.tasks[ti].plan)
        .ready
        .push_back(ti as u32);
}

/// The ready queue of `p`'s backbone, arm and phase, created if the sweep was installed with
/// none (every task of it was done, and `--retry-failed` queues one again).
fn queue_for<'a>(queues: &'a mut Vec<Queue>, p: &PlannedTask) -> &'a mut Queue {
    let i = match queues
        .iter()
        .position(|q| q.backbone == p.backbone && q.arm == p.arm && q.phase == p.phase)
    {
        Some(i) => i,
        None => {
            queues.push(Queue {
                backbone: p.backbone,
                arm: p.arm,
                phase: p.phase,
                ready: VecDeque::new(),
            });
            queues.len() - 1
        }
    };
    &mut queues[i]
}
