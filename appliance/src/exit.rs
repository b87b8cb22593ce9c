//! Exit codes of the `appliance` command (from BSD's sysexits.h, as mail software uses them).

/// Success.
pub const OK: u8 = 0;
/// Bad usage: unknown option, missing argument, an invalid `--to` address (EX_USAGE).
pub const USAGE: u8 = 64;
/// A permanent failure: 5xx, TLS or certificate, STARTTLS or AUTH not offered (EX_UNAVAILABLE).
pub const UNAVAILABLE: u8 = 69;
/// An internal error (EX_SOFTWARE).
pub const SOFTWARE: u8 = 70;
/// The test mail was sent but the settings could not be saved (EX_IOERR).
pub const IOERR: u8 = 74;
/// A temporary failure: 4xx, connection refused or lost, timeout (EX_TEMPFAIL).
pub const TEMPFAIL: u8 = 75;
/// Invalid settings, or a settings file that cannot be read (EX_CONFIG).
pub const CONFIG: u8 = 78;
