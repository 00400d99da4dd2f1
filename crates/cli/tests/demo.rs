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
