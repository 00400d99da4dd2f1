//! Mistakes of a simulation rank are refused with errors that say what happened:
//! a chunk published twice is a duplicate (not "going back"), and a close before the
//! last timestep published is refused.

#[path = "insitu/support.rs"]
#[allow(dead_code)] // the parts these tests do not use
mod sim;

use doreisa::array::{Chunk, DType};
use doreisa::core::{Cluster, ClusterConfig};
use doreisa::insitu::{
    ArrayMeta, BridgeOptions, Client, Delivery, InsituError, Published, ThreadGroup,
};
use ndarray::{ArrayD, IxDyn};

fn start_cluster(nodes: usize, _store: Option<&sim::StoreLimit>) -> sim::Sim {
    let config = ClusterConfig::default().nodes(nodes).compute_threads(1);
    sim::Sim {
        cluster: Cluster::start(config, sim::registry()).unwrap(),
        delivery: Delivery::Reference,
        _alive: None,
    }
}

/// A client for the chunk at [1, 0] of a 2x2 grid of array "a", with no analytics
/// running (nothing holds it back).
fn client(test: impl FnOnce(Client)) {
    let (cluster, session) = sim::session(1);
    let node = session.nodes()[0];
    let bridge = sim::bridge(&cluster, &session, node, 1, BridgeOptions::default());
    let meta = ArrayMeta::new("a", &[2, 2], &[1, 1], DType::I32);
    let published = Published::new(meta, &[1, 0]).unwrap();
    test(Client::new(bridge, vec![published]).unwrap());
}

fn chunk() -> Chunk {
    Chunk::from(ArrayD::from_elem(IxDyn(&[1, 1]), 7i32))
}

#[test]
fn a_chunk_published_twice_is_a_duplicate_naming_array_position_timestep_and_rank() {
    client(|mut client| {
        assert!(client.publish_chunk("a", 3, chunk()).unwrap());
        let error = client.publish_chunk("a", 3, chunk()).unwrap_err();
        assert_eq!(
            error,
            InsituError::Duplicate {
                array: "a".into(),
                chunk: vec![1, 0],
                timestep: 3,
                rank: Some(0),
            }
        );
        let said = error.to_string();
        assert!(
            said.contains("duplicate chunk [1, 0] at timestep 3"),
            "{said}"
        );
        assert!(said.contains("rank 0"), "{said}");
        // Going back is still what it is.
        let error = client.publish_chunk("a", 2, chunk()).unwrap_err();
        assert!(matches!(
            error,
            InsituError::OutOfOrder {
                timestep: 2,
                last: 3,
                ..
            }
        ));
        // With a communicator, the rank is its number there.
        let group = ThreadGroup::new(4);
        let mut client = client.with_communicator(group.rank(3));
        let error = client.publish_chunk("a", 3, chunk()).unwrap_err();
        assert!(error.to_string().contains("rank 3"), "{error}");
    });
}

#[test]
fn a_close_before_the_last_timestep_published_is_refused() {
    client(|mut client| {
        for t in 0..5 {
            assert!(client.publish_chunk("a", t, chunk()).unwrap());
        }
        let error = client.close(2).unwrap_err();
        assert_eq!(
            error,
            InsituError::CloseBeforeLast {
                timestep: 2,
                array: "a".into(),
                published: 4
            }
        );
        assert!(error.to_string().contains("close at timestep 2"), "{error}");
        client.close(4).unwrap();
        assert_eq!(client.close(4), Ok(()), "closing again changes nothing");
    });
}
