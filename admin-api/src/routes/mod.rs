//! Route handlers, one module per resource.

pub mod status;
