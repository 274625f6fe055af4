//! iam-policy (being written).
