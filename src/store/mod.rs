//! The original tool's DynamoDB tables: item format, diff, sync and import.

pub mod config;
pub mod diff;
pub mod document;
pub mod item;
pub mod owner;
pub mod show;
pub mod sync;
