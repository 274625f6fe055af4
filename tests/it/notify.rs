//! Notifications against the emulator (being written).
