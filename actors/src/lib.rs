//! The boxoffice engine crate. For now it owns the typed ids shared by the engine and the server.
pub mod ids;
