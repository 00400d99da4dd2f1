//! A member watches its head: the head answers every heartbeat, and a member that
//! hears nothing from it for its head timeout takes it for dead, says why and stops.
//! (A killed head's QUIC connection would otherwise only close after QUIC's 30 s idle
//! timeout.) The timeout must leave room for a few heartbeats, or a live head would
//! be taken for dead between two answers.

use super::{NodeOptions, stop_node};
use crate::head::NodeNet;
use crate::stream::{self, FrameReader};
use doreisa_core::CoreError;
use doreisa_core::runtime::worker::NodeShared;
use doreisa_proto::frame::FrameKind;
use doreisa_proto::wire::MembershipEvent;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// How long a member waits for word from its head by default.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable that sets [`NodeOptions::head_timeout`]'s default, in
/// milliseconds (for drivers started by programs that do not expose the option).
pub const HEAD_TIMEOUT_ENV: &str = "DOREISA_HEAD_TIMEOUT_MS";

/// The head timeout must be at least this many heartbeat periods: the head answers
/// each heartbeat, so a shorter one would take a live head for dead between answers.
pub const MIN_HEARTBEATS_PER_HEAD_TIMEOUT: u32 = 3;

/// [`DEFAULT_HEAD_TIMEOUT`], or the milliseconds of [`HEAD_TIMEOUT_ENV`] if it holds a
/// positive number (a value that does not is refused when the node joins: see
/// [`check`]).
pub(super) fn from_env() -> Duration {
    parse_env(std::env::var(HEAD_TIMEOUT_ENV).ok().as_deref())
        .ok()
        .flatten()
        .unwrap_or(DEFAULT_HEAD_TIMEOUT)
}

/// The head timeout `value` of [`HEAD_TIMEOUT_ENV`] gives (`None` when unset), or why
/// it is not one.
fn parse_env(value: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
        _ => Err(format!(
            "{HEAD_TIMEOUT_ENV}={value:?} is not a positive number of milliseconds"
        )),
    }
}

/// Refuses a joining node's head timeout that cannot work: a malformed
/// [`HEAD_TIMEOUT_ENV`], or a timeout shorter than
/// [`MIN_HEARTBEATS_PER_HEAD_TIMEOUT`] heartbeats.
pub(super) fn check(options: &NodeOptions) -> Result<(), CoreError> {
    parse_env(std::env::var(HEAD_TIMEOUT_ENV).ok().as_deref()).map_err(CoreError::Invalid)?;
    check_against_heartbeat(options.head_timeout, options.heartbeat)
}

fn check_against_heartbeat(head_timeout: Duration, heartbeat: Duration) -> Result<(), CoreError> {
    let least = heartbeat.saturating_mul(MIN_HEARTBEATS_PER_HEAD_TIMEOUT);
    if head_timeout < least {
        return Err(CoreError::Invalid(format!(
            "the head timeout ({} ms) must be at least {MIN_HEARTBEATS_PER_HEAD_TIMEOUT} \
             heartbeats ({} ms each): the head answers each heartbeat, so a live head \
             would be taken for dead",
            head_timeout.as_millis(),
            heartbeat.as_millis()
        )));
    }
    Ok(())
}

/// What a member knows to watch its head.
pub(super) struct HeadWatch {
    pub addr: SocketAddr,
    /// Silence from the head (no answer to our heartbeats) this long means it died.
    pub timeout: Duration,
    /// This node, told why it stops.
    pub node: Arc<NodeShared>,
}

/// A member follows the head's membership news and answers to its heartbeats; it
/// stops if it loses the head (its session fails, or the head says nothing for the
/// head timeout) or is declared dead, and says why.
pub(super) async fn follow_membership(net: Rc<NodeNet>, mut reader: FrameReader, head: HeadWatch) {
    let lost = |why: String| format!("lost the head at {}: {why}", head.addr);
    let reason = loop {
        let next = match tokio::time::timeout(head.timeout, reader.next()).await {
            Ok(next) => next,
            Err(_) => {
                break Some(lost(format!(
                    "no word from it for {:.1} s (the head timeout)",
                    head.timeout.as_secs_f64()
                )));
            }
        };
        match next {
            Ok(Some(frame)) if frame.kind == FrameKind::HeartbeatAck => {}
            Ok(Some(frame)) => {
                match stream::decode_frame::<MembershipEvent>(&frame, FrameKind::Membership) {
                    Ok(MembershipEvent::Left { node, .. }) if node == net.me => {
                        break Some(
                            "the head declared this node dead (it heard no heartbeat from it \
                             within its death timeout)"
                                .to_string(),
                        );
                    }
                    Ok(event) => net.apply(&event),
                    Err(e) => break Some(format!("bad membership news from the head: {e}")),
                }
            }
            Ok(None) | Err(_) if net.leaving.get() => break None,
            Ok(None) => break Some(lost("it closed our session".into())),
            Err(e) => break Some(lost(e)),
        }
    };
    if let Some(reason) = reason {
        tracing::error!(node = ?net.me, "{reason}: this node stops");
        head.node.stop_because(reason);
    }
    net.links.borrow_mut().close_all();
    stop_node(&net.inbox);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_gives_a_positive_number_of_milliseconds_or_an_error() {
        assert_eq!(parse_env(None), Ok(None));
        assert_eq!(
            parse_env(Some(" 2500 ")),
            Ok(Some(Duration::from_millis(2500)))
        );
        for bad in ["0", "-1", "5s", ""] {
            let error = parse_env(Some(bad)).unwrap_err();
            assert!(error.contains(HEAD_TIMEOUT_ENV), "{error}");
            assert!(error.contains("not a positive number"), "{error}");
        }
    }

    #[test]
    fn a_head_timeout_shorter_than_a_few_heartbeats_is_refused() {
        let ms = Duration::from_millis;
        assert!(check_against_heartbeat(ms(750), ms(250)).is_ok());
        assert!(check_against_heartbeat(DEFAULT_HEAD_TIMEOUT, ms(250)).is_ok());
        let error = check_against_heartbeat(ms(700), ms(250)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument: the head timeout (700 ms) must be at least 3 heartbeats \
             (250 ms each): the head answers each heartbeat, so a live head would be taken \
             for dead"
        );
    }
}
