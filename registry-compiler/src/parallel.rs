//! The one place work is split across threads. A worker that panics is reported as
//! [`Panicked`], never dropped: a lost chunk of validation would let an invalid registry pass.

use std::thread;

use crate::diagnostics::{Code, Diagnostic, Span};

/// A worker thread panicked; its results are lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Panicked;

impl Panicked {
    /// The internal-error diagnostic reporting that `what` did not finish.
    pub(crate) fn diagnostic(self, what: &str) -> Diagnostic {
        Diagnostic::error(
            Code::Internal,
            format!("internal error: {what} stopped with a panic, so the registry was not fully checked"),
            Span::default(),
        )
        .with_help("this is a bug in workerflow-registry; please report it with the registry that triggers it")
    }
}

/// How many threads [`map`] splits work across: the cores, at most eight.
pub(crate) fn threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// `f(index, item)` for every item, in order, on up to eight threads. Small inputs (under
/// `min_chunk` items per thread) are not worth a thread and run here.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    min_chunk: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Result<Vec<R>, Panicked> {
    map_with(items, min_chunk, || (), |(), index, item| f(index, item)).map(Ordered::into_vec)
}

/// [`map`] where each thread first makes its own `state` (a cache, say) and lends it to `f` for
/// every item of its chunk, so threads share nothing mutable. The results stay in the chunks
/// the threads made: for large results, one copy into a single `Vec` costs more than the
/// indexing.
pub(crate) fn map_with<T: Sync, S, R: Send>(
    items: &[T],
    min_chunk: usize,
    state: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, &T) -> R + Sync,
) -> Result<Ordered<R>, Panicked> {
    let chunk = items.len().div_ceil(threads()).max(min_chunk).max(1);
    let (f, state) = (&f, &state);
    thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| {
                scope.spawn(move || {
                    let mut state = state();
                    part.iter()
                        .enumerate()
                        .map(|(offset, item)| f(&mut state, n * chunk + offset, item))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        let mut parts = Vec::with_capacity(handles.len());
        let mut panicked = false;
        // Join every handle, even after a panic, so no thread outlives the scope unjoined.
        for handle in handles {
            match handle.join() {
                Ok(part) => parts.push(part),
                Err(_) => panicked = true,
            }
        }
        if panicked {
            Err(Panicked)
        } else {
            Ok(Ordered {
                chunk,
                len: items.len(),
                parts,
            })
        }
    })
}

/// The results of [`map_with`], in item order, in the chunks the threads made.
pub(crate) struct Ordered<R> {
    chunk: usize,
    len: usize,
    parts: Vec<Vec<R>>,
}

impl<R> Ordered<R> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut R> {
        self.parts.iter_mut().flatten()
    }

    pub(crate) fn into_vec(self) -> Vec<R> {
        let mut out = Vec::with_capacity(self.len);
        for part in self.parts {
            out.extend(part);
        }
        out
    }
}

impl<R> std::ops::Index<usize> for Ordered<R> {
    type Output = R;

    fn index(&self, index: usize) -> &R {
        &self.parts[index / self.chunk][index % self.chunk]
    }
}

/// Runs `side` on another thread while `main` runs on this one.
pub(crate) fn join<A: Send, B>(
    side: impl FnOnce() -> A + Send,
    main: impl FnOnce() -> B,
) -> (Result<A, Panicked>, B) {
    thread::scope(|scope| {
        let handle = scope.spawn(side);
        let b = main();
        (handle.join().map_err(|_| Panicked), b)
    })
}

/// Panics when the debug-build fault hook `WORKERFLOW_REGISTRY_PANIC_IN` names `site`, so tests
/// can check that a panicking worker fails the run through the real binary. Absent from release
/// builds.
pub(crate) fn fault_point(site: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("WORKERFLOW_REGISTRY_PANIC_IN").is_some_and(|value| value == site) {
        panic!("injected panic in {site}");
    }
    #[cfg(not(debug_assertions))]
    let _ = site;
}

#[cfg(test)]
mod tests {
    use super::{Panicked, join, map};

    #[test]
    fn results_keep_their_order() {
        let items: Vec<usize> = (0..10_000).collect();
        let doubled = map(&items, 16, |index, &item| {
            assert_eq!(index, item);
            item * 2
        });
        assert_eq!(doubled, Ok(items.iter().map(|i| i * 2).collect()));
    }

    #[test]
    fn chunked_results_are_indexed_in_item_order() {
        let items: Vec<usize> = (0..10_000).collect();
        let tripled = super::map_with(&items, 16, || 3, |k, _, &item| item * *k).unwrap();
        assert_eq!(tripled.len(), items.len());
        assert!(items.iter().all(|&i| tripled[i] == i * 3));
        assert_eq!(
            tripled.into_vec(),
            items.iter().map(|i| i * 3).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_panicking_worker_is_reported() {
        let items: Vec<usize> = (0..10_000).collect();
        let result = map(&items, 16, |_, &item| {
            assert!(item != 9_999, "worker fails on the last item");
            item
        });
        assert_eq!(result, Err(Panicked));
        let (side, main) = join(|| panic!("side fails"), || 7);
        assert_eq!((side, main), (Err(Panicked), 7));
    }
}
