use super::*;

fn timesteps(ready: &Ready<&'static str>) -> Vec<(i64, Vec<&'static str>)> {
    ready.timesteps.clone()
}

#[test]
fn a_timestep_leaves_once_every_publisher_is_done_with_it() {
    let mut gather = Gather::new(2);
    gather.join(1);
    gather.add(5, "a1");
    gather.done_through(1, 5);
    assert_eq!(
        gather.take_ready().through,
        None,
        "publisher 2 not joined yet"
    );
    gather.join(2);
    assert!(
        gather.take_ready().timesteps.is_empty(),
        "2 said nothing yet"
    );
    gather.add(5, "a2");
    gather.add(6, "b2");
    gather.done_through(2, 6);
    let ready = gather.take_ready();
    assert_eq!(timesteps(&ready), vec![(5, vec!["a1", "a2"])]);
    assert_eq!(ready.through, Some(5));
    let again = gather.take_ready();
    assert!(again.timesteps.is_empty());
    assert!(
        !again.worth_telling(Some(5)),
        "nothing new since 5 was told"
    );
}

#[test]
fn several_timesteps_leave_together_oldest_first() {
    let mut gather = Gather::new(1);
    gather.join(7);
    for t in [3, 1, 2] {
        gather.add(t, t);
    }
    gather.done_through(7, 3);
    let ready = gather.take_ready();
    assert_eq!(
        ready.timesteps,
        vec![(1, vec![1]), (2, vec![2]), (3, vec![3])]
    );
}

#[test]
fn a_frontier_that_moved_is_worth_telling_even_without_items() {
    let mut gather: Gather<u8> = Gather::new(1);
    gather.join(1);
    gather.done_through(1, 4);
    let ready = gather.take_ready();
    assert!(ready.timesteps.is_empty());
    assert!(ready.worth_telling(Some(3)));
    assert!(!ready.worth_telling(Some(4)));
}

#[test]
fn closed_publishers_hold_nothing_back() {
    let mut gather = Gather::new(2);
    gather.join(1);
    gather.join(2);
    gather.add(9, 'x');
    gather.done_through(1, 9);
    gather.close(2);
    assert!(!gather.all_closed());
    assert_eq!(gather.take_ready().timesteps, vec![(9, vec!['x'])]);
    gather.add(12, 'y');
    gather.close(1);
    assert!(gather.all_closed());
    let ready = gather.take_ready();
    assert_eq!(ready.timesteps, vec![(12, vec!['y'])]);
    assert_eq!(ready.through, Some(i64::MAX));
}

#[test]
fn a_late_item_of_a_timestep_already_gone_leaves_at_once() {
    let mut gather = Gather::new(0);
    gather.join(1);
    gather.done_through(1, 10);
    assert!(gather.take_ready().timesteps.is_empty());
    gather.add(8, "late");
    assert_eq!(gather.take_ready().timesteps, vec![(8, vec!["late"])]);
}

#[test]
fn a_publisher_that_joins_later_holds_later_timesteps_back() {
    let mut gather = Gather::new(0);
    gather.join(1);
    gather.add(1, "one");
    gather.done_through(1, 1);
    assert_eq!(gather.take_ready().timesteps.len(), 1);
    gather.join(2);
    gather.add(2, "two");
    gather.done_through(1, 2);
    assert!(
        gather.take_ready().timesteps.is_empty(),
        "2 joined, said nothing"
    );
    gather.done_through(2, 2);
    assert_eq!(gather.take_ready().timesteps, vec![(2, vec!["two"])]);
}

fn arrays(names: &[&str]) -> Vec<Arc<str>> {
    names.iter().map(|n| Arc::from(*n)).collect()
}

#[test]
fn a_rank_is_done_once_it_published_every_array_it_declared() {
    let [a, b]: [Arc<str>; 2] = arrays(&["a", "b"]).try_into().unwrap();
    let mut rank = RankIteration::new([a.clone(), b.clone()]);
    assert_eq!(rank.done_through(), None);
    rank.published(&a, 4);
    assert_eq!(rank.done_through(), Some(3));
    rank.published(&b, 4);
    assert_eq!(rank.done_through(), Some(4));
    rank.published(&a, 5);
    assert_eq!(rank.done_through(), Some(4));
}

#[test]
fn a_rank_moving_on_is_done_with_what_it_skipped() {
    let [a, b]: [Arc<str>; 2] = arrays(&["a", "b"]).try_into().unwrap();
    let mut rank = RankIteration::new([a.clone(), b]);
    rank.published(&a, 1);
    rank.begin(2);
    assert_eq!(rank.done_through(), Some(1), "b was not published at 1");
    rank.published(&a, 0);
    assert_eq!(
        rank.done_through(),
        Some(1),
        "an older timestep changes nothing"
    );
}

#[test]
fn the_first_timestep_may_be_the_lowest_number() {
    let [a]: [Arc<str>; 1] = arrays(&["a"]).try_into().unwrap();
    let mut rank = RankIteration::new([a.clone()]);
    rank.begin(i64::MIN);
    assert_eq!(rank.done_through(), None);
    rank.published(&a, i64::MIN);
    assert_eq!(rank.done_through(), Some(i64::MIN));
}

#[test]
fn a_rank_without_arrays_holds_nothing_back() {
    let rank = RankIteration::new(Vec::<Arc<str>>::new());
    assert_eq!(rank.done_through(), Some(i64::MAX));
    let mut gather = Gather::new(2);
    gather.join(0);
    gather.done_through(0, rank.done_through().unwrap());
    gather.join(1);
    gather.add(3, "chunk");
    gather.done_through(1, 3);
    assert_eq!(gather.take_ready().timesteps, vec![(3, vec!["chunk"])]);
}
