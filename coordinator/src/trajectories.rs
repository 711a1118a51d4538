//! Writes task trajectories (`<out>/trajectories/<key>.json.gz`) on one dedicated thread:
//! reports that arrive together never contend for the directory's lock (which made the
//! report path kernel-bound), and each caller still waits until its files are written.

use std::path::{Path, PathBuf};

use tokio::sync::oneshot;
use tracing::warn;

/// One trajectory to write: the sweep's output directory, the task key, the JSON.
pub type TrajectoryFile = (PathBuf, String, Vec<u8>);

struct Job {
    files: Vec<TrajectoryFile>,
    done: oneshot::Sender<()>,
}

/// A handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct TrajectoryWriter {
    tx: std::sync::mpsc::Sender<Job>,
}

impl TrajectoryWriter {
    /// Starts the writer thread. If the thread cannot start, the error is logged and each
    /// write says the trajectories were not written.
    pub fn start() -> TrajectoryWriter {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("herd-trajectories".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    for (dir, key, json) in job.files {
                        if let Err(e) = write_trajectory(&dir, &key, &json) {
                            warn!(task = %key, dir = %dir.display(), error = %e, "failed to write trajectory");
                        }
                    }
                    let _ = job.done.send(());
                }
            });
        if let Err(e) = started {
            warn!(error = %e, "failed to start the trajectory writer thread");
        }
        TrajectoryWriter { tx }
    }

    /// Writes the files (empty JSON is skipped) and returns once they are on disk. A failed
    /// write is logged, never fatal: the result itself is already durable.
    pub async fn write(&self, files: Vec<TrajectoryFile>) {
        let files: Vec<_> = files.into_iter().filter(|f| !f.2.is_empty()).collect();
        if files.is_empty() {
            return;
        }
        let (done, rx) = oneshot::channel();
        if self.tx.send(Job { files, done }).is_err() {
            warn!("the trajectory writer has stopped; trajectories not written");
            return;
        }
        let _ = rx.await;
    }
}

/// Writes one trajectory, gzip-compressed, atomically (temporary file, then rename).
pub fn write_trajectory(dir: &Path, key: &str, json: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tdir = dir.join("trajectories");
    std::fs::create_dir_all(&tdir)?;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(json)?;
    let bytes = enc.finish()?;
    crate::outputs::write_atomic(&tdir.join(format!("{key}.json.gz")), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_every_file_before_answering_and_skips_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        let w = TrajectoryWriter::start();
        let files = (0..50)
            .map(|i| {
                (
                    dir.path().to_path_buf(),
                    format!("t{i}"),
                    format!("{{\"n\":{i}}}").into_bytes(),
                )
            })
            .chain([(dir.path().to_path_buf(), "empty".to_string(), Vec::new())])
            .collect();
        w.write(files).await;
        let names = std::fs::read_dir(dir.path().join("trajectories"))
            .unwrap()
            .count();
        assert_eq!(
            names, 50,
            "50 trajectories, no empty one, no temporary file left"
        );
        let gz = std::fs::read(dir.path().join("trajectories/t7.json.gz")).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        assert_eq!(text, "{\"n\":7}");
    }
}
