//! Result intake: a report is recorded once per task (duplicates and stale reports are kept
//! as attempts), retried or failed by its attempt count, and scored into the task's result.

use super::*;

impl State {
    pub(super) fn report(
        &mut self,
        r: Report,
    ) -> Result<(Disposition, String, PathBuf), CoordinatorError> {
        let key = r.task_key.clone();
        let (d, m) = self.report_inner(r)?;
        let out = self
            .locate(&key)
            .map(|(si, _)| PathBuf::from(&self.sweeps[si].record.out_dir))
            .unwrap_or_default();
        Ok((d, m, out))
    }

    pub(super) fn report_inner(
        &mut self,
        r: Report,
    ) -> Result<(Disposition, String), CoordinatorError> {
        let (si, ti) = self
            .locate(&r.task_key)
            .ok_or_else(|| CoordinatorError::UnknownTask(r.task_key.clone()))?;
        let now = now_ms();
        let s = &mut self.sweeps[si];
        let plan = s.tasks[ti].plan.clone();
        // Does this report hold the live lease?
        let (holds, started_ms) = match &s.tasks[ti].state {
            TState::Leased {
                lease_id,
                started_ms,
                ..
            } => (lease_id == &r.lease_id, *started_ms),
            _ => (false, now.saturating_sub(r.outcome.metrics.wall_ms)),
        };
        let already_done = s.tasks[ti].state == TState::Done;
        let mut attempt = AttemptRecord {
            sweep: s.record.sweep_id.clone(),
            task_key: r.task_key.clone(),
            attempt: r.attempt,
            worker: r.worker_id.clone(),
            disposition: String::new(),
            end_reason: r.outcome.end.as_str().to_string(),
            error_kind: r.outcome.error.as_ref().map(|e| e.kind.clone()),
            error_message: r.outcome.error.as_ref().map(|e| e.message.clone()),
            wall_ms: r.outcome.metrics.wall_ms,
            started_at: rfc3339(started_ms),
            finished_at: rfc3339(now),
        };
        if already_done {
            attempt.disposition = "duplicate".into();
            s.attempts.push(attempt.clone());
            self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
            return Ok((
                Disposition::Duplicate,
                "the task already has a result; kept as an attempt".into(),
            ));
        }
        // Release the lease if this report holds it (or the task is leased to this report's
        // lease); a late report from an expired lease still counts when no result exists.
        let was_leased = matches!(s.tasks[ti].state, TState::Leased { .. });
        let transient = matches!(r.outcome.end, EndReason::Cancelled) || r.hand_back;
        let retryable_error = r.outcome.end == EndReason::Error;
        if transient || retryable_error {
            // Only the lease holder can give the task back.
            if !holds {
                let s = &mut self.sweeps[si];
                attempt.disposition = "stale".into();
                s.attempts.push(attempt.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
                return Ok((
                    Disposition::Duplicate,
                    "stale report: the lease is no longer held".into(),
                ));
            }
            self.release_running(si, &plan);
            self.clear_lease(si, ti);
            let s = &mut self.sweeps[si];
            let t = &mut s.tasks[ti];
            if transient {
                // Give back the attempt: a shutdown or cancel is not the task's fault.
                t.attempts = t.attempts.saturating_sub(1);
                t.state = TState::Queued;
                attempt.disposition = "released".into();
                s.attempts.push(attempt.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
                self.pending.push(Mutation::DeleteLease {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: r.task_key.clone(),
                });
                requeue_front(s, ti);
                self.work.notify_waiters();
                return Ok((Disposition::Released, "task handed back".into()));
            }
            let msg = r
                .outcome
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.kind, e.message))
                .unwrap_or_else(|| "error".into());
            t.last_error = Some(msg.clone());
            let max = s.sweep.config.limits.max_attempts;
            if t.attempts < max {
                t.state = TState::Queued;
                attempt.disposition = "requeued".into();
                self.pending.push(Mutation::PutProgress(TaskProgress {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: r.task_key.clone(),
                    attempts: t.attempts,
                    last_error: Some(msg.clone()),
                }));
                s.attempts.push(attempt.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
                self.pending.push(Mutation::DeleteLease {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: r.task_key.clone(),
                });
                requeue_back(s, ti);
                s.events.send(event("requeued", &r.task_key, &msg, None));
                self.work.notify_waiters();
                return Ok((
                    Disposition::Requeued,
                    format!("attempt failed ({msg}); queued again"),
                ));
            }
            // Out of attempts: record it failed, with its last error.
            let rec = self.finish(si, ti, &r, Status::Failed, now);
            let s = &mut self.sweeps[si];
            attempt.disposition = "recorded".into();
            s.attempts.push(attempt.clone());
            self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
            s.events.send(with_result(
                event("failed", &r.task_key, &msg, None),
                &s.events,
                &rec,
            ));
            return Ok((
                Disposition::Failed,
                format!("out of attempts; recorded as failed: {msg}"),
            ));
        }
        if was_leased {
            self.release_running(si, &plan);
            self.clear_lease(si, ti);
        }
        let status = match r.outcome.end {
            EndReason::Submitted => Status::Scored,
            EndReason::WallTime => Status::Timeout,
            EndReason::StepLimit
            | EndReason::PromptTokenBudget
            | EndReason::CompletionTokenBudget
            | EndReason::CostBudget => Status::Budget,
            EndReason::Error => Status::Failed,
            EndReason::Cancelled => Status::Cancelled,
        };
        // The attempt goes in before the result: finishing the last task exports the sweep's
        // outputs, which must hold this attempt too.
        attempt.disposition = if holds {
            "recorded".into()
        } else {
            "recorded-late".into()
        };
        self.sweeps[si].attempts.push(attempt.clone());
        self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
        self.finish(si, ti, &r, status, now);
        Ok((Disposition::Recorded, "recorded".into()))
    }

    /// Records a task's one result and updates counters, phase barriers and completion.
    pub(super) fn finish(
        &mut self,
        si: usize,
        ti: usize,
        r: &Report,
        status: Status,
        now: u64,
    ) -> ResultRecord {
        let s = &mut self.sweeps[si];
        let plan = s.tasks[ti].plan.clone();
        let ds = s.datasets[plan.bench as usize].clone();
        let item = item_of(&ds, &plan);
        let seq = s.record.next_seq;
        s.record.next_seq += 1;
        let rec = intake::result_record(intake::IntakeInput {
            sweep: &s.sweep,
            sweep_id: &s.record.sweep_id,
            dataset: &ds,
            item,
            plan: &plan,
            outcome: &r.outcome,
            status,
            worker: &r.worker_id,
            attempts: s.tasks[ti].attempts.max(r.attempt),
            last_error: s.tasks[ti].last_error.clone(),
            seq,
            finished_ms: now,
        });
        s.tasks[ti].state = TState::Done;
        let g = s.groups.entry(group_key(&plan)).or_default();
        count_result(g, &rec);
        s.finished_this_run += 1;
        if plan.phase == Phase::Train
            && let Some(n) = s.train_open.get_mut(&(plan.backbone, plan.arm))
        {
            *n = n.saturating_sub(1);
        }
        s.results.push(rec.clone());
        self.pending
            .push(Mutation::PutResult(Box::new(rec.clone())));
        self.pending.push(Mutation::DeleteLease {
            sweep_id: s.record.sweep_id.clone(),
            task_key: plan.key.clone(),
        });
        let msg = match rec.correct {
            Some(true) => "correct".to_string(),
            Some(false) => "wrong".to_string(),
            None => rec.status.clone(),
        };
        s.events.send(with_result(
            event("finished", &plan.key, &msg, None),
            &s.events,
            &rec,
        ));
        if s.results.len() == s.tasks.len() && s.record.state == "running" {
            s.record.state = "done".into();
            self.pending.push(Mutation::PutSweep(s.record.clone()));
            info!(sweep = %s.record.sweep_id, "sweep finished");
            let status = self.status(si);
            let job = self.export_job(si);
            let events = self.sweeps[si].events.clone();
            tokio::spawn(async move {
                let msg = match job.await {
                    Ok(p) => format!("outputs written to {}", p.display()),
                    Err(e) => format!("failed to write outputs: {e}"),
                };
                events.send(event("done", "", &msg, Some(status)));
            });
        } else {
            // The sweep record (its completion counter) is written once per commit.
            self.dirty.insert(si);
        }
        rec
    }
}

/// A "finished" or "failed" event carrying its result as JSON (built only when someone
/// watches the sweep).
fn with_result(mut ev: SweepEvent, feed: &Feed, rec: &ResultRecord) -> SweepEvent {
    if feed.watched() {
        match serde_json::to_vec(rec) {
            Ok(json) => ev.results_json = vec![json],
            Err(e) => {
                warn!(task = %rec.task_key, error = %e, "cannot encode a result for its watchers")
            }
        }
    }
    ev
}

/// Takes a result back out of its group's counts (a failed task queued again).
pub(super) fn uncount_result(g: &mut Group, r: &ResultRecord) {
    let mut one = Group::default();
    count_result(&mut one, r);
    g.done -= one.done;
    g.cost -= one.cost;
    g.scored -= one.scored;
    g.correct -= one.correct;
    g.failed -= one.failed;
    g.timeout -= one.timeout;
    g.budget -= one.budget;
    g.cancelled -= one.cancelled;
}

pub(super) fn count_result(g: &mut Group, r: &ResultRecord) {
    g.done += 1;
    g.cost += r.cost_usd;
    if r.status == Status::Scored.as_str() {
        if r.correct.is_some() {
            g.scored += 1;
        }
        if r.correct == Some(true) {
            g.correct += 1;
        }
    } else {
        g.failed += 1;
        let status = r.status.as_str();
        if status == Status::Timeout.as_str() {
            g.timeout += 1;
        } else if status == Status::Budget.as_str() {
            g.budget += 1;
        } else if status == Status::Cancelled.as_str() {
            g.cancelled += 1;
        }
    }
}
