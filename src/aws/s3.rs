//! S3 (being written).
