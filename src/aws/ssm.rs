//! SSM Run Command: the override-file check (being written).
