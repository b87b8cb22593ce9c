//! Snapshots of the appliance's conversations in the repository's top-level `snapshots/` folder,
//! named and filtered exactly as the harness's own snapshot tests name theirs
//! (`snapshots/<name>.snap`), so both packages share one folder of reviewed snapshots.
#![allow(dead_code)]

/// Compares `text` with `snapshots/<name>.snap` (the top-level folder), after the filters
/// (regex, replacement) that blank out what changes from run to run.
pub fn assert_snapshot(name: &str, description: &str, filters: &[(&str, &str)], text: String) {
    let mut settings = insta::Settings::clone_current();
    // Absolute: insta resolves a relative path against the file that calls the macro (this one).
    settings.set_snapshot_path(super::repo("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    for (regex, replacement) in filters {
        settings.add_filter(regex, *replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}
