//! What a run will do, before anything runs: the scenario files found under the paths given
//! (`FILE#CASE` for one case of a persona), loaded, paired with their senders ([`super::plan`]),
//! and the order of the persona cases for the compatibility matrix.

use std::path::{Path, PathBuf};

use super::{AdapterError, Adapters, Job, JobResult};
use crate::scenario::{AnyScenario, AnyScenarioFile, ScenarioError, SenderKind};

/// Everything a run will do, made by [`load`] and carried out by [`super::execute`].
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The (scenario, sender) pairs to run.
    pub jobs: Vec<Job>,
    /// The pairs left out (a sender the scenario is not for, no `sender` line …), as `SKIP`
    /// results, in file order.
    pub skipped: Vec<JobResult>,
    /// The columns of the compatibility matrix: every persona case, each after the case it
    /// follows in its file.
    pub case_order: Vec<String>,
}

impl Plan {
    /// A plan of these jobs and nothing else (no skipped pairs, no persona cases).
    pub fn of_jobs(jobs: Vec<Job>) -> Self {
        Plan {
            jobs,
            ..Plan::default()
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A directory could not be listed.
    #[error("cannot read {}", path.display())]
    Unreadable {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The paths hold no scenario file.
    #[error("no scenario files (*.scn) found in {}", display_list(paths))]
    NoFiles {
        /// The paths given.
        paths: Vec<PathBuf>,
    },
    /// Some files (or cases) could not be loaded; nothing runs.
    #[error("{} scenario file(s) cannot be loaded", problems.len())]
    Broken {
        /// Each file's problem, in file order.
        problems: Vec<LoadProblem>,
    },
}

/// One scenario file (or case) that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadProblem {
    /// The file does not load (its error names the file, line and column).
    #[error("{0}")]
    Scenario(ScenarioError),
    /// The scenario names an adapter (a sender or receiver) the configuration does not declare.
    #[error("{0}")]
    Adapter(AdapterError),
    /// `FILE#CASE` names a case the file does not have.
    #[error("{}: no case `{case}` (the file has {})", file.display(), case_list(cases))]
    NoCase {
        /// The file.
        file: PathBuf,
        /// The case asked for.
        case: String,
        /// The cases the file has.
        cases: Vec<String>,
    },
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn case_list(cases: &[String]) -> String {
    if cases.is_empty() {
        "none".into()
    } else {
        cases.join(", ")
    }
}

/// Reads the scenario files under `paths` (a directory gives every `*.scn` below it, sorted;
/// `FILE#CASE` one case of a persona) and pairs each scenario with its senders, or with `only`
/// (see [`super::plan`]).
///
/// # Errors
/// [`LoadError::Unreadable`] when a directory cannot be listed, [`LoadError::NoFiles`] when
/// the paths hold no scenario file, [`LoadError::Broken`] with every file or case that does not
/// load.
pub fn load(
    paths: &[PathBuf],
    only: Option<SenderKind>,
    adapters: &Adapters,
) -> Result<Plan, LoadError> {
    let files = scenario_files(paths)?;
    let mut scenarios = Vec::new();
    let mut case_order: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for given in &files {
        let (file, only_case) = split_case(given);
        match AnyScenarioFile::from_file(&file) {
            Ok(loaded) if loaded.case_names().is_empty() && only_case.is_none() => {
                let scenario = match loaded {
                    AnyScenarioFile::Server(f) => AnyScenario::Server(f.persona),
                    AnyScenarioFile::Client(c) => AnyScenario::Client(c),
                };
                scenarios.push((file.display().to_string(), scenario));
            }
            Ok(loaded) => {
                let names = loaded.case_names();
                merge_case_order(&mut case_order, &names);
                let cases: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                let before = scenarios.len();
                let server_cases = match loaded {
                    AnyScenarioFile::Server(f) => f.cases,
                    AnyScenarioFile::Client(_) => Vec::new(),
                };
                for case in server_cases {
                    let name = case.header.case.clone().unwrap_or_default();
                    if only_case.as_ref().is_none_or(|only| *only == name) {
                        let name = format!("{}#{name}", file.display());
                        scenarios.push((name, AnyScenario::Server(case)));
                    }
                }
                if scenarios.len() == before {
                    problems.push(LoadProblem::NoCase {
                        file,
                        case: only_case.unwrap_or_default(),
                        cases,
                    });
                }
            }
            Err(e) => problems.push(LoadProblem::Scenario(e)),
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Broken { problems });
    }
    // Every adapter named must be declared (a persona's cases share its sender line: once).
    let mut undeclared = std::collections::BTreeMap::new();
    for (_, scenario) in &scenarios {
        if let Err(e) = adapters.check_scenario(scenario) {
            undeclared.entry(e.to_string()).or_insert(e);
        }
    }
    if !undeclared.is_empty() {
        let problems = undeclared.into_values().map(LoadProblem::Adapter).collect();
        return Err(LoadError::Broken { problems });
    }
    let (jobs, skipped) = super::plan(scenarios, only);
    Ok(Plan {
        jobs,
        skipped,
        case_order,
    })
}

/// The scenario files under `paths`: a file as it is (a missing one is reported by the loader
/// with its name), a directory as every `*.scn` below it, sorted.
///
/// # Errors
/// [`LoadError::Unreadable`] when a directory cannot be listed, [`LoadError::NoFiles`] when
/// there is no file.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files).map_err(|source| LoadError::Unreadable {
            path: path.clone(),
            source,
        })?;
    }
    if files.is_empty() {
        return Err(LoadError::NoFiles {
            paths: paths.to_vec(),
        });
    }
    Ok(files)
}

/// Adds `path` if it is a file, or every `*.scn` below it (sorted) if it is a directory.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "scn") {
            out.push(entry);
        }
    }
    Ok(())
}

/// `gmail.scn#bad-password` (as run's lines name a case) → the file and the case, when no file
/// has the whole name; anything else is a file on its own.
fn split_case(given: &Path) -> (PathBuf, Option<String>) {
    let text = given.to_string_lossy();
    match text.rsplit_once('#') {
        Some((file, case)) if !given.exists() && Path::new(file).is_file() => {
            (PathBuf::from(file), Some(case.to_owned()))
        }
        _ => (given.to_path_buf(), None),
    }
}

/// Adds a file's case names to the matrix's column order: a new name goes right after the
/// case it follows in the file (so `app-password-required`, first seen after `bad-password`,
/// sits next to it), or first if it is the file's first case.
fn merge_case_order(order: &mut Vec<String>, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        if order.iter().any(|o| o == name) {
            continue;
        }
        let at = match i.checked_sub(1) {
            Some(before) => order
                .iter()
                .position(|o| o == names[before])
                .map_or(order.len(), |p| p + 1),
            None => 0,
        };
        order.insert(at, (*name).to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_goes_after_the_case_it_follows_in_its_file() {
        let mut order = Vec::new();
        merge_case_order(&mut order, &["success", "bad-password", "throttled"]);
        merge_case_order(&mut order, &["success", "bad-password", "app-password"]);
        merge_case_order(&mut order, &["first", "success"]);
        assert_eq!(
            order,
            [
                "first",
                "success",
                "bad-password",
                "app-password",
                "throttled"
            ]
        );
    }

    #[test]
    fn a_hash_names_a_case_only_when_no_file_has_the_whole_name() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let persona = dir.path().join("p.scn");
        std::fs::write(&persona, "").expect("write");
        let given = PathBuf::from(format!("{}#bad-password", persona.display()));
        assert_eq!(
            split_case(&given),
            (persona.clone(), Some("bad-password".to_owned()))
        );
        std::fs::write(&given, "").expect("write");
        assert_eq!(split_case(&given), (given.clone(), None));
        let missing = dir.path().join("missing.scn#case");
        assert_eq!(split_case(&missing), (missing.clone(), None));
    }

    #[test]
    fn directories_give_their_scenario_files_sorted_and_nothing_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        for f in ["b.scn", "a.scn", "notes.txt", "sub/c.scn"] {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        let files = scenario_files(&[dir.path().to_path_buf()]).expect("files");
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).expect("below").to_owned())
            .collect();
        assert_eq!(
            names,
            [
                PathBuf::from("a.scn"),
                PathBuf::from("b.scn"),
                PathBuf::from("sub/c.scn")
            ]
        );
        let empty = dir.path().join("sub");
        std::fs::remove_file(empty.join("c.scn")).expect("rm");
        let error = scenario_files(std::slice::from_ref(&empty)).expect_err("no files");
        assert_eq!(
            error.to_string(),
            format!("no scenario files (*.scn) found in {}", empty.display())
        );
    }

    #[test]
    fn every_file_that_does_not_load_is_reported_and_nothing_runs() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let broken = dir.path().join("broken.scn");
        std::fs::write(&broken, "S: 25O hello\n").expect("write");
        let persona = dir.path().join("p.scn");
        std::fs::write(
            &persona,
            "S: 220 hi\nsender lettre\ncase ok\noutcome success\n",
        )
        .expect("write");
        let wrong_case = PathBuf::from(format!("{}#nope", persona.display()));
        let Err(LoadError::Broken { problems }) =
            load(&[broken, wrong_case], None, &Adapters::none())
        else {
            panic!("both files are reported");
        };
        assert_eq!(problems.len(), 2);
        assert!(matches!(problems[0], LoadProblem::Scenario(_)));
        assert_eq!(
            problems[1].to_string(),
            format!("{}: no case `nope` (the file has ok)", persona.display())
        );
        let plan = load(&[persona], None, &Adapters::none()).expect("loads");
        assert_eq!(plan.jobs.len(), 1);
        assert_eq!(
            plan.jobs[0].name,
            format!("{}#ok", dir.path().join("p.scn").display())
        );
        assert_eq!(plan.case_order, ["ok"]);
    }
}
