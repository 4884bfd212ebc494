//! The two backends of the state database, behind one [`Store`](crate::Store): the SQLite
//! file in the state directory ([`sqlite`]), and a shared PostgreSQL database
//! ([`postgres`]).

pub(crate) mod postgres;
pub(crate) mod sqlite;
