//! The `doreisa-rs` command line as a library: its subcommands, and the registry of
//! every function and actor class its nodes can run (a node of a process cluster runs
//! only what its binary registered, so head, workers and drivers share this one).
//!
//! Built on the `doreisa` facade; nothing depends on it.

pub mod args;
pub mod bench;
pub mod demo;
pub mod nodes;
pub mod selftest;
pub mod selftest_insitu;
pub mod weak_scaling;

use doreisa::core::Registry;

/// Everything `doreisa-rs` nodes can run: the benchmarks', the demo's and the
/// self-test's functions and actors.
pub fn registry() -> Registry {
    let mut registry = doreisa::registry();
    bench::register(&mut registry);
    demo::register(&mut registry);
    selftest::register(&mut registry);
    weak_scaling::Producer::register(&mut registry);
    registry
}
