//! The DynaSaur agent loop: the model writes one thought and one Python cell per step, the
//! sandbox runs it, and the observation goes back, until `submit_final_answer` or a budget.
//! Functions from successful cells feed the action store through [`ActionSource`].

mod actions;
pub mod bench;
mod context;
mod host;
mod observe;
mod parse;
mod prelude;
mod prompt;
mod reformulate;
mod run;

pub use actions::{ActionSource, ActionView, NoActions};
pub use bench::{BenchOptions, bench_agent};
pub use context::{estimate_tokens, shorten_observation};
pub use observe::{sanitize_binary, truncate_middle};
pub use parse::{ParsedReply, parse_reply};
pub use prelude::HOST_CALL_PRIMITIVE;
pub use run::{AgentDeps, Clock, TokioClock, run_task};
