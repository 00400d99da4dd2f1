//! Members watch their head: one that stops answering heartbeats (a killed head, whose
//! QUIC connection would otherwise only time out after 30 s) is taken for dead after
//! the head timeout; the member stops and says why, and a driver's pending and later
//! gets fail with that reason. A live head's members stay.

use doreisa_core::{CoreError, NodeId, Registry, TaskOptions, WorkerId};
use doreisa_net::stream::{self, FrameReader, HANDSHAKE_TIMEOUT};
use doreisa_net::tls::Identity;
use doreisa_net::{Cluster, ClusterFile, NodeOptions, NodeRole, ProcessNode};
use doreisa_proto::frame::FrameKind;
use doreisa_proto::wire::{Hello, Member, Purpose, Welcome};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `body` on a thread of its own, which must end within `limit` (a hang fails
/// the test instead of blocking CI).
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the test body failed"),
    }
}

/// A head that admits one member, then never says a word again (it reads, and drops,
/// what the member sends): a hung or killed head as its member sees it, except that
/// its QUIC connection stays up.
fn silent_head() -> ClusterFile {
    let identity = Identity::generate().unwrap();
    let token = vec![7; 32];
    let (send_file, file) = mpsc::channel();
    let cluster_token = token.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let endpoint = quinn::Endpoint::server(
                identity.server_config().unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .unwrap();
            let addr = endpoint.local_addr().unwrap();
            let _ = send_file.send(ClusterFile::new(
                addr,
                &cluster_token,
                &identity.fingerprint,
            ));
            let connection = endpoint.accept().await.unwrap().await.unwrap();
            let (mut send, recv) = connection.accept_bi().await.unwrap();
            let mut reader = FrameReader::new(recv);
            let hello: Hello = reader
                .expect(FrameKind::Hello, HANDSHAKE_TIMEOUT)
                .await
                .unwrap();
            let Purpose::Join {
                role,
                addr: joiner_addr,
                fingerprint,
                cpus,
                store_capacity,
            } = hello.purpose
            else {
                panic!("a join")
            };
            let head = Member {
                node: NodeId(0),
                role: NodeRole::Head,
                addr,
                fingerprint: identity.fingerprint.clone(),
                workers: vec![WorkerId::new(NodeId(0), 0)],
                cpus: 1,
                store_capacity: 1 << 20,
            };
            let mut workers = vec![WorkerId::new(NodeId(1), 0)];
            if role == NodeRole::Driver {
                workers.push(WorkerId::new(NodeId(1), 1));
            }
            let joiner = Member {
                node: NodeId(1),
                role,
                addr: joiner_addr,
                fingerprint,
                workers,
                cpus,
                store_capacity,
            };
            let welcome = Welcome::Joined {
                node: NodeId(1),
                epoch: 0,
                members: vec![head, joiner],
            };
            stream::write_message(&mut send, FrameKind::Welcome, &welcome)
                .await
                .unwrap();
            // Heartbeats come in; no answer goes out.
            while let Ok(Some(_)) = reader.next().await {}
            connection.closed().await;
        });
    });
    file.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn options(role: NodeRole, head_timeout: Duration) -> NodeOptions {
    NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        heartbeat: Duration::from_millis(100),
        head_timeout,
        ..NodeOptions::new(role)
    }
}

#[test]
fn a_worker_whose_head_falls_silent_stops_after_the_head_timeout_and_says_why() {
    let (reason, took) = within(Duration::from_secs(60), || {
        let cluster = silent_head();
        let mut worker = ProcessNode::join(
            options(NodeRole::Worker, Duration::from_secs(1)),
            &cluster,
            Registry::new(),
        )
        .unwrap();
        let start = Instant::now();
        worker.wait();
        (worker.stop_reason(), start.elapsed())
    });
    let reason = reason.expect("the worker says why it stopped");
    assert!(reason.contains("lost the head at"), "{reason}");
    assert!(reason.contains("no word from it for 1.0 s"), "{reason}");
    assert!(
        took >= Duration::from_millis(900),
        "not before the timeout: {took:?}"
    );
}

#[test]
fn a_drivers_pending_and_later_gets_fail_with_the_reason_when_its_head_falls_silent() {
    let (pending, later) = within(Duration::from_secs(60), || {
        let cluster = silent_head();
        let cluster = Cluster::connect_with(
            options(NodeRole::Driver, Duration::from_secs(1)),
            &cluster,
            Registry::new(),
        )
        .unwrap();
        let driver = cluster.driver();
        // A task sent to the head, which never answers.
        let task = driver
            .submit_function("never_answered", Vec::new(), 1, TaskOptions::on(NodeId(0)))
            .unwrap()
            .remove(0);
        let pending = driver.get(&task);
        let later = driver.get(&task);
        (pending, later)
    });
    for result in [pending, later] {
        let Err(CoreError::NodeStopped(reason)) = result else {
            panic!("{result:?}")
        };
        assert!(reason.contains("lost the head at"), "{reason}");
        assert!(reason.contains("no word from it"), "{reason}");
    }
}

#[test]
fn the_members_of_a_live_head_stay() {
    let head = ProcessNode::start_head(
        options(NodeRole::Head, Duration::from_secs(1)),
        Registry::new(),
    )
    .unwrap();
    let worker = ProcessNode::join(
        options(NodeRole::Worker, Duration::from_millis(600)),
        &head.cluster,
        Registry::new(),
    )
    .unwrap();
    // Many head timeouts long: the head's answers to heartbeats keep the worker in.
    std::thread::sleep(Duration::from_secs(3));
    assert!(worker.is_running(), "{:?}", worker.stop_reason());
    assert_eq!(worker.stop_reason(), None);
    assert_eq!(head.members().len(), 2);
}

/// A head timeout too short for the heartbeat would take a live head for dead: the
/// join is refused at once, saying why, before anything is started.
#[test]
fn a_head_timeout_shorter_than_three_heartbeats_is_refused_at_join() {
    let head = ProcessNode::start_head(
        options(NodeRole::Head, Duration::from_secs(1)),
        Registry::new(),
    )
    .unwrap();
    let too_short = NodeOptions {
        heartbeat: Duration::from_millis(400),
        ..options(NodeRole::Worker, Duration::from_secs(1))
    };
    let error = ProcessNode::join(too_short, &head.cluster, Registry::new())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("the head timeout (1000 ms) must be at least 3 heartbeats (400 ms each)"),
        "{error}"
    );
    assert_eq!(head.members().len(), 1, "nobody joined");
}
