//! `--functions DIR`: each subdirectory is a function named after it. Its
//! optional `function.json` holds the same properties a SAM template gives
//! a function (`Runtime`, `Handler`, `MemorySize`, `Timeout`,
//! `Environment.Variables`, `ReservedConcurrentExecutions`,
//! `EventInvokeConfig`, `FunctionUrlConfig`, `Architectures`); without one,
//! the subdirectory's executable `bootstrap` is the function
//! (`provided.al2023`). The code is the subdirectory itself.

use super::{FunctionSpec, LoadError, Properties};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The per-function configuration file's name.
pub const CONFIG_FILE: &str = "function.json";

/// The functions under `dir`, in name order. Hidden subdirectories and
/// plain files are skipped; a subdirectory with neither a `function.json`
/// nor an executable `bootstrap` is refused, saying so.
pub fn load(dir: &Path) -> Result<Vec<FunctionSpec>, LoadError> {
    let read = |path: &Path, err: std::io::Error| LoadError::Read {
        path: path.display().to_string(),
        err: err.to_string(),
    };
    let entries = std::fs::read_dir(dir).map_err(|err| read(dir, err))?;
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| read(dir, err))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        subdirs.push((name, entry.path()));
    }
    subdirs.sort();
    let mut functions = Vec::new();
    for (name, path) in subdirs {
        let config_path = path.join(CONFIG_FILE);
        let properties = match std::fs::read(&config_path) {
            Ok(text) => {
                serde_json::from_slice::<Value>(&text).map_err(|err| LoadError::Invalid {
                    function: name.clone(),
                    message: format!("{} is not valid JSON: {err}", config_path.display()),
                })?
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if !is_executable(&path.join("bootstrap")) {
                    return Err(LoadError::Invalid {
                        function: name,
                        message: format!(
                            "{} has neither an executable bootstrap nor a {CONFIG_FILE}",
                            path.display()
                        ),
                    });
                }
                serde_json::json!({ "Runtime": "provided.al2023" })
            }
            Err(err) => return Err(read(&config_path, err)),
        };
        if !properties.is_object() {
            return Err(LoadError::Invalid {
                function: name,
                message: format!("{} is not a JSON object", config_path.display()),
            });
        }
        let mut spec = Properties::new(&name, &properties, false).into_spec(name.clone(), &path)?;
        spec.code_uri = path;
        functions.push(spec);
    }
    if functions.is_empty() {
        return Err(LoadError::EmptyDir {
            dir: dir.display().to_string(),
        });
    }
    Ok(functions)
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subdirectory_is_a_function() {
        let root = std::env::temp_dir().join(format!("rapid-fn-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let write = |rel: &str, text: &str, mode: u32| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("b-native/bootstrap", "#!/bin/sh\n", 0o755);
        write(
            "a-py/function.json",
            r#"{"Runtime": "python3.12", "Handler": "app.handler", "Timeout": 9,
                "Environment": {"Variables": {"K": "v"}}}"#,
            0o644,
        );
        write(".hidden/bootstrap", "", 0o755);
        let functions = load(&root).unwrap();
        let names: Vec<_> = functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a-py", "b-native"]);
        assert_eq!(functions[0].runtime, "python3.12");
        assert_eq!(functions[0].timeout_s, 9);
        assert_eq!(functions[0].environment["K"], "v");
        assert_eq!(functions[0].code_uri, root.join("a-py"));
        assert_eq!(functions[1].runtime, "provided.al2023");

        write("c-empty/readme", "", 0o644);
        let err = load(&root).unwrap_err().to_string();
        assert!(
            err.contains("c-empty") && err.contains("bootstrap"),
            "{err}"
        );
        write("c-empty/function.json", "[1]", 0o644);
        let err = load(&root).unwrap_err().to_string();
        assert!(err.contains("not a JSON object"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
