//! Mutexes a panic does not poison for everyone else: a bug that panics in one task while it
//! holds a lock (of the session's apps, the bus, a worker's pending calls) must not turn
//! every later `lock()` into a second panic and take every linked app down with it.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `lock()` that recovers the guard from a panic in another holder. The state behind ioctl's
/// locks is changed in single steps (an insert, a remove, a push), so what a panicking holder
/// left is still whole.
pub trait Locked<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `read()` and `write()` that recover the guard from a panic in another holder, as
/// [`Locked`] does for a mutex.
pub trait ReadWrite<T> {
    fn reading(&self) -> RwLockReadGuard<'_, T>;
    fn writing(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> ReadWrite<T> for RwLock<T> {
    fn reading(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn writing(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_holding_the_lock_does_not_break_the_next_holder() {
        let m = Mutex::new(vec![1]);
        let panicked = std::thread::scope(|s| {
            s.spawn(|| {
                let mut v = m.lock().unwrap();
                v.push(2);
                panic!("a bug while holding the lock");
            })
            .join()
            .is_err()
        });
        assert!(panicked && m.is_poisoned());
        m.locked().push(3);
        assert_eq!(*m.locked(), vec![1, 2, 3]);
    }

    #[test]
    fn a_panic_while_writing_does_not_break_the_next_reader() {
        let l = RwLock::new(1);
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _w = l.write().unwrap();
                panic!("a bug while writing");
            })
            .join()
        });
        assert!(l.is_poisoned());
        *l.writing() += 1;
        assert_eq!(*l.reading(), 2);
    }
}
