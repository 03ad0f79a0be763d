//! The bounded queue that carries an observation's notifications from a driver task to the
//! application.
//!
//! A driver must never wait on the application, and an application that stops reading must not
//! make the driver's memory grow. So the queue holds at most a fixed number of items; when it is
//! full, the **oldest** notification is dropped to make room. RFC 7641 §1.3 makes this the right
//! loss: an observer wants the resource's current state, and a newer notification supersedes an
//! older one. The number of dropped notifications is counted so the application can tell.
//!
//! The item that ends an observation (an error) is queued like a notification; since only older
//! items are ever dropped, the last item is always delivered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Notifications an observation queues by default before it drops the oldest.
pub const DEFAULT_NOTIFICATION_QUEUE: usize = 64;

struct State<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
    sender_alive: bool,
    receiver_alive: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code path panics while holding the lock; recover the state if one ever did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The driver's end.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The application's end.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue that holds at most `capacity` items (at least 1).
pub(crate) fn queue<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            sender_alive: true,
            receiver_alive: true,
        }),
        ready: Notify::new(),
    });
    (Sender { shared: shared.clone() }, Receiver { shared })
}

impl<T> Sender<T> {
    /// Queues `item`, dropping the oldest queued item if the queue is full. Gives the item back
    /// when the receiver is gone (the observation should then be cancelled).
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        {
            let mut state = self.shared.lock();
            if !state.receiver_alive {
                return Err(item);
            }
            if state.items.len() >= state.capacity {
                state.items.pop_front();
                state.dropped += 1;
            }
            state.items.push_back(item);
        }
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.lock().sender_alive = false;
        self.shared.ready.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the sender is gone and the queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        loop {
            {
                let mut state = self.shared.lock();
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if !state.sender_alive {
                    return None;
                }
            }
            // `notify_one` stores a permit when nobody waits, so a send between the check above
            // and this await is not missed.
            self.shared.ready.notified().await;
        }
    }

    /// How many items were dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// Changes the capacity (at least 1); if more items are queued, the oldest are dropped.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        let mut state = self.shared.lock();
        state.capacity = capacity.max(1);
        while state.items.len() > state.capacity {
            state.items.pop_front();
            state.dropped += 1;
        }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Receiver")
            .field("queued", &state.items.len())
            .field("capacity", &state.capacity)
            .field("dropped", &state.dropped)
            .finish()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        state.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_it() {
        let (tx, mut rx) = queue(3);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.dropped(), 7);
        drop(tx);
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        assert_eq!(got, [7, 8, 9], "the newest items survive, in order");
    }

    #[tokio::test]
    async fn the_last_item_before_the_end_is_always_delivered() {
        let (tx, mut rx) = queue::<Result<u32, &str>>(2);
        for i in 0..5 {
            tx.send(Ok(i)).unwrap();
        }
        tx.send(Err("ended")).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(Ok(4)));
        assert_eq!(rx.recv().await, Some(Err("ended")));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_each_send_and_for_the_end() {
        let (tx, mut rx) = queue(DEFAULT_NOTIFICATION_QUEUE);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                got.push(i);
            }
            got
        });
        for i in 0..100 {
            tx.send(i).unwrap();
            tokio::task::yield_now().await;
        }
        drop(tx);
        let got = reader.await.unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn send_fails_once_the_receiver_is_gone_and_shrinking_drops_the_oldest() {
        let (tx, rx) = queue(8);
        for i in 0..8 {
            tx.send(i).unwrap();
        }
        rx.set_capacity(2);
        assert_eq!(rx.dropped(), 6);
        drop(rx);
        assert_eq!(tx.send(9), Err(9));
    }
}
