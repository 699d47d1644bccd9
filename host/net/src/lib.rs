//! 住基ネット (the 住民基本台帳ネットワークシステム): the national server that holds every
//! resident's 本人確認情報 and its history in PostgreSQL, the network's own PKI (node
//! certificates naming each node's role and identity), mutually authenticated TLS 1.3 between
//! the nodes, and the clients of municipalities and agencies. docs/network.md describes it.
//!
//! Layers, dependencies pointing down: `api` (the HTTP/JSON endpoints, docs/network-api.yaml)
//! and `client` (their blocking client) → `server` (HTTPS over mTLS) → `register` (the
//! national register's operations) → `db` (PostgreSQL: pool, migrations); `tls` (rustls
//! configurations, the peer's identity) → `pki` (the network CA: node certificates, CRLs).
//! `service` runs the server as a process does (`juki net serve`: the CLI owns its arguments).
//! `pg_cluster` starts a throwaway PostgreSQL (Debian's server binaries) for the tests, the demo
//! and the benchmark.

pub mod api;
pub mod citizen;
pub mod client;
pub mod copy;
pub mod db;
pub mod delivery;
pub mod local;
pub mod monitor;
pub mod pg_cluster;
pub mod pki;
pub mod provision_log;
pub mod register;
pub mod server;
pub mod service;
pub mod tls;
