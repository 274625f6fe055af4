//! The override-file check over SSM, against the emulator (being written).
