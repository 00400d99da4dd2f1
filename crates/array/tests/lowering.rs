//! What lowering produces: fused element-wise chains, reduction trees of the asked
//! fan-in, slices that read only the chunks they overlap, shared subexpressions
//! lowered once.

mod common;

use common::{iota, iota_source, runner};
use doreisa_array::kernels::{EVAL, REDUCE_CHUNK, REDUCE_COMBINE};
use doreisa_array::{Array, ReduceOptions, Reduction, SliceArg};
use doreisa_sched::TaskGraph;

fn count(graph: &TaskGraph, kernel: &str) -> usize {
    graph.tasks.iter().filter(|t| &*t.kernel == kernel).count()
}

#[test]
fn a_chain_of_elementwise_ops_fuses_into_one_task_per_chunk() {
    let r = runner();
    let x = iota_source(&r, "x", &[4, 6], &[2, 3]);
    assert_eq!(x.num_chunks(), 4);
    let y = (&x + 1.0).unwrap();
    let y = (&y * 2.0).unwrap();
    let y = y.sqrt().unwrap();
    let y = (&y - &x).unwrap();
    let y = y.abs().unwrap();
    let graph = y.lower().unwrap();
    assert_eq!(graph.tasks.len(), 4);
    assert_eq!(count(&graph, EVAL), 4);
    assert_eq!(graph.sources.len(), 4);
    let got = common::f64s(y.compute(&r).unwrap());
    let expected = iota(&[4, 6]).mapv(|v| (((v + 1.0) * 2.0).sqrt() - v).abs());
    assert_eq!(got, expected);
}

#[test]
fn reductions_are_trees_of_the_given_fan_in() {
    let r = runner();
    let x = iota_source(&r, "x", &[16, 4], &[1, 4]);
    assert_eq!(x.num_chunks(), 16);
    let sum = x
        .reduce(Reduction::Sum, &ReduceOptions::default().split_every(4))
        .unwrap();
    let graph = sum.lower().unwrap();
    assert_eq!(count(&graph, REDUCE_CHUNK), 16);
    assert_eq!(count(&graph, REDUCE_COMBINE), 4 + 1);
    for task in graph.tasks.iter().filter(|t| &*t.kernel == REDUCE_COMBINE) {
        assert_eq!(task.inputs.len(), 4);
    }
    let total: f64 = (0..64).map(f64::from).sum();
    assert_eq!(sum.compute(&r).unwrap().scalar::<f64>(), Ok(total));

    // 10 leaves, fan-in 3: 10 -> 4 (3 tasks + 1 passed up) -> 2 (1 task + 1) -> 1.
    let y = iota_source(&r, "y", &[10], &[1]);
    let mean = y
        .reduce(Reduction::Mean, &ReduceOptions::default().split_every(3))
        .unwrap();
    let graph = mean.lower().unwrap();
    assert_eq!(count(&graph, REDUCE_CHUNK), 10);
    assert_eq!(count(&graph, REDUCE_COMBINE), 3 + 1 + 1);
    assert_eq!(mean.compute(&r).unwrap().scalar::<f64>(), Ok(4.5));
}

#[test]
fn an_elementwise_chain_fuses_into_reduction_leaves() {
    let r = runner();
    let x = iota_source(&r, "x", &[8, 8], &[4, 4]);
    let m = ((&x + 1.0).unwrap().sqrt().unwrap().sin().unwrap())
        .mean()
        .unwrap();
    let graph = m.lower().unwrap();
    assert_eq!(count(&graph, EVAL), 0);
    assert_eq!(count(&graph, REDUCE_CHUNK), 4);
    assert_eq!(count(&graph, REDUCE_COMBINE), 1);
    let expected = iota(&[8, 8])
        .mapv(|v| (v + 1.0).sqrt().sin())
        .mean()
        .unwrap();
    let got = m.compute(&r).unwrap().scalar::<f64>().unwrap();
    assert!((got - expected).abs() < 1e-12);
}

#[test]
fn slicing_reads_only_the_overlapped_chunks() {
    let r = runner();
    let x = iota_source(&r, "x", &[10, 10], &[2, 5]);
    assert_eq!(x.num_chunks(), 10);
    // Rows 3..6 overlap row chunks 1 and 2; columns 6.. overlap column chunk 1.
    let s = x
        .slice(&[SliceArg::range(3, 6), SliceArg::from(6..)])
        .unwrap();
    let s = (&s * 10.0).unwrap();
    let graph = s.lower().unwrap();
    let mut read: Vec<Vec<u32>> = graph.sources.iter().map(|k| k.chunk.clone()).collect();
    read.sort();
    assert_eq!(read, vec![vec![1, 1], vec![2, 1]]);
    assert_eq!(graph.tasks.len(), 2);
    assert_eq!(s.shape(), &[3, 4]);
    let expected = iota(&[10, 10])
        .slice(ndarray::s![3..6, 6..])
        .mapv(|v| v * 10.0)
        .into_dyn();
    assert_eq!(common::f64s(s.compute(&r).unwrap()), expected);

    // A strided, reversed selection of single elements.
    let e = x
        .slice(&[SliceArg::Index(7), SliceArg::FULL.step(-4)])
        .unwrap();
    let graph = e.lower().unwrap();
    assert_eq!(graph.sources.len(), 2);
    let got = common::f64s(e.compute(&r).unwrap());
    assert_eq!(got.as_slice().unwrap(), &[79.0, 75.0, 71.0]);
}

#[test]
fn flip_reads_mirrored_chunks_inside_the_consumer() {
    let r = runner();
    let x = iota_source(&r, "x", &[6, 2], &[2, 2]);
    let y = (&x + &x.flip(0).unwrap()).unwrap();
    let graph = y.lower().unwrap();
    assert_eq!(graph.tasks.len(), 3);
    let inputs: Vec<usize> = graph.tasks.iter().map(|t| t.inputs.len()).collect();
    assert_eq!(
        inputs,
        vec![2, 1, 2],
        "a chunk and its mirror (the middle is its own)"
    );
    let got = common::f64s(y.compute(&r).unwrap());
    // x[i, j] = 2i + j, so x[i, j] + x[5 - i, j] = 10 + 2j.
    for ((_, j), &v) in got
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap()
        .indexed_iter()
    {
        assert_eq!(v, 10.0 + 2.0 * j as f64);
    }
}

#[test]
fn a_subexpression_used_twice_is_lowered_once() {
    let r = runner();
    let x = iota_source(&r, "x", &[4], &[2]);
    let y = (&x * 3.0).unwrap().exp().unwrap();
    // Two reductions over the same expression: y is materialized once per chunk.
    let both = (&y.sum().unwrap() + &y.max().unwrap()).unwrap();
    let graph = both.lower().unwrap();
    assert_eq!(count(&graph, EVAL), 2 + 1, "y's chunks, then the final sum");
    assert_eq!(count(&graph, REDUCE_CHUNK), 4);
    let v = iota(&[4]).mapv(|v| (v * 3.0).exp());
    let expected = v.sum() + v.fold(f64::MIN, |a, &b| a.max(b));
    let got = both.compute(&r).unwrap().scalar::<f64>().unwrap();
    assert!((got - expected).abs() <= 1e-12 * expected);

    // Within one fused program, a repeated operand is read and computed once.
    let z = (&y + &y).unwrap();
    let graph = z.lower().unwrap();
    assert_eq!(graph.tasks.len(), 2);
    assert_eq!(graph.tasks[0].inputs.len(), 1);
}

#[test]
fn concatenating_and_stacking_move_no_data() {
    let r = runner();
    let a = iota_source(&r, "a", &[4, 3], &[2, 3]);
    let b = iota_source(&r, "b", &[4, 3], &[4, 1]);
    let c = Array::concatenate(&[a.clone(), b.clone()], 0).unwrap();
    assert_eq!(c.shape(), &[8, 3]);
    // b's chunks are refined to a's columns: no task is needed to read c chunk by chunk.
    let s = Array::stack(&[a.clone(), b.clone(), a.clone()], 0).unwrap();
    assert_eq!(s.shape(), &[3, 4, 3]);
    let total = s.sum().unwrap();
    let per = iota(&[4, 3]).sum();
    assert_eq!(total.compute(&r).unwrap().scalar::<f64>(), Ok(3.0 * per));
    let got = common::f64s(c.compute(&r).unwrap());
    let v = iota(&[4, 3]);
    let expected = ndarray::concatenate(ndarray::Axis(0), &[v.view(), v.view()]).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn deep_expressions_lower_without_deep_recursion() {
    let r = runner();
    let x = iota_source(&r, "x", &[4], &[2]);
    let mut y = x.clone();
    for i in 0..5000 {
        y = if i % 2 == 0 {
            (&y + 1.0).unwrap()
        } else {
            y.flip(0).unwrap()
        };
    }
    let total = y.sum().unwrap();
    let graph = total.lower().unwrap();
    assert_eq!(count(&graph, REDUCE_CHUNK), 2);
    let expected = (0..4).map(f64::from).sum::<f64>() + 4.0 * 2500.0;
    assert_eq!(total.compute(&r).unwrap().scalar::<f64>(), Ok(expected));
    drop((y, total));
}
