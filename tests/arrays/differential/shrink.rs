//! Shrinking a failing case to a minimal one: replace a subexpression by a source
//! holding its value, or by an operand of its shape; cut sources in one chunk; simplify
//! their elements. Every candidate is run again and kept only if it still fails.

use super::cases::Case;
use super::expr::{Expr, Source, eval};
use super::reference::{El, Res};
use super::{Failure, Target, check};
use doreisa_array::Array;

const MAX_ATTEMPTS: usize = 400;

/// Every node's path (child indices from the root), in pre-order.
fn paths(e: &Expr) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for (i, c) in e.children().into_iter().enumerate() {
        out.extend(paths(c).into_iter().map(|mut p| {
            p.insert(0, i);
            p
        }));
    }
    out
}

fn at<'e>(e: &'e Expr, path: &[usize]) -> &'e Expr {
    path.iter().fold(e, |e, &i| e.children()[i])
}

fn at_mut<'e>(e: &'e mut Expr, path: &[usize]) -> &'e mut Expr {
    let mut e = e;
    for &i in path {
        e = e.children_mut().into_iter().nth(i).expect("a child");
    }
    e
}

/// The reference value of `e` over the case's sources.
fn value(case: &Case, e: &Expr) -> Res {
    let arrays: Vec<Array> = case
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Array::source(&format!("v{i}"), 0, &s.shape, s.grid(), s.dtype).expect("a source")
        })
        .collect();
    eval(e, &arrays, &case.sources).val
}

/// Smaller cases that may still fail, the most promising first.
fn candidates(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for path in paths(&case.expr) {
        let node = at(&case.expr, &path);
        let Ok(v) = value(case, node) else { continue };
        // An operand of the same shape and dtype in its place.
        for child in node.children() {
            if let Ok(c) = value(case, child)
                && c.shape() == v.shape()
            {
                let mut next = case.clone();
                *at_mut(&mut next.expr, &path) = child.clone();
                out.push(next);
            }
        }
        // A source holding the node's value.
        if !matches!(node, Expr::Src(_)) && !v.has_x() {
            let mut next = case.clone();
            next.sources.push(Source {
                dtype: v.dtype,
                shape: v.shape(),
                chunks: v.shape().iter().map(|&n| vec![n]).collect(),
                values: v
                    .a
                    .iter()
                    .map(|e| match *e {
                        El::F(x, _) => El::F(x, 0.0),
                        other => other,
                    })
                    .collect(),
            });
            *at_mut(&mut next.expr, &path) = Expr::Src(next.sources.len() - 1);
            out.push(next);
        }
    }
    for (i, s) in case.sources.iter().enumerate() {
        let single: Vec<Vec<usize>> = s.shape.iter().map(|&n| vec![n]).collect();
        if s.chunks != single {
            let mut next = case.clone();
            next.sources[i].chunks = single;
            out.push(next);
        }
        for (j, e) in s.values.iter().enumerate() {
            let simple = match e {
                El::F(x, _) if *x != 0.0 => El::F(0.0, 0.0),
                El::I(v) if *v != 0 => El::I(0),
                El::B(true) => El::B(false),
                _ => continue,
            };
            let mut next = case.clone();
            next.sources[i].values[j] = simple;
            out.push(next);
        }
    }
    out
}

/// The smallest failing case found from `case` (which fails as `failure`).
pub fn shrink(target: &dyn Target, case: Case, failure: Failure, timestep: i64) -> (Case, Failure) {
    let (mut case, mut failure) = (case, failure);
    let mut attempts = 0;
    'outer: loop {
        for candidate in candidates(&case) {
            attempts += 1;
            if attempts > MAX_ATTEMPTS {
                break 'outer;
            }
            let tag = format!("shrink{attempts}");
            if let Err(f) = check(target, &candidate, &tag, timestep) {
                (case, failure) = (candidate, f);
                continue 'outer;
            }
        }
        break;
    }
    let case = prune(case);
    // The failure again, in the pruned case's numbering.
    let failure = check(target, &case, "shrunk", timestep)
        .err()
        .unwrap_or(failure);
    (case, failure)
}

/// The case without the sources its expression no longer reads.
fn prune(mut case: Case) -> Case {
    fn used(e: &Expr, out: &mut Vec<usize>) {
        if let Expr::Src(i) = e {
            out.push(*i);
        }
        e.children().into_iter().for_each(|c| used(c, out));
    }
    fn renumber(e: &mut Expr, map: &[Option<usize>]) {
        if let Expr::Src(i) = e {
            *i = map[*i].expect("a used source");
        }
        e.children_mut().into_iter().for_each(|c| renumber(c, map));
    }
    let mut read = Vec::new();
    used(&case.expr, &mut read);
    let mut map = vec![None; case.sources.len()];
    let mut kept = Vec::new();
    for (i, source) in case.sources.iter().enumerate() {
        if read.contains(&i) {
            map[i] = Some(kept.len());
            kept.push(source.clone());
        }
    }
    renumber(&mut case.expr, &map);
    case.sources = kept;
    case
}
