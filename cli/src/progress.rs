//! A sweep's progress while it runs: indicatif bars on a terminal, else a plain line every
//! few seconds, and whether output may carry colour. The closing summary is in
//! [`crate::summary`].

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use herd_proto::v1::{GroupStatus, SweepStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::summary::Counts;

/// Whether text written to a stream that `is_terminal` may carry ANSI colour: only on a
/// terminal, and never when `NO_COLOR` is set to a non-empty value (no-color.org).
pub fn colour(is_terminal: bool) -> bool {
    colour_with(is_terminal, std::env::var_os("NO_COLOR"))
}

fn colour_with(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// A plain progress line at most this often, and only when a count changed ...
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// ... or at least this often, so a quiet stretch still shows the run is alive.
const PLAIN_AT_LEAST: Duration = Duration::from_secs(30);

/// How progress is shown.
enum Display {
    /// indicatif bars on a terminal (stderr).
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
        groups: HashMap<String, ProgressBar>,
    },
    /// One plain line on stderr every few seconds (piped output, logs, `--no-progress`).
    Plain {
        printed: Option<(Instant, PlainKey)>,
    },
}

/// What a plain line reports; a new line is due when it changes.
type PlainKey = (u64, u64, u64, u64, u64, String);

fn plain_key(st: &SweepStatus) -> PlainKey {
    (
        st.done,
        st.total,
        st.running,
        st.scored,
        st.correct,
        st.phase.clone(),
    )
}

/// Whether a plain line is due at `now`, given when the last one was printed and whether
/// anything it reports changed since.
fn plain_due(now: Instant, last: Option<Instant>, changed: bool) -> bool {
    match last {
        None => true,
        Some(at) => {
            let age = now.saturating_duration_since(at);
            (changed && age >= PLAIN_EVERY) || age >= PLAIN_AT_LEAST
        }
    }
}

/// The plain progress line: done/total, running, correct so far, ETA.
pub fn plain_line(st: &SweepStatus) -> String {
    let mut s = format!(
        "herd: progress {}/{} done · {} running · {} correct of {} scored",
        st.done, st.total, st.running, st.correct, st.scored
    );
    if st.eta_secs > 0 {
        s.push_str(&format!(" · eta {}", fmt_secs(st.eta_secs)));
    }
    if !st.phase.is_empty() {
        s.push_str(&format!(" · phase {}", st.phase));
    }
    s
}

/// A sweep's live progress.
pub struct Progress {
    display: Display,
    latest: Option<SweepStatus>,
}

fn group_key(g: &GroupStatus) -> String {
    format!("{} · {} · {}", g.benchmark, g.backbone, g.arm_label())
}

impl Progress {
    /// Bars when stderr is a terminal and `plain` is not asked for; plain lines otherwise.
    pub fn new(plain: bool) -> Progress {
        let stderr = std::io::stderr();
        let display = if plain || !stderr.is_terminal() {
            Display::Plain { printed: None }
        } else {
            let colour = colour(true);
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(0));
            let template = if colour {
                "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {msg}"
            } else {
                "{prefix} [{bar:30}] {pos}/{len} {msg}"
            };
            overall.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            overall.set_prefix("all");
            Display::Bars {
                multi,
                overall,
                groups: HashMap::new(),
            }
        };
        Progress {
            display,
            latest: None,
        }
    }

    /// Shows a status snapshot (bars redraw; a plain line is printed when one is due).
    pub fn update(&mut self, st: &SweepStatus) {
        self.latest = Some(st.clone());
        match &mut self.display {
            Display::Plain { .. } => self.tick(),
            Display::Bars {
                multi,
                overall,
                groups,
            } => {
                overall.set_length(st.total);
                overall.set_position(st.done);
                let all = Counts::of(st.groups.iter());
                let mut msg = format!("running {} · {}", st.running, all.brief());
                msg.push_str(&format!(" · ${:.4}", st.cost_usd));
                if st.eta_secs > 0 {
                    msg.push_str(&format!(" · eta {}", fmt_secs(st.eta_secs)));
                }
                if !st.phase.is_empty() {
                    msg.push_str(&format!(" · phase {}", st.phase));
                }
                overall.set_message(msg);
                for g in &st.groups {
                    let key = group_key(g);
                    let bar = groups.entry(key.clone()).or_insert_with(|| {
                        let b = multi.add(ProgressBar::new(g.total));
                        b.set_style(
                            ProgressStyle::with_template("  {prefix} [{bar:20}] {pos}/{len} {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar())
                                .progress_chars("=> "),
                        );
                        b.set_prefix(key);
                        b
                    });
                    bar.set_length(g.total);
                    bar.set_position(g.done);
                    bar.set_message(format!(
                        "run {} · {} · ${:.4}",
                        g.running,
                        Counts::of(std::iter::once(g)).brief(),
                        g.cost_usd
                    ));
                }
            }
        }
    }

    /// Prints a plain line if one is due (call it every second or so).
    pub fn tick(&mut self) {
        let Display::Plain { printed } = &mut self.display else {
            return;
        };
        let Some(st) = &self.latest else { return };
        let key = plain_key(st);
        let now = Instant::now();
        let changed = printed.as_ref().is_none_or(|(_, k)| *k != key);
        if plain_due(now, printed.as_ref().map(|p| p.0), changed) {
            eprintln!("{}", plain_line(st));
            *printed = Some((now, key));
        }
    }

    /// Ends the display: bars are finished; plain output gets a last line if the final
    /// state was not printed yet.
    pub fn finish(&mut self) {
        match &mut self.display {
            Display::Bars {
                overall, groups, ..
            } => {
                for b in groups.values() {
                    b.finish();
                }
                overall.finish();
            }
            Display::Plain { printed } => {
                if let Some(st) = &self.latest {
                    let key = plain_key(st);
                    if printed.as_ref().is_none_or(|(_, k)| *k != key) {
                        eprintln!("{}", plain_line(st));
                        *printed = Some((Instant::now(), key));
                    }
                }
            }
        }
    }

    /// A message line above the bars, or on its own line.
    pub fn println(&self, msg: &str) {
        match &self.display {
            Display::Bars { multi, .. } => {
                let _ = multi.println(msg);
            }
            Display::Plain { .. } => eprintln!("{msg}"),
        }
    }
}

fn fmt_secs(s: u64) -> String {
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_shows_done_running_correct_and_eta() {
        let st = SweepStatus {
            total: 8,
            done: 3,
            running: 2,
            scored: 2,
            correct: 1,
            eta_secs: 75,
            ..Default::default()
        };
        assert_eq!(
            plain_line(&st),
            "herd: progress 3/8 done · 2 running · 1 correct of 2 scored · eta 1m15s"
        );
    }

    #[test]
    fn plain_lines_come_every_few_seconds_on_change_and_at_least_every_half_minute() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(
            plain_due(t0, None, false),
            "the first line is printed at once"
        );
        assert!(!plain_due(at(2), Some(t0), true), "not twice within 5 s");
        assert!(plain_due(at(5), Some(t0), true));
        assert!(!plain_due(at(20), Some(t0), false), "nothing changed");
        assert!(plain_due(at(30), Some(t0), false), "alive every 30 s");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_with(true, None));
        assert!(
            colour_with(true, Some("".into())),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour_with(true, Some("1".into())));
        assert!(!colour_with(false, None));
    }
}
