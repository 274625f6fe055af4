//! SNS (being written).
