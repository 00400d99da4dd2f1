//! The weak-scaling benchmark's variants on a small embedded cluster: each analysis
//! runs and is checked every iteration, and the values it is checked against are the
//! ones ndarray computes over the data gathered from the cluster.

use doreisa::core::{Cluster, ClusterConfig};
use doreisa_cli::weak_scaling::{
    self, Analysis, HandLoop, Mode, ScalingConfig, Session, Workload, element,
};
use ndarray::{Array2, Axis, s};

/// 4 nodes, 4 chunks of 6x5 each.
const SMALL: Workload = Workload {
    nodes: 4,
    chunks_per_node: 4,
    chunk: [6, 5],
};

fn small(analysis: Analysis) -> ScalingConfig {
    ScalingConfig {
        nodes: vec![SMALL.nodes],
        mode: Mode::Embedded,
        runs: 1,
        chunk: SMALL.chunk,
        chunks_per_node: SMALL.chunks_per_node,
        iterations: weak_scaling::MIN_ITERATIONS,
        analysis,
    }
}

#[test]
fn each_analysis_runs_embedded_every_value_checked_and_reports_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    for analysis in [Analysis::Mean, Analysis::Sinsqrt, Analysis::FlipSum] {
        let report = weak_scaling::run(&small(analysis)).unwrap();
        assert_eq!(report.measured, "20..30");
        assert_eq!(report.chunk, "6x5 f64");
        let [point] = &report.points[..] else {
            panic!("one size: {report:?}")
        };
        assert_eq!(point.chunks_per_iteration, 16);
        assert!(point.ms_per_iteration > 0.0);
        assert!(point.analysis_ms_per_iteration <= point.ms_per_iteration);
        let per_s = 16.0 * 1e3 / point.ms_per_iteration;
        assert!((point.chunks_per_s - per_s).abs() < 1e-6 * per_s);
        assert!(point.tasks_per_iteration >= 2, "{point:?}");
        assert!(point.driver_cpu_ms_per_iteration > 0.0, "{point:?}");
        assert!(point.producer_calls_cpu_ms_per_iteration > 0.0, "{point:?}");
        let driver = point.driver_cpu_ms_per_iteration + point.producer_calls_cpu_ms_per_iteration;
        assert!(point.process_cpu_ms_per_iteration >= driver, "{point:?}");
        assert!(point.peak_rss_bytes.unwrap() > 1 << 20, "{point:?}");
        assert_eq!(point.hand_loop.is_some(), analysis == Analysis::Sinsqrt);

        let path = dir.path().join(format!("{}.json", analysis.name()));
        weak_scaling::write(&report, &path).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["analysis"], analysis.name());
        assert_eq!(json["mode"], "embedded");
        assert!(json["points"][0]["chunks_per_s"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn too_few_iterations_or_an_empty_chunk_are_refused_before_anything_runs() {
    let mut config = small(Analysis::Mean);
    config.iterations = 39;
    let error = weak_scaling::run(&config).unwrap_err();
    assert!(error.contains("at least 40"), "{error}");
    let mut config = small(Analysis::Mean);
    config.chunk = [0, 5];
    let error = weak_scaling::run(&config).unwrap_err();
    assert!(error.contains("holds nothing"), "{error}");
}

/// `x` at `timestep`, computed by the cluster and gathered at the driver.
fn gather(session: &Session, timestep: i64) -> Array2<f64> {
    let x = SMALL.source(timestep).unwrap();
    let chunk = x.compute(&session.runner).unwrap();
    chunk
        .into_array::<f64>()
        .unwrap()
        .into_dimensionality()
        .unwrap()
}

fn analysis(session: &Session, analysis: Analysis, timestep: i64) -> f64 {
    let x = SMALL.source(timestep).unwrap();
    let value = analysis.expression(&x).unwrap();
    value
        .compute(&session.runner)
        .unwrap()
        .scalar::<f64>()
        .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn flip_sum_sinsqrt_and_mean_equal_ndarray_over_the_gathered_data() {
    let cluster = Cluster::start(
        ClusterConfig::default().nodes(SMALL.nodes),
        doreisa_cli::registry(),
    )
    .unwrap();
    let session = Session::start(&cluster, SMALL).unwrap();
    for timestep in [0, 1, 2, 25] {
        let asked = weak_scaling::usage::monotonic_ns();
        let published = session.publish(timestep).unwrap().wait().unwrap();
        assert!(asked <= published && published <= weak_scaling::usage::monotonic_ns());
        let x = gather(&session, timestep);
        // What the producers published is the formula, element for element.
        assert_eq!(x.dim(), (96, 5));
        for ((row, col), &value) in x.indexed_iter() {
            assert_eq!(value, element(row, col, timestep), "({row}, {col})");
        }

        let flipped = x.slice(s![..;-1, ..]);
        let flip_sum = (&x + &flipped).sum();
        let cluster_flip_sum = analysis(&session, Analysis::FlipSum, timestep);
        assert!(
            close(cluster_flip_sum, flip_sum),
            "{cluster_flip_sum} vs {flip_sum}"
        );
        let closed = SMALL.closed_form(Analysis::FlipSum, timestep).unwrap();
        closed.check(flip_sum).unwrap();

        let sinsqrt = x.mapv(|v| (v + 1.0).sqrt().sin()).mean().unwrap();
        let cluster_sinsqrt = analysis(&session, Analysis::Sinsqrt, timestep);
        assert!(
            close(cluster_sinsqrt, sinsqrt),
            "{cluster_sinsqrt} vs {sinsqrt}"
        );
        let (reference, _) = HandLoop::new(2).sinsqrt(&SMALL, timestep);
        reference.check(sinsqrt).unwrap();

        let mean = x.mean().unwrap();
        let cluster_mean = analysis(&session, Analysis::Mean, timestep);
        assert!(close(cluster_mean, mean), "{cluster_mean} vs {mean}");
        SMALL
            .closed_form(Analysis::Mean, timestep)
            .unwrap()
            .check(mean)
            .unwrap();

        // Each chunk meets its mirror chunk, held by the mirror node: the sum of every
        // row with its mirror row is the same (the flip really reversed the rows).
        let pairs = (&x + &flipped).sum_axis(Axis(1));
        assert!(pairs.iter().all(|&p| close(p, pairs[0])), "{pairs}");
    }
}
