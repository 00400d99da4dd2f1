//! What a node accepts before a peer proved it holds the cluster token, as plain state
//! (no sockets, no clocks: the caller passes the time): how many connections may be
//! open and how many may still be in their handshake, and how many refusals are
//! worth a log line.

/// Bytes a hello frame may have: a peer that has not proved anything yet cannot make
/// a node buffer more (a real hello is a few hundred bytes).
pub const MAX_HELLO_FRAME: usize = 4096;

/// Bounds on a node's incoming connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once (members, peers, status clients, handshakes).
    pub open: usize,
    /// Connections still in their handshake (not yet admitted) at once.
    pub handshaking: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        // Every other member of a 1024-node cluster may hold a connection to a node,
        // with room for drivers and status clients.
        ConnectionLimits {
            open: 4096,
            handshaking: 64,
        }
    }
}

/// A node's incoming connections, counted against its limits.
#[derive(Debug, Default)]
pub struct ConnectionCount {
    limits: ConnectionLimits,
    open: usize,
    handshaking: usize,
}

impl ConnectionCount {
    pub fn new(limits: ConnectionLimits) -> Self {
        ConnectionCount {
            limits,
            open: 0,
            handshaking: 0,
        }
    }

    /// A connection arrives: counted as open and handshaking, or refused and why.
    pub fn arrive(&mut self) -> Result<(), String> {
        if self.open >= self.limits.open {
            return Err(format!("{} connections are open already", self.open));
        }
        if self.handshaking >= self.limits.handshaking {
            return Err(format!(
                "{} connections are in their handshake already",
                self.handshaking
            ));
        }
        self.open += 1;
        self.handshaking += 1;
        Ok(())
    }

    /// A counted connection's handshake is over (admitted or not).
    pub fn handshake_over(&mut self) {
        self.handshaking = self.handshaking.saturating_sub(1);
    }

    /// A counted connection closed (after its handshake was over).
    pub fn closed(&mut self) {
        self.open = self.open.saturating_sub(1);
    }

    /// (open, handshaking).
    pub fn counts(&self) -> (usize, usize) {
        (self.open, self.handshaking)
    }
}

/// Refusal log lines shown per window; the others are counted and summed up once the
/// window is over.
pub const REFUSALS_SHOWN_PER_WINDOW: u32 = 5;

/// The window of [`REFUSALS_SHOWN_PER_WINDOW`].
pub const REFUSAL_WINDOW_MS: u64 = 10_000;

/// Decides which refusals get a log line: a flood of bad connections must not flood
/// the log.
#[derive(Debug, Default)]
pub struct RefusalLog {
    window_start_ms: Option<u64>,
    shown: u32,
    hidden: u64,
}

/// What to log for one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalNote {
    /// Log this refusal.
    pub show: bool,
    /// Refusals not logged in the window that just ended (log their number first).
    pub hidden_before: u64,
}

impl RefusalLog {
    /// A refusal at `now_ms`.
    pub fn note(&mut self, now_ms: u64) -> RefusalNote {
        let mut hidden_before = 0;
        let new_window = self
            .window_start_ms
            .is_none_or(|start| now_ms.saturating_sub(start) >= REFUSAL_WINDOW_MS);
        if new_window {
            hidden_before = std::mem::take(&mut self.hidden);
            self.window_start_ms = Some(now_ms);
            self.shown = 0;
        }
        let show = self.shown < REFUSALS_SHOWN_PER_WINDOW;
        if show {
            self.shown += 1;
        } else {
            self.hidden += 1;
        }
        RefusalNote {
            show,
            hidden_before,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_beyond_either_limit_are_refused_until_others_end() {
        let mut count = ConnectionCount::new(ConnectionLimits {
            open: 3,
            handshaking: 2,
        });
        assert!(count.arrive().is_ok());
        assert!(count.arrive().is_ok());
        let refused = count.arrive().unwrap_err();
        assert!(
            refused.contains("2 connections are in their handshake"),
            "{refused}"
        );
        count.handshake_over();
        assert!(count.arrive().is_ok());
        count.handshake_over();
        count.handshake_over();
        let refused = count.arrive().unwrap_err();
        assert!(refused.contains("3 connections are open"), "{refused}");
        count.closed();
        assert!(count.arrive().is_ok());
        assert_eq!(count.counts(), (3, 1));
    }

    #[test]
    fn a_flood_of_refusals_logs_a_few_lines_and_their_count() {
        let mut log = RefusalLog::default();
        let notes: Vec<RefusalNote> = (0..1000).map(|i| log.note(i)).collect();
        assert_eq!(
            notes.iter().filter(|n| n.show).count(),
            REFUSALS_SHOWN_PER_WINDOW as usize
        );
        assert!(notes.iter().all(|n| n.hidden_before == 0));
        let next = log.note(REFUSAL_WINDOW_MS + 5);
        assert_eq!(
            next,
            RefusalNote {
                show: true,
                hidden_before: 1000 - REFUSALS_SHOWN_PER_WINDOW as u64
            }
        );
        assert_eq!(log.note(REFUSAL_WINDOW_MS + 6).hidden_before, 0);
    }
}
