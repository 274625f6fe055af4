//! The original tool's DynamoDB tables: item format, diff, sync and import.

pub mod diff;
pub mod document;
pub mod item;
pub mod show;
pub mod sync;
