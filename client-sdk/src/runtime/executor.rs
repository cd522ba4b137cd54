//! The SDK's own single-threaded executor: [`spawn`] runs a future in
//! microtasks (`queueMicrotask`), like `wasm_bindgen_futures::spawn_local`
//! but smaller in wasm: no `unsafe` waker (an `Arc` of the task's id; the
//! futures live in a thread-local list), one [`crate::runtime::callback::Callback`]
//! drains the run queue, and no `RefCell` panic path (see [`crate::runtime::cell`]).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use wasm_bindgen::prelude::*;

use crate::runtime::callback::{callback, Callback};
use crate::runtime::cell::Borrows;

type Job = Pin<Box<dyn Future<Output = ()>>>;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(f: &JsValue);
}

/// A task's waker: its id (ids are never reused, so a stale waker finds
/// nothing) and whether it already waits in the run queue.
struct TaskWaker {
    id: u64,
    queued: AtomicBool,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::Relaxed) {
            schedule(self.clone());
        }
    }
}

struct Executor {
    /// Spawned futures not finished yet (out of the list while polled).
    jobs: Vec<(u64, Job)>,
    ready: Vec<Arc<TaskWaker>>,
    next_id: u64,
    /// The microtask callback (made once, kept for the page's life).
    tick: Option<Callback>,
    tick_queued: bool,
}

thread_local! {
    static EXECUTOR: RefCell<Executor> = const {
        RefCell::new(Executor {
            jobs: Vec::new(),
            ready: Vec::new(),
            next_id: 0,
            tick: None,
            tick_queued: false,
        })
    };
}

fn with<R>(f: impl FnOnce(&mut Executor) -> R) -> R {
    EXECUTOR.with(|e| f(&mut e.write()))
}

/// Runs `fut` to completion in the background (first poll in a microtask).
pub(crate) fn spawn(fut: impl Future<Output = ()> + 'static) {
    spawn_boxed(Box::pin(fut));
}

#[inline(never)]
fn spawn_boxed(job: Job) {
    let id = with(|e| {
        let id = e.next_id;
        e.next_id += 1;
        e.jobs.push((id, job));
        id
    });
    schedule(Arc::new(TaskWaker {
        id,
        queued: AtomicBool::new(true),
    }));
}

fn schedule(task: Arc<TaskWaker>) {
    with(|e| {
        e.ready.push(task);
        if !e.tick_queued {
            e.tick_queued = true;
            let tick = e.tick.get_or_insert_with(|| callback(Box::new(|_| run())));
            queue_microtask(tick.as_ref());
        }
    });
}

/// Polls every task woken so far, in order, until none is left.
fn run() {
    loop {
        let ready = with(|e| {
            if e.ready.is_empty() {
                e.tick_queued = false;
            }
            std::mem::take(&mut e.ready)
        });
        if ready.is_empty() {
            return;
        }
        for task in ready {
            task.queued.store(false, Ordering::Relaxed);
            let job = with(|e| {
                let i = e.jobs.iter().position(|(id, _)| *id == task.id)?;
                Some(e.jobs.swap_remove(i).1)
            });
            let Some(mut job) = job else { continue };
            let waker = Waker::from(task.clone());
            if job
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
            {
                with(|e| e.jobs.push((task.id, job)));
            }
        }
    }
}
