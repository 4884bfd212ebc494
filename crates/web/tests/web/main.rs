//! importer-web in the test process, over real state databases: what the pages and the API
//! show, how fast a change reaches them, who may do what, and health under load.

mod browser;
mod common;
mod freshness;
mod health;
mod load;
mod routes;
mod secrets;
mod security;
mod validator;
mod views;
