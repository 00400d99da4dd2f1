//! The main job end to end, small: the heat simulation's analytics checks the heat
//! balance every iteration (the run fails otherwise), steers the source, and writes
//! its pictures.

#[test]
fn the_demo_runs_checks_its_physics_and_writes_its_pictures() {
    let output = tempfile::tempdir().unwrap();
    let config = doreisa_cli::demo::DemoConfig {
        grid: 48,
        ranks: 6,
        nodes: 2,
        iterations: 40,
        output: output.path().to_path_buf(),
        every: 10,
        ..Default::default()
    };
    doreisa_cli::demo::run(&config).unwrap();
    let mut written: Vec<String> = std::fs::read_dir(output.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "statistics.png",
            "temperature_00000.png",
            "temperature_00010.png",
            "temperature_00020.png",
            "temperature_00030.png",
            "temperature_00039.png"
        ]
    );
    for name in written {
        let bytes = std::fs::read(output.path().join(name)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}

#[test]
fn a_grid_that_does_not_split_over_the_ranks_is_a_clear_error() {
    let config = doreisa_cli::demo::DemoConfig {
        grid: 10,
        ranks: 3,
        nodes: 1,
        iterations: 5,
        output: tempfile::tempdir().unwrap().path().to_path_buf(),
        ..Default::default()
    };
    let err = doreisa_cli::demo::run(&config).unwrap_err();
    assert!(err.contains("does not split evenly"), "{err}");
}

#[test]
fn the_demo_saves_statistics_snapshots_and_the_field_over_time_that_read_back() {
    use doreisa::save::{Column, read_npy, read_npy_records, read_zarr};
    use ndarray::Axis;
    let output = tempfile::tempdir().unwrap();
    let save = tempfile::tempdir().unwrap();
    let config = doreisa_cli::demo::DemoConfig {
        grid: 48,
        ranks: 6,
        nodes: 3,
        iterations: 40,
        output: output.path().to_path_buf(),
        save: Some(save.path().to_path_buf()),
        save_every: 6,
        ..Default::default()
    };
    doreisa_cli::demo::run(&config).unwrap();

    // statistics.npy: a record array, a row per iteration.
    let columns = read_npy_records(&save.path().join("statistics.npy")).unwrap();
    let column = |name: &str| &columns.iter().find(|(n, _)| n == name).unwrap().1;
    let Column::I64(timesteps) = column("timestep") else {
        panic!()
    };
    assert_eq!(*timesteps, (0..40).collect::<Vec<i64>>());
    let Column::F64(totals) = column("total_heat") else {
        panic!()
    };

    // temperature.zarr: every 6th iteration and the last, (time, y, x).
    let field = read_zarr(&save.path().join("temperature.zarr/temperature")).unwrap();
    assert_eq!(field.dimension_names, ["time", "y", "x"]);
    assert_eq!(field.attributes["units"], "°C");
    let time = read_zarr(&save.path().join("temperature.zarr/time")).unwrap();
    let saved: Vec<i64> = time.data.to_array::<i64>().iter().copied().collect();
    assert_eq!(saved, [0, 6, 12, 18, 24, 30, 36, 39]);
    let frames = field.data.to_array::<f64>();
    assert_eq!(frames.shape(), [8, 48, 48]);
    // Each frame, written by the nodes, sums to the total heat the analytics computed.
    for (frame, &t) in frames.axis_iter(Axis(0)).zip(&saved) {
        let (sum, total) = (frame.sum(), totals[t as usize]);
        assert!(
            (sum - total).abs() <= 1e-9 * total,
            "timestep {t}: {sum} vs {total}"
        );
    }
    // The snapshots (.npy) are the pictures' timesteps; where the Zarr has one too,
    // they agree element for element.
    for t in [0, 10, 20, 30, 39] {
        let snapshot = read_npy(&save.path().join(format!("temperature_{t:05}.npy"))).unwrap();
        let snapshot = snapshot.to_array::<f64>();
        assert_eq!(snapshot.shape(), [48, 48]);
        if let Some(i) = saved.iter().position(|&s| s == t) {
            assert_eq!(frames.index_axis(Axis(0), i), snapshot, "timestep {t}");
        }
    }
}

/// The statistics (`statistics.npy`) of a demo run with `config`, which must end within
/// `limit`: it runs on a thread of its own, so that a hang fails the test.
fn statistics(
    config: doreisa_cli::demo::DemoConfig,
    limit: std::time::Duration,
) -> Vec<(String, doreisa::save::Column)> {
    let save = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let config = doreisa_cli::demo::DemoConfig {
        save: Some(save.path().to_path_buf()),
        output: output.path().to_path_buf(),
        every: 1000,
        ..config
    };
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(doreisa_cli::demo::run(&config));
    });
    match ended.recv_timeout(limit) {
        Ok(outcome) => outcome.unwrap(),
        Err(_) => panic!("the demo did not end within {limit:?}"),
    }
    doreisa::save::read_npy_records(&save.path().join("statistics.npy")).unwrap()
}

/// Fails unless two runs' statistics are the same, bit for bit (a NaN, the first row's
/// rates, equals a NaN), naming the first difference.
fn assert_same(a: &[(String, doreisa::save::Column)], b: &[(String, doreisa::save::Column)]) {
    use doreisa::save::Column;
    assert_eq!(a.len(), b.len());
    for ((name, x), (other, y)) in a.iter().zip(b) {
        assert_eq!(name, other);
        let bits = |c: &Column| -> Vec<u64> {
            match c {
                Column::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
                Column::I64(v) => v.iter().map(|&x| x as u64).collect(),
            }
        };
        let (x, y) = (bits(x), bits(y));
        assert_eq!(x.len(), y.len(), "{name}");
        if let Some(row) = (0..x.len()).find(|&i| x[i] != y[i]) {
            panic!("{name} differs first at row {row}");
        }
    }
}

#[test]
fn idle_nodes_end_with_the_result_of_busy_ones() {
    let limit = std::time::Duration::from_secs(120);
    let run = |nodes, ranks| {
        let config = doreisa_cli::demo::DemoConfig {
            grid: 64,
            ranks,
            nodes,
            iterations: 5,
            ..Default::default()
        };
        statistics(config, limit)
    };
    // More nodes than ranks, and fewer ranks than nodes: the idle nodes change nothing.
    assert_same(&run(9, 8), &run(2, 8));
    assert_same(&run(4, 2), &run(1, 2));
}

#[test]
fn the_demo_steers_alike_whatever_the_timing() {
    let limit = std::time::Duration::from_secs(300);
    let run = |nodes| {
        let config = doreisa_cli::demo::DemoConfig {
            grid: 160,
            ranks: 4,
            nodes,
            iterations: 300,
            ..Default::default()
        };
        statistics(config, limit)
    };
    // Ranks read the steering value decided a few timesteps back (a tagged read), so
    // how fast the analytics goes changes nothing.
    let one = run(1);
    let switches = one
        .iter()
        .filter(|(name, _)| name == "source_off" || name == "source_on")
        .map(|(_, column)| match column {
            doreisa::save::Column::F64(v) => v.iter().filter(|&&x| x != 0.0).count(),
            doreisa::save::Column::I64(v) => v.iter().filter(|&&x| x != 0).count(),
        })
        .sum::<usize>();
    assert!(
        switches >= 2,
        "the thermostat switched the source {switches} times"
    );
    assert_same(&one, &run(2));
    assert_same(&one, &run(3));
}
