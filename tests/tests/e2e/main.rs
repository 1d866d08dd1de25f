//! Operating it: alerts (`alerts`), metrics as EMF (`emf`), and the startup
//! check behind the container health check (`startup`), each on the
//! sink-proxy binary. One test binary for the three: each more costs a link
//! of every dependency in CI.

mod alerts;
mod emf;
mod startup;
