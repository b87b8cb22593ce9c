//! The appliance email subsystem (placeholder).
