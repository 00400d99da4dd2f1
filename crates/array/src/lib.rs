//! doreisa-array: chunked n-d arrays whose chunks are ObjectRefs, lazy expressions, and
//! their lowering to task graphs.
//!
//! Built on `doreisa-sched`. It must not depend on the in situ layer (`doreisa-insitu`).
