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
