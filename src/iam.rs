//! Least-privilege IAM policy generation (being written).
