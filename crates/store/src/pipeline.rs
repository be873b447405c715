//! Storing on a second thread: the caller decodes the next group of blocks while a store
//! thread applies the previous one (its segment's address dictionary, sort, file, fsync and
//! SQLite transaction), so a bulk ingest keeps both cores busy (issue 9 item 13).
//!
//! Jobs run on the store thread one at a time, in the order given. The first job that fails
//! stops the thread: the jobs queued behind it are dropped unapplied (each apply is
//! all-or-nothing, so nothing of a failed or dropped group is stored), and the caller gets
//! the error from its next [`Pipeline::submit`], [`Pipeline::wait`] or [`Pipeline::finish`].

use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::StoreError;

/// A job for the store thread.
type Job<'s, S, R> = Box<dyn FnOnce(&mut S) -> Result<R, StoreError> + Send + 's>;

/// Jobs queued beyond the one being applied: one group is applied, one waits, and the caller
/// builds the next (three groups in memory at most).
const QUEUED: usize = 1;

/// The caller's end of a store thread (see [`pipelined`]).
pub struct Pipeline<'s, S, R> {
    jobs: Option<SyncSender<Job<'s, S, R>>>,
    done: Receiver<Result<R, StoreError>>,
    in_flight: usize,
    ready: Vec<R>,
    failed: Option<StoreError>,
    stopped: bool,
}

/// Runs `body` with a [`Pipeline`] whose jobs run on a second thread with `store`, and waits
/// for that thread to end before returning `body`'s value. Jobs still queued when `body`
/// returns are applied; call [`Pipeline::finish`] in `body` to see their replies and errors.
pub fn pipelined<S: Send, R: Send, T>(
    store: &mut S,
    body: impl FnOnce(&mut Pipeline<'_, S, R>) -> T,
) -> T {
    std::thread::scope(|scope| {
        let (jobs, queue) = mpsc::sync_channel::<Job<'_, S, R>>(QUEUED);
        let (reply, done) = mpsc::channel();
        scope.spawn(move || {
            for job in queue {
                let r = job(&mut *store);
                let failed = r.is_err();
                if reply.send(r).is_err() || failed {
                    break;
                }
            }
        });
        let mut p = Pipeline {
            jobs: Some(jobs),
            done,
            in_flight: 0,
            ready: Vec::new(),
            failed: None,
            stopped: false,
        };
        body(&mut p)
    })
}

impl<'s, S, R> Pipeline<'s, S, R> {
    /// Queues `job` (waiting while the store thread is a job behind), after taking the
    /// replies of the jobs done so far (see [`Pipeline::replies`]).
    ///
    /// # Errors
    /// The error of an earlier job, once; [`StoreError::Stopped`] after that. `job` is not run
    /// then.
    pub fn submit(
        &mut self,
        job: impl FnOnce(&mut S) -> Result<R, StoreError> + Send + 's,
    ) -> Result<(), StoreError> {
        self.collect(false);
        self.check()?;
        let sent = match &self.jobs {
            Some(jobs) => jobs.send(Box::new(job)).is_ok(),
            None => false,
        };
        if !sent {
            // The thread stopped: its error is on the way (or already here).
            self.wait()?;
            self.stopped = true;
            return Err(StoreError::Stopped);
        }
        self.in_flight += 1;
        Ok(())
    }

    /// The replies of the jobs done so far, in order.
    pub fn replies(&mut self) -> std::vec::Drain<'_, R> {
        self.collect(false);
        self.ready.drain(..)
    }

    /// Waits until every job given so far is done; their replies are then in
    /// [`Pipeline::replies`].
    ///
    /// # Errors
    /// As [`Pipeline::submit`].
    pub fn wait(&mut self) -> Result<(), StoreError> {
        self.collect(true);
        self.check()
    }

    /// Waits for every job, ends the store thread and returns the replies not taken yet.
    ///
    /// # Errors
    /// As [`Pipeline::submit`].
    pub fn finish(&mut self) -> Result<Vec<R>, StoreError> {
        self.jobs = None;
        self.wait()?;
        Ok(self.ready.drain(..).collect())
    }

    /// Takes the replies that are in; with `block`, waits for every job in flight.
    fn collect(&mut self, block: bool) {
        while self.in_flight > 0 {
            let r = if block {
                match self.done.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            } else {
                match self.done.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            self.in_flight -= 1;
            match r {
                Ok(r) => self.ready.push(r),
                Err(e) => {
                    self.failed = Some(e);
                    self.jobs = None;
                    // The jobs queued behind the failed one are dropped unapplied.
                    self.in_flight = 0;
                }
            }
        }
    }

    fn check(&mut self) -> Result<(), StoreError> {
        if let Some(e) = self.failed.take() {
            self.stopped = true;
            return Err(e);
        }
        if self.stopped {
            return Err(StoreError::Stopped);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fail() -> StoreError {
        StoreError::NothingToRollBack {
            chain: floodgate_types::Chain::Bitcoin,
            height: 1,
            tip: None,
        }
    }

    /// Jobs run in order on the store, and their replies come back in order.
    #[test]
    fn jobs_run_in_order_and_reply_in_order() {
        let mut store: Vec<u32> = Vec::new();
        let replies = pipelined(&mut store, |p| {
            for i in 0..50u32 {
                p.submit(move |s: &mut Vec<u32>| {
                    s.push(i);
                    Ok(i * 2)
                })
                .unwrap();
            }
            p.finish().unwrap()
        });
        assert_eq!(store, (0..50).collect::<Vec<_>>());
        assert_eq!(replies, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }

    /// The first failing job stops the thread: nothing after it runs, and the caller gets
    /// that job's error, then `Stopped`.
    #[test]
    fn a_failed_job_stops_the_jobs_after_it() {
        let mut store: Vec<u32> = Vec::new();
        let (errors, stopped) = pipelined(&mut store, |p| {
            let mut errors = Vec::new();
            for i in 0..20u32 {
                let r = p.submit(move |s: &mut Vec<u32>| {
                    if i == 3 {
                        return Err(fail());
                    }
                    s.push(i);
                    Ok(())
                });
                if let Err(e) = r {
                    errors.push(e.to_string());
                    break;
                }
            }
            if errors.is_empty() {
                errors.push(p.wait().unwrap_err().to_string());
            }
            (errors, p.finish().unwrap_err())
        });
        assert_eq!(store, vec![0, 1, 2]);
        assert_eq!(errors, vec![fail().to_string()]);
        assert!(matches!(stopped, StoreError::Stopped));
    }
}
