//! The bridge and its clients against a fake session: the link records what would be
//! sent to the node's gate, its scheduling actor and the coordinator, and the test
//! plays the coordinator, handing the bridge its notices (the analytics' progress,
//! steering answers). No runtime: chunks are held as bytes.

use super::*;
use crate::client::{Client, Published};
use crate::comm::ThreadGroup;
use crate::decl::ArrayMeta;
use crate::error::InsituError;
use doreisa_array::{Chunk, DType};
use ndarray::{ArrayD, IxDyn};
use std::collections::BTreeMap;
use std::sync::{OnceLock, Weak};
use std::time::Instant;

/// The session a fake link stands for: what was sent, the steering values set, the
/// questions waiting for one, and the bridge to hand notices to.
#[derive(Default)]
struct FakeSession {
    sent: Mutex<Vec<String>>,
    values: Mutex<BTreeMap<(String, i64), Vec<u8>>>,
    watching: Mutex<Vec<(String, i64)>>,
    progress: Mutex<(u64, Progress)>,
    bridge: OnceLock<Weak<Bridge>>,
}

impl FakeSession {
    fn sent(&self) -> Vec<String> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    fn notify(&self, notice: Notice) {
        if let Some(bridge) = self.bridge.get().and_then(Weak::upgrade) {
            bridge.receive(notice);
        }
    }

    /// The analytics is at `progress` (told to the bridge, as the coordinator does).
    fn progress(&self, progress: Progress) {
        let seq = {
            let mut current = self.progress.lock().unwrap();
            *current = (current.0 + 1, progress);
            current.0
        };
        self.notify(Notice::Progress { seq, progress });
    }

    fn running(&self, done: Option<i64>) {
        self.progress(Progress {
            done,
            running: true,
            ..Default::default()
        });
    }

    /// The analytics sets `key` to `value` at `timestep`: the questions waiting for it
    /// are answered.
    fn set(&self, key: &str, timestep: i64, value: i64) {
        let bytes = crate::client::encode_value(&value).unwrap();
        self.values
            .lock()
            .unwrap()
            .insert((key.to_string(), timestep), bytes.clone());
        let waiting = std::mem::take(&mut *self.watching.lock().unwrap());
        for (k, t) in waiting {
            if k == key && t == timestep {
                self.answer(k, t, Some(bytes.clone()));
            } else {
                self.watching.lock().unwrap().push((k, t));
            }
        }
    }

    fn answer(&self, key: String, timestep: i64, value: Option<Vec<u8>>) {
        self.notify(Notice::Feedback {
            key,
            timestep,
            value,
        });
    }
}

/// The link of a bridge to a [`FakeSession`].
struct FakeLink(Arc<FakeSession>);

impl BridgeLink for FakeLink {
    fn send(&self, action: state::Action<Held>) -> Result<()> {
        use state::Action;
        let line = match action {
            Action::Declare { rank, .. } => format!("declare {rank}"),
            Action::Label { rank, label } => format!("label {rank} {label}"),
            Action::HandOver(chunks) => {
                let keys: Vec<String> = chunks
                    .iter()
                    .map(|(key, _)| format!("{:?}@{}", key.chunk, key.timestep))
                    .collect();
                format!("hand over {}", keys.join(" "))
            }
            Action::Report { through, .. } => format!("report {through}"),
            Action::RankClosed { rank, last } => format!("closed {rank} {last:?}"),
            Action::Leave { last } => format!("leave {last:?}"),
            Action::SkipBelow(timestep) => format!("skip below {timestep}"),
            Action::WatchFeedback { key, timestep } => {
                let known = self
                    .0
                    .values
                    .lock()
                    .unwrap()
                    .get(&(key.clone(), timestep))
                    .cloned();
                let line = format!("watch {key} {timestep}");
                match known {
                    Some(value) => self.0.answer(key, timestep, Some(value)),
                    None => self.0.watching.lock().unwrap().push((key, timestep)),
                }
                line
            }
        };
        self.0.sent.lock().unwrap().push(line);
        Ok(())
    }

    fn feedback(
        &self,
        key: &str,
        timestep: Option<i64>,
        _within: Duration,
    ) -> Result<Option<(i64, Vec<u8>)>> {
        let values = self.0.values.lock().unwrap();
        let mut of_key = values.iter().filter(|((k, _), _)| k == key);
        let found = match timestep {
            Some(t) => of_key.find(|((_, at), _)| *at == t),
            None => of_key.next_back(),
        };
        Ok(found.map(|((_, t), v)| (*t, v.clone())))
    }

    fn progress(&self, _within: Duration) -> Result<Progress> {
        Ok(self.0.progress.lock().unwrap().1)
    }

    fn store(&self, bytes: bytes::Bytes) -> Result<Held> {
        Ok(Held::Bytes(Blob(bytes)))
    }

    fn store_with(&self, len: usize, write: &mut dyn FnMut(&mut Vec<u8>)) -> Result<Held> {
        let mut out = Vec::with_capacity(len);
        write(&mut out);
        Ok(Held::Bytes(Blob(out.into())))
    }

    fn store_slice(&self, data: &[u8]) -> Result<Held> {
        Ok(Held::Bytes(Blob(bytes::Bytes::copy_from_slice(data))))
    }

    fn worker(&self) -> Option<&Worker> {
        None
    }
}

/// A bridge for `ranks` ranks, on a fake session.
fn fake(ranks: usize, options: BridgeOptions) -> (Arc<Bridge>, Arc<FakeSession>) {
    let session = Arc::new(FakeSession::default());
    let bridge = Bridge::with_link(ranks, options, Box::new(FakeLink(session.clone())));
    session.bridge.set(Arc::downgrade(&bridge)).unwrap();
    (bridge, session)
}

/// Rank `rank`'s chunk of "a", a 1 x `ranks` grid.
fn published(rank: u32, ranks: usize) -> Vec<Published> {
    let meta = ArrayMeta::new("a", &[1, ranks], &[1, 1], DType::I32);
    vec![Published::new(meta, &[0, rank]).unwrap()]
}

fn value(timestep: i64) -> Chunk {
    Chunk::from(ArrayD::from_elem(IxDyn(&[1, 1]), timestep as i32))
}

fn options(max_ahead: i64, policy: AheadPolicy) -> BridgeOptions {
    BridgeOptions {
        max_ahead,
        policy,
        ..Default::default()
    }
}

#[test]
fn ranks_joining_late_hold_the_first_iterations_back_which_then_leave_whole() {
    let (bridge, session) = fake(2, BridgeOptions::default());
    let mut early = Client::new(bridge.clone(), published(0, 2)).unwrap();
    for t in 0..3 {
        assert!(early.publish_chunk("a", t, value(t)).unwrap());
    }
    assert_eq!(
        session.sent(),
        ["declare 0"],
        "rank 1 may still publish them"
    );
    let mut late = Client::new(bridge.clone(), published(1, 2)).unwrap();
    for t in 0..3 {
        assert!(late.publish_chunk("a", t, value(t)).unwrap());
    }
    late.close(2).unwrap();
    early.close(2).unwrap();
    assert_eq!(
        session.sent(),
        [
            "declare 1",
            "report -1",
            "hand over [0, 0]@0 [0, 1]@0",
            "report 0",
            "hand over [0, 0]@1 [0, 1]@1",
            "report 1",
            "hand over [0, 0]@2 [0, 1]@2",
            "report 2",
            "closed 1 Some(2)",
            "closed 0 Some(2)",
            "report 9223372036854775807",
            "leave Some(2)"
        ]
    );
}

#[test]
fn a_rank_dying_is_told_and_the_others_go_on_without_it() {
    let (bridge, session) = fake(2, BridgeOptions::default());
    let mut survivor = Client::new(bridge.clone(), published(0, 2)).unwrap();
    let dying = bridge.clone();
    let died = std::thread::spawn(move || {
        let mut client = Client::new(dying, published(1, 2)).unwrap();
        for t in 0..2 {
            client.publish_chunk("a", t, value(t)).unwrap();
        }
        panic!("rank 1 dies after timestep 1");
    })
    .join();
    assert!(died.is_err());
    for t in 0..4 {
        assert!(survivor.publish_chunk("a", t, value(t)).unwrap());
    }
    survivor.close(3).unwrap();
    let sent = session.sent();
    let hand_overs: Vec<&String> = sent.iter().filter(|s| s.starts_with("hand")).collect();
    assert_eq!(
        hand_overs,
        [
            "hand over [0, 1]@0 [0, 0]@0",
            "hand over [0, 1]@1 [0, 0]@1",
            "hand over [0, 0]@2",
            "hand over [0, 0]@3"
        ]
    );
    assert!(sent.contains(&"closed 1 Some(1)".to_string()), "{sent:?}");
    assert_eq!(sent.last().map(String::as_str), Some("leave Some(3)"));
}

#[test]
fn uneven_steering_reads_get_their_own_timesteps_and_share_one_question() {
    let ranks = 3;
    let (bridge, session) = fake(ranks, BridgeOptions::default());
    let group = ThreadGroup::new(ranks);
    let readers: Vec<_> = (0..ranks)
        .map(|rank| {
            let bridge = bridge.clone();
            let comm = group.rank(rank);
            std::thread::spawn(move || {
                let client = Client::new(bridge, published(rank as u32, ranks))
                    .unwrap()
                    .with_communicator(comm);
                // Rank r reads every (r + 1)th timestep: the reads do not pair up.
                let mut read = Vec::new();
                for t in (0..10).filter(|t| t % (rank as i64 + 1) == 0) {
                    let v: i64 = client.get_at("k", t, Duration::from_secs(30), -1).unwrap();
                    read.push((t, v));
                }
                read
            })
        })
        .collect();
    for t in 0..10 {
        std::thread::sleep(Duration::from_millis(2));
        session.set("k", t, 100 * t + 1);
    }
    for (rank, reader) in readers.into_iter().enumerate() {
        let read = reader.join().unwrap();
        assert_eq!(read.len(), (0..10).filter(|t| t % (rank + 1) == 0).count());
        for (t, v) in read {
            assert_eq!(v, 100 * t + 1, "rank {rank} at timestep {t}");
        }
    }
    let watches: Vec<String> = session
        .sent()
        .into_iter()
        .filter(|s| s.starts_with("watch"))
        .collect();
    let mut unique = watches.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        watches.len(),
        unique.len(),
        "one question per timestep: {watches:?}"
    );
}

#[test]
fn block_waits_for_news_of_the_analytics_not_for_a_clock() {
    let (bridge, session) = fake(1, options(1, AheadPolicy::Block));
    session.running(None);
    let told = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = told.clone();
    let rank = std::thread::spawn(move || {
        let mut client = Client::new(bridge, published(0, 1)).unwrap();
        assert!(client.publish_chunk("a", 0, value(0)).unwrap());
        // 0 is not done: timestep 1 waits until the analytics says it is.
        assert!(client.publish_chunk("a", 1, value(1)).unwrap());
        let waited = seen.load(std::sync::atomic::Ordering::SeqCst);
        client.close(1).unwrap();
        waited
    });
    // Timestep 0 left when the rank began timestep 1, before it waited.
    let start = Instant::now();
    while !session
        .sent
        .lock()
        .unwrap()
        .contains(&"report 0".to_string())
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timestep 0 never left"
        );
        std::thread::yield_now();
    }
    told.store(true, std::sync::atomic::Ordering::SeqCst);
    session.running(Some(0));
    assert!(
        rank.join().unwrap(),
        "timestep 1 went before the analytics did 0"
    );
}

#[test]
fn drop_newest_drops_the_chunk_and_drop_oldest_has_the_analytics_skip() {
    let (bridge, session) = fake(1, options(1, AheadPolicy::DropNewest));
    session.running(None);
    let mut client = Client::new(bridge, published(0, 1)).unwrap();
    assert!(client.publish_chunk("a", 0, value(0)).unwrap());
    assert!(!client.publish_chunk("a", 1, value(1)).unwrap(), "dropped");
    client.close(1).unwrap();
    assert_eq!((client.stats().published, client.stats().dropped), (1, 1));
    let sent = session.sent();
    assert!(!sent.iter().any(|s| s.contains("@1")), "{sent:?}");

    let (bridge, session) = fake(1, options(1, AheadPolicy::DropOldest));
    session.running(None);
    let mut client = Client::new(bridge, published(0, 1)).unwrap();
    for t in 0..3 {
        assert!(client.publish_chunk("a", t, value(t)).unwrap());
    }
    client.close(2).unwrap();
    let skips: Vec<String> = session
        .sent()
        .into_iter()
        .filter(|s| s.starts_with("skip"))
        .collect();
    assert_eq!(skips, ["skip below 0", "skip below 1"]);
}

#[test]
fn a_wait_in_vain_fails_naming_the_rank_missing_and_later_chunks_are_dropped() {
    let options = BridgeOptions {
        timeout: Duration::from_millis(100),
        ..options(1, AheadPolicy::Block)
    };
    let (bridge, session) = fake(2, options);
    session.running(None);
    let mut client = Client::new(bridge, published(0, 2)).unwrap();
    assert!(client.publish_chunk("a", 0, value(0)).unwrap());
    let error = client.publish_chunk("a", 1, value(1)).unwrap_err();
    assert!(
        matches!(error, InsituError::AnalyticsBehind { timestep: 1, .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("1 of the bridge's 2 ranks never created its client"),
        "{message}"
    );
    assert!(
        !client.publish_chunk("a", 2, value(2)).unwrap(),
        "no second wait"
    );
    session.running(Some(0));
    assert_eq!(client.stats().dropped, 1);
}

#[test]
fn the_analytics_stopping_releases_the_waiting_ranks() {
    let (bridge, session) = fake(1, options(1, AheadPolicy::Block));
    session.running(None);
    let waiting = bridge.clone();
    let rank = std::thread::spawn(move || {
        let mut client = Client::new(waiting, published(0, 1)).unwrap();
        let mut outcomes = Vec::new();
        for t in 0..4 {
            outcomes.push(client.publish_chunk("a", t, value(t)).unwrap());
        }
        let released = client.close_and_wait(3, Duration::from_secs(30)).unwrap();
        (outcomes, released)
    });
    let start = Instant::now();
    while !session
        .sent
        .lock()
        .unwrap()
        .contains(&"report 0".to_string())
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the rank never began 1"
        );
        std::thread::yield_now();
    }
    session.progress(Progress {
        stopped: true,
        ..Default::default()
    });
    let (outcomes, released) = rank.join().unwrap();
    assert_eq!(outcomes, [true, false, false, false]);
    assert!(released, "nothing needs the rank's chunks any more");
    assert!(bridge.progress().stopped);
}

#[test]
fn close_and_wait_waits_for_the_analytics_to_be_done_with_the_last_timestep() {
    let (bridge, session) = fake(1, BridgeOptions::default());
    session.running(None);
    let mut client = Client::new(bridge, published(0, 1)).unwrap();
    assert!(client.publish_chunk("a", 0, value(0)).unwrap());
    let finishing = session.clone();
    let analytics = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        finishing.running(Some(0));
    });
    assert!(client.close_and_wait(0, Duration::from_secs(30)).unwrap());
    analytics.join().unwrap();
}

#[test]
fn a_value_set_before_the_analytics_stopped_is_read_after() {
    let (bridge, session) = fake(1, BridgeOptions::default());
    session.set("k", 3, 31);
    session.progress(Progress {
        stopped: true,
        ..Default::default()
    });
    let client = Client::new(bridge, published(0, 1)).unwrap();
    let read: i64 = client.get_at("k", 3, Duration::from_secs(30), -1).unwrap();
    assert_eq!(read, 31);
    let read: i64 = client.get("k", Some(3), -1).unwrap();
    assert_eq!(read, 31);
}
