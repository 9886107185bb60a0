//! The boxoffice engine. No HTTP and no SQL in here: the server plugs storage in through the
//! [`journal::Journal`] port.
//!
//! - [`clock`]: the engine's time, real or moved by hand in tests.
//! - [`ids`]: the typed UUIDv7 ids shared by the engine and the server.
//! - [`inventory`]: `EventInventory`, one event's admissions and seats as a pure state machine.
//! - [`event_actor`]: `EventActor`, the single owner of an event's inventory: group commit,
//!   expiry timer, recovery, supervision.
//! - [`directory`]: `EventDirectory`, event id to actor, bounded sends, the availability read model.
//! - [`journal`]: the storage port and the batches the actors write through it.
//! - [`waitlist`]: an event's waiting lists for sold-out ticket types.
pub mod clock;
pub mod directory;
pub mod event_actor;
pub mod ids;
pub mod inventory;
pub mod journal;
pub mod waitlist;
