//! How each function's runtime is started, there being no base images:
//! `provided.*` runs `<CodeUri>/bootstrap`; `python3.*` runs
//! `python3 -m awslambdaric <Handler>`; `nodejs*` runs `aws-lambda-ric
//! <Handler>` when that command is installed. `--runtime-command
//! RUNTIME=COMMAND` overrides or adds one (RUNTIME exact, or a prefix
//! ending in `*`); the handler replaces `{handler}` in COMMAND, else is
//! appended. The runtime's working directory is always the CodeUri.

use std::path::{Path, PathBuf};

/// One `--runtime-command` given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeCommand {
    /// `python3.12`, or `python3.*` for every runtime it starts.
    pub pattern: String,
    pub words: Vec<String>,
}

impl std::str::FromStr for RuntimeCommand {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((pattern, command)) = text.split_once('=') else {
            return Err(format!(
                "{text:?} is not RUNTIME=COMMAND (e.g. 'python3.*=/opt/py/bin/python -m awslambdaric')"
            ));
        };
        let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if pattern.trim().is_empty() || words.is_empty() {
            return Err(format!(
                "{text:?}: both the runtime and its command are needed"
            ));
        }
        Ok(RuntimeCommand {
            pattern: pattern.trim().to_owned(),
            words,
        })
    }
}

impl RuntimeCommand {
    fn matches(&self, runtime: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => runtime.starts_with(prefix),
            None => runtime == self.pattern,
        }
    }
}

/// Why a function's runtime cannot be started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeError {
    #[error("function {function}: runtime {runtime} is not one rapid knows how to start here; give its command with --runtime-command '{runtime}=COMMAND' (the handler is appended, or replaces {{handler}})")]
    Unknown { function: String, runtime: String },
    #[error("function {function}: runtime {runtime} needs the {command} command, which is not on PATH (install it, or give --runtime-command '{runtime}=COMMAND')")]
    NotInstalled {
        function: String,
        runtime: String,
        command: String,
    },
    #[error("function {function}: no Runtime given and {bootstrap} is not there; say Runtime (e.g. provided.al2023 with a bootstrap, python3.12)")]
    NoRuntime { function: String, bootstrap: String },
}

/// The runtime's command line for a function of `runtime` with `handler`
/// whose code is in `code_uri`; `overrides` first, in the order given.
pub fn command(
    function: &str,
    runtime: &str,
    handler: &str,
    code_uri: &Path,
    overrides: &[RuntimeCommand],
    path_var: Option<&std::ffi::OsStr>,
) -> Result<Vec<String>, RuntimeError> {
    if let Some(given) = overrides.iter().find(|c| c.matches(runtime)) {
        return Ok(with_handler(&given.words, handler));
    }
    let bootstrap = code_uri.join("bootstrap");
    if runtime.is_empty() {
        // No runtime said: a custom runtime when there is a bootstrap.
        return match bootstrap.is_file() {
            true => Ok(vec![bootstrap.display().to_string()]),
            false => Err(RuntimeError::NoRuntime {
                function: function.to_owned(),
                bootstrap: bootstrap.display().to_string(),
            }),
        };
    }
    if runtime.starts_with("provided") {
        return Ok(vec![bootstrap.display().to_string()]);
    }
    if runtime.starts_with("python3") {
        let python = ["python3", "-m", "awslambdaric"].map(str::to_owned);
        return Ok(with_handler(&python, handler));
    }
    if runtime.starts_with("nodejs") {
        let ric = "aws-lambda-ric";
        return match on_path(ric, path_var) {
            Some(found) => Ok(vec![found.display().to_string(), handler.to_owned()]),
            None => Err(RuntimeError::NotInstalled {
                function: function.to_owned(),
                runtime: runtime.to_owned(),
                command: ric.to_owned(),
            }),
        };
    }
    Err(RuntimeError::Unknown {
        function: function.to_owned(),
        runtime: runtime.to_owned(),
    })
}

fn with_handler(words: &[String], handler: &str) -> Vec<String> {
    let mut out: Vec<String> = words
        .iter()
        .map(|w| w.replace("{handler}", handler))
        .collect();
    if !words.iter().any(|w| w.contains("{handler}")) && !handler.is_empty() {
        out.push(handler.to_owned());
    }
    out
}

/// `name` as found on `PATH`.
fn on_path(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(name))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_runtime_has_its_command() {
        let code = Path::new("/code");
        let cmd = |runtime: &str, overrides: &[RuntimeCommand]| {
            command(
                "f",
                runtime,
                "app.handler",
                code,
                overrides,
                Some("/nowhere".as_ref()),
            )
        };
        assert_eq!(cmd("provided.al2023", &[]).unwrap(), ["/code/bootstrap"]);
        assert_eq!(
            cmd("python3.12", &[]).unwrap(),
            ["python3", "-m", "awslambdaric", "app.handler"]
        );
        let err = cmd("nodejs20.x", &[]).unwrap_err();
        assert!(err.to_string().contains("aws-lambda-ric"), "{err}");
        let err = cmd("java21", &[]).unwrap_err().to_string();
        assert!(err.contains("--runtime-command 'java21=COMMAND'"), "{err}");
        let py: RuntimeCommand = "python3.*=/venv/bin/python -m awslambdaric"
            .parse()
            .unwrap();
        assert_eq!(
            cmd("python3.11", &[py]).unwrap(),
            ["/venv/bin/python", "-m", "awslambdaric", "app.handler"]
        );
        let java: RuntimeCommand = "java21=java -cp {handler}.jar Main".parse().unwrap();
        assert_eq!(
            cmd("java21", &[java]).unwrap(),
            ["java", "-cp", "app.handler.jar", "Main"]
        );
        assert!("python3.12".parse::<RuntimeCommand>().is_err());
        assert!("python3.12=".parse::<RuntimeCommand>().is_err());
    }

    #[test]
    fn nodejs_runs_aws_lambda_ric_when_it_is_installed() {
        let dir = std::env::temp_dir().join(format!("rapid-ric-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ric = dir.join("aws-lambda-ric");
        std::fs::write(&ric, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ric, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(["/nowhere".as_ref(), dir.as_path()]).unwrap();
        let got = command(
            "f",
            "nodejs22.x",
            "index.handler",
            Path::new("/c"),
            &[],
            Some(&path),
        );
        assert_eq!(
            got.unwrap(),
            [ric.display().to_string(), "index.handler".to_owned()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
