//! The train-then-test barrier: once a train split is done its namespace is frozen and the
//! test split may be leased.

use super::*;

impl State {
    /// Freezes train-then-test namespaces whose training split is finished, opening their tests.
    pub(super) async fn check_barriers(&mut self) {
        let mut to_freeze = Vec::new();
        for (si, s) in self.sweeps.iter().enumerate() {
            if s.record.state != "running" {
                continue;
            }
            for (&(b, a), &open) in &s.train_open {
                let ns = namespace(
                    &s.record.sweep_id,
                    &s.sweep.config.arms[a as usize].name,
                    &s.sweep.config.backbones[b as usize].name,
                );
                if open == 0 && !s.record.frozen.contains(&ns) {
                    to_freeze.push((si, ns));
                }
            }
        }
        for (si, ns) in to_freeze {
            if let Some(actions) = &self.actions
                && let Err(e) = actions.freeze(&ns).await
            {
                warn!(namespace = %ns, error = %e, "failed to freeze the action library; test split stays blocked");
                continue;
            }
            let s = &mut self.sweeps[si];
            info!(namespace = %ns, "training split finished; library frozen; test split opens");
            s.record.frozen.push(ns.clone());
            self.pending.push(Mutation::PutSweep(s.record.clone()));
            s.events
                .send(event("phase", "", &format!("{ns}: test split opens"), None));
            self.work.notify_waiters();
        }
    }
}
