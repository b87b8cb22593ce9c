//! A transcript being recorded, kept whole or bounded (its first and last events), so that a
//! long-running server stays in bounded memory however long a connection lasts.

use std::collections::VecDeque;

use super::{Event, Transcript};

/// A transcript being recorded: kept whole, or bounded to its first `limit / 2` and last
/// `limit / 2` events (what lies between is counted, and shown as [`Event::Omitted`]), so that
/// a connection carrying any number of messages takes bounded memory.
#[derive(Clone, Debug)]
pub struct Recording {
    transcript: Transcript,
    limit: Option<usize>,
    tail: VecDeque<Event>,
    omitted: u64,
}

impl Recording {
    /// Records connection number `session`, keeping at most `limit` events (`None`: all).
    pub fn new(session: u64, limit: Option<usize>) -> Self {
        Recording {
            transcript: Transcript::new(session),
            limit,
            tail: VecDeque::new(),
            omitted: 0,
        }
    }

    /// `false` when nothing is kept (a limit of 0): callers may skip making events.
    pub fn keeps_events(&self) -> bool {
        self.limit != Some(0)
    }

    /// Records an event (or counts it, once the head is full). The close is always kept.
    pub fn push(&mut self, event: Event) {
        let Some(limit) = self.limit else {
            self.transcript.push(event);
            return;
        };
        if let Event::Closed { .. } = event {
            self.tail.push_back(event);
            return;
        }
        let head = limit.div_ceil(2);
        if self.transcript.events.len() < head {
            self.transcript.push(event);
            return;
        }
        self.tail.push_back(event);
        if self.tail.len() > limit - head {
            self.tail.pop_front();
            self.omitted += 1;
        }
    }

    /// The transcript: the head, what was left out, the tail.
    pub fn finish(mut self) -> Transcript {
        if self.omitted > 0 {
            self.transcript.push(Event::Omitted {
                events: self.omitted,
            });
        }
        self.transcript.events.extend(self.tail);
        self.transcript
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Closer;

    #[test]
    fn a_bounded_recording_keeps_the_first_and_last_events_and_counts_the_rest() {
        let mut r = Recording::new(1, Some(4));
        for i in 0..100u8 {
            r.push(Event::Server(vec![i]));
        }
        let t = r.finish();
        let kept: Vec<Event> = t.events;
        assert_eq!(
            kept,
            [
                Event::Server(vec![0]),
                Event::Server(vec![1]),
                Event::Omitted { events: 96 },
                Event::Server(vec![98]),
                Event::Server(vec![99]),
            ]
        );
        let mut none = Recording::new(1, Some(0));
        assert!(!none.keeps_events());
        none.push(Event::Server(vec![1]));
        let closed = Event::Closed {
            by: Closer::Client,
            reason: None,
        };
        none.push(closed.clone());
        let t = none.finish();
        assert_eq!(t.events, [Event::Omitted { events: 1 }, closed]);
        assert_eq!(t.closed_by(), Some(Closer::Client));
        let mut all = Recording::new(1, None);
        (0..10u8).for_each(|i| all.push(Event::Server(vec![i])));
        assert_eq!(all.finish().events.len(), 10);
    }
}
