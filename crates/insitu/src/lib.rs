//! doreisa-insitu: the Doreisa-level API: simulation clients that publish chunks,
//! analytics runners with windows and callbacks, iteration preparation, steering.
//!
//! Built on `doreisa-array`. It must not depend on the CLI.
