//! `appliance`: the appliance's email subsystem on the command line (see `appliance --help`).
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(appliance::cli::main())
}
