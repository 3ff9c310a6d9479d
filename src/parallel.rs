//! Independent work on every core: per-cluster rendering and RSA key generation.

/// Runs `work` on every job, on all cores, keeping the jobs' order in the results.
pub fn in_parallel<J: Sync, R: Send>(jobs: &[J], work: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len())
        .max(1);
    if workers == 1 {
        // One job (a small input) or one core: no thread is worth starting.
        return jobs.iter().map(work).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, R)>> =
        std::sync::Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = work(job);
                    results
                        .lock()
                        .expect("no panic while holding the lock")
                        .push((i, result));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("workers finished");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Frees `value` on a thread of its own. A run ends holding its inputs, index, plan and
/// template contexts: tens of MB in millions of small allocations, whose freeing took a
/// fifth of a one-cluster slice's time. Freed here, that work overlaps the host printing
/// the output, and a command-line host exits without waiting for it.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    // When no thread can be started, the failed spawn drops `value` on this thread.
    let _ = std::thread::Builder::new()
        .name("vmesh-free".into())
        .spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_job_order() {
        let jobs: Vec<u32> = (0..50).collect();
        assert_eq!(
            in_parallel(&jobs, |j| j * 2),
            jobs.iter().map(|j| j * 2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_value_dropped_in_the_background_is_dropped() {
        struct Signal(std::sync::mpsc::Sender<()>);
        impl Drop for Signal {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        drop_in_background(Signal(sender));
        receiver
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the value is dropped");
    }
}
