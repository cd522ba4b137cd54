//! Per-room resume position and duplicate filter, keyed by (room, offset).

use confab_protocol::Position;

/// What a `joined` reply means for the messages the app has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// First join of this room: nothing to resume.
    Fresh,
    /// Resumed without a hole.
    Recovered,
    /// The server could not fill the gap (history trimmed or lost, e.g. a
    /// restarted in-memory server): the app must be told.
    Gap,
}

/// Tracks the last `{epoch, offset}` seen in one room. Messages are accepted
/// once each, in increasing offset order; duplicates (same or older offset
/// in the same epoch) are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RoomCursor {
    epoch: Option<String>,
    offset: u64,
}

impl RoomCursor {
    /// The position to send as the join's `since` (None before the first
    /// `joined`).
    pub(crate) fn since(&self) -> Option<Position> {
        self.epoch.as_ref().map(|epoch| Position {
            epoch: epoch.clone(),
            offset: self.offset,
        })
    }

    /// Applies a `joined` reply (`epoch`, `recovered`) and classifies it.
    /// A new epoch restarts offsets: everything in it is new to us.
    pub(crate) fn joined(&mut self, epoch: &str, recovered: bool) -> Resume {
        let first = self.epoch.is_none();
        if self.epoch.as_deref() != Some(epoch) {
            self.epoch = Some(epoch.to_owned());
            self.offset = 0;
        }
        match (first, recovered) {
            (true, _) => Resume::Fresh,
            (false, true) => Resume::Recovered,
            (false, false) => Resume::Gap,
        }
    }

    /// Whether a message at `offset` (of the current epoch) is new; if so
    /// it becomes the last seen position.
    pub(crate) fn accept(&mut self, offset: u64) -> bool {
        if offset <= self.offset {
            return false;
        }
        self.offset = offset;
        true
    }

    /// Last offset accepted in the current epoch (0 = none).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_tracks_position() {
        let mut c = RoomCursor::default();
        assert_eq!(c.since(), None);
        assert_eq!(c.joined("a", false), Resume::Fresh);
        let got: Vec<u64> = [1, 2, 2, 3, 1, 5, 4, 6]
            .into_iter()
            .filter(|&o| c.accept(o))
            .collect();
        assert_eq!(got, [1, 2, 3, 5, 6]);
        assert_eq!(
            c.since(),
            Some(Position {
                epoch: "a".into(),
                offset: 6
            })
        );
    }

    #[test]
    fn resume_same_epoch_keeps_offset_and_drops_replayed() {
        let mut c = RoomCursor::default();
        c.joined("a", false);
        assert!(c.accept(1) && c.accept(2));
        // Re-join: the server replays 2 (overlap) and 3.
        assert_eq!(c.joined("a", true), Resume::Recovered);
        assert!(!c.accept(2));
        assert!(c.accept(3));
        // Same epoch but the server trimmed history: a gap, offsets continue.
        assert_eq!(c.joined("a", false), Resume::Gap);
        assert!(!c.accept(3));
        assert!(c.accept(9));
    }

    #[test]
    fn new_epoch_is_a_gap_and_restarts_offsets() {
        let mut c = RoomCursor::default();
        c.joined("a", false);
        assert!(c.accept(7));
        assert_eq!(c.joined("b", false), Resume::Gap);
        assert_eq!(c.offset(), 0);
        assert!(c.accept(1));
        assert_eq!(c.since().map(|p| p.epoch), Some("b".to_owned()));
    }
}
