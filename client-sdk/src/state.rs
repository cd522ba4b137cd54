//! Connection and room state machines: one place changes state, and a
//! change is reported only when the state really changed.

use std::time::Duration;

/// State of a [`crate::Socket`] / [`crate::Client`] connection.
///
/// `Connecting → Open → Reconnecting { .. } → Connecting → Open → … → Closed`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening a WebSocket (first connect or a retry in progress).
    Connecting,
    /// The WebSocket is open.
    Open,
    /// Waiting `retry_in` before attempt number `attempt`.
    Reconnecting {
        /// Attempt number, 1-based; restarts after a stable connection.
        attempt: u32,
        /// Delay before that attempt.
        retry_in: Duration,
    },
    /// Closed for good: `close()` was called (code 1000), the server closed
    /// with a code that forbids reconnecting, or `max_attempts` ran out.
    Closed {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

impl ConnectionState {
    /// Short name (`"connecting"`, `"open"`, `"reconnecting"`, `"closed"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Closed { .. } => "closed",
        }
    }
}

/// State of one joined [`crate::Room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RoomState {
    /// Join sent (or waiting for the connection to send it; also after a
    /// reconnect until the re-join is confirmed).
    Joining,
    /// Joined: messages and presence flow.
    Joined,
    /// Leave sent.
    Leaving,
    /// Left for good.
    Left,
    /// The server refused the join (see the room's last error).
    Errored,
}

impl RoomState {
    /// Short name (`"joining"`, `"joined"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Joining => "joining",
            Self::Joined => "joined",
            Self::Leaving => "leaving",
            Self::Left => "left",
            Self::Errored => "errored",
        }
    }
}

/// States with a terminal value that no transition leaves.
pub(crate) trait Lifecycle: Clone + PartialEq {
    /// Whether no transition may leave this state.
    fn is_terminal(&self) -> bool;
}

impl Lifecycle for ConnectionState {
    fn is_terminal(&self) -> bool {
        matches!(self, Self::Closed { .. })
    }
}

impl Lifecycle for RoomState {
    fn is_terminal(&self) -> bool {
        matches!(self, Self::Left)
    }
}

/// Holds a state; [`StateMachine::set`] is the only way to change it.
#[derive(Debug, Clone)]
pub(crate) struct StateMachine<S> {
    state: S,
}

impl<S: Lifecycle> StateMachine<S> {
    /// Starts in `initial`.
    pub(crate) fn new(initial: S) -> Self {
        Self { state: initial }
    }

    /// Current state.
    pub(crate) fn get(&self) -> &S {
        &self.state
    }

    /// Moves to `new`; returns `(old, new)` when the state changed, `None`
    /// when it was equal or the current state is terminal.
    pub(crate) fn set(&mut self, new: S) -> Option<(S, S)> {
        if self.state == new || self.state.is_terminal() {
            return None;
        }
        let old = std::mem::replace(&mut self.state, new.clone());
        Some((old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_returns_old_and_new_only_on_a_change() {
        let mut s = StateMachine::new(ConnectionState::Connecting);
        assert_eq!(
            s.set(ConnectionState::Open),
            Some((ConnectionState::Connecting, ConnectionState::Open))
        );
        assert_eq!(s.set(ConnectionState::Open), None); // no change, no event
    }

    #[test]
    fn connection_lifecycle_reports_changes_only() {
        let mut s = StateMachine::new(ConnectionState::Connecting);
        let mut events = Vec::new();
        let steps = [
            ConnectionState::Connecting,
            ConnectionState::Open,
            ConnectionState::Open,
            ConnectionState::Reconnecting {
                attempt: 1,
                retry_in: Duration::from_millis(250),
            },
            ConnectionState::Reconnecting {
                attempt: 1,
                retry_in: Duration::from_millis(250),
            },
            ConnectionState::Reconnecting {
                attempt: 2,
                retry_in: Duration::from_millis(400),
            },
            ConnectionState::Connecting,
            ConnectionState::Open,
            ConnectionState::Closed {
                code: 1000,
                reason: String::new(),
            },
            ConnectionState::Open,
            ConnectionState::Connecting,
        ];
        for st in steps {
            if let Some((_, new)) = s.set(st) {
                events.push(new.name());
            }
        }
        assert_eq!(
            events,
            [
                "open",
                "reconnecting",
                "reconnecting",
                "connecting",
                "open",
                "closed"
            ]
        );
        assert_eq!(s.get().name(), "closed");
    }

    #[test]
    fn room_left_is_terminal() {
        let mut r = StateMachine::new(RoomState::Joining);
        assert!(r.set(RoomState::Joined).is_some());
        assert!(r.set(RoomState::Joining).is_some());
        assert!(r.set(RoomState::Errored).is_some());
        assert!(r.set(RoomState::Joining).is_some());
        assert!(r.set(RoomState::Leaving).is_some());
        assert_eq!(
            r.set(RoomState::Left),
            Some((RoomState::Leaving, RoomState::Left))
        );
        assert_eq!(r.set(RoomState::Joined), None);
        assert_eq!(*r.get(), RoomState::Left);
    }
}
