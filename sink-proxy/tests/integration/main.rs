//! sink-proxy's integration tests, in one test binary (each one more would
//! cost CI a link of every dependency): the binary itself (`binary`), faults
//! from a fake AWS endpoint (`faults`), HTTP edge cases (`http_edges`), and
//! delivery into moto's server (`moto_delivery`).

mod binary;
mod faults;
mod http_edges;
mod moto_delivery;
mod support;
