//! The original tool's DynamoDB tables: item format, diff, sync and import.

pub mod diff;
pub mod item;
pub mod show;
pub mod sync;
pub mod document;
