//! Notifications to humans (being written).
