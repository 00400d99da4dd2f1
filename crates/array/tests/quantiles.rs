//! Quantiles past the budget: approximate, within the rank bound the docs state.

mod common;

use common::{runner, source};
use doreisa_array::{Chunk, Grid};
use ndarray::{ArrayD, IxDyn};

#[test]
fn approximate_quantiles_stay_within_their_rank_bound() {
    let r = runner();
    let n = 50_000usize;
    // A scrambled sequence with repeats: i * 7919 mod 20011, as float64.
    let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 20_011) as f64 / 3.0).collect();
    let data = ArrayD::from_shape_vec(IxDyn(&[n]), values.clone()).unwrap();
    let chunks = 10;
    let x = source(
        &r,
        "x",
        Chunk::F64(data),
        Grid::regular(&[n], &[n / chunks]).unwrap(),
    );
    let q = [0.0, 0.001, 0.1, 0.5, 0.9, 0.999, 1.0];
    let approx = x.quantile_budget(&q, None, 1024).unwrap();
    let got = approx.compute(&r).unwrap().into_array::<f64>().unwrap();
    let exact = x
        .quantile(&q, None)
        .unwrap()
        .compute(&r)
        .unwrap()
        .into_array::<f64>()
        .unwrap();
    let bound = (n / 1024 + chunks) as f64;
    for (i, &q) in q.iter().enumerate() {
        let v = got[[i]];
        let target = q * (n - 1) as f64;
        let below = values.iter().filter(|&&x| x < v).count() as f64;
        let at_most = values.iter().filter(|&&x| x <= v).count() as f64;
        assert!(
            below <= target + bound && at_most >= target - bound,
            "q {q}: {v} has ranks {below}..{at_most}, the target {target} ± {bound}"
        );
        assert!((v - exact[[i]]).abs() <= 20_011.0 / 3.0 * 2.0 * bound / n as f64 + 1.0);
    }
    // Over one axis, past the budget, it refuses rather than approximates.
    assert!(x.quantile_budget(&[0.5], Some(0), 1024).is_err());
    // NaN anywhere: NaN, as numpy.
    let nan = source(
        &r,
        "nan",
        Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, f64::NAN, 2.0, 3.0]).unwrap()),
        Grid::regular(&[4], &[1]).unwrap(),
    );
    let m = nan
        .quantile_budget(&[0.5], None, 8)
        .unwrap()
        .compute(&r)
        .unwrap();
    assert!(m.to_array::<f64>()[[0]].is_nan());
}
