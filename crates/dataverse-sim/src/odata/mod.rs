//! The OData side of the Web API: addressing, query options, preferences, and the operations on the
//! table. Everything here is synchronous and shared by direct requests and `$batch` operations.

mod dispatch;
mod literal;
mod prefer;
mod query;
mod reads;
mod records;
mod resource;
mod writes;

pub(crate) use dispatch::execute;
pub(crate) use prefer::Preferences;
pub(crate) use resource::{Resource, Target};
