//! `rapid timeline FILE [-o PAGE]`: turns a timeline written with
//! `--timeline FILE` into one self-contained HTML page (the timeline inside
//! it, the drawing code inline: nothing is fetched to view it).
//!
//! rapid's command line is otherwise aws-lambda-rie's, `rapid [flags]
//! <bootstrap command...>`, and a bootstrap may be called `timeline`: the
//! subcommand is only taken when the very first argument is `timeline` and
//! the second is a file holding a timeline rapid wrote. `rapid -- timeline
//! ...` always runs a bootstrap.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const TEMPLATE: &str = include_str!("timeline_page.html");
const SLOT: &str = "__TIMELINE__";

/// A `rapid timeline` command line, read.
#[derive(Debug)]
pub struct PageCommand {
    /// The timeline's text, already checked to be one.
    timeline: Vec<u8>,
    source: PathBuf,
    /// What the rest of the command line said.
    output: Result<Output, String>,
}

#[derive(Debug, PartialEq)]
enum Output {
    Stdout,
    File(PathBuf),
}

/// The `timeline` subcommand, when `args` (the whole command line, the
/// program first) is one; `None` means: run rapid as usual.
pub fn command(args: impl IntoIterator<Item = OsString>) -> Option<PageCommand> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != "timeline" {
        return None;
    }
    let source = PathBuf::from(args.next()?);
    let timeline = std::fs::read(&source).ok()?;
    if !telemetry::timeline::is_timeline(&timeline) {
        return None;
    }
    Some(PageCommand {
        timeline,
        source,
        output: output(args.collect()),
    })
}

fn output(rest: Vec<OsString>) -> Result<Output, String> {
    let usage = "usage: rapid timeline FILE [-o PAGE.html]";
    match rest.as_slice() {
        [] => Ok(Output::Stdout),
        [flag, path] if flag == "-o" || flag == "--output" => Ok(Output::File(path.into())),
        [flag] => match flag.to_str().and_then(|f| f.strip_prefix("--output=")) {
            Some(path) if !path.is_empty() => Ok(Output::File(path.into())),
            _ => Err(usage.to_owned()),
        },
        _ => Err(usage.to_owned()),
    }
}

impl PageCommand {
    /// Writes the page; says what failed on stderr (exit status 2).
    pub fn run(self) -> ExitCode {
        let fail = |message: String| {
            eprintln!("rapid timeline: {message}");
            ExitCode::from(2)
        };
        let output = match self.output {
            Ok(output) => output,
            Err(usage) => return fail(usage),
        };
        let page = match page(&self.timeline) {
            Ok(page) => page,
            Err(err) => return fail(format!("{}: {err}", self.source.display())),
        };
        let written = match &output {
            Output::Stdout => std::io::stdout().lock().write_all(page.as_bytes()),
            Output::File(path) => std::fs::write(path, page.as_bytes()),
        };
        match (written, output) {
            (Ok(()), _) => ExitCode::SUCCESS,
            (Err(err), Output::File(path)) => {
                fail(format!("cannot write {}: {err}", path.display()))
            }
            (Err(err), Output::Stdout) => fail(format!("cannot write the page: {err}")),
        }
    }
}

/// The page for `timeline` (a timeline's JSON).
pub fn page(timeline: &[u8]) -> Result<String, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(timeline)?;
    // Inside <script>: no "</script>" may appear. '<' only occurs inside
    // JSON strings, where \u003c means the same.
    let json = serde_json::to_string(&value)?.replace('<', "\\u003c");
    Ok(TEMPLATE.replacen(SLOT, &json, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn timeline_file(text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "rapid-page-{}-{}.json",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    const TIMELINE: &str = r#"{"otherData":{"producer":"rapid"},"traceEvents":[
{"ph":"X","name":"invoke","pid":0,"tid":1,"ts":1,"dur":2,"args":{"requestId":"</script><b>"}}
]}"#;

    #[test]
    fn only_a_timeline_after_the_word_is_the_subcommand() {
        let file = timeline_file(TIMELINE);
        let path = file.to_str().unwrap();
        let page = command(args(&["rapid", "timeline", path, "-o", "p.html"])).unwrap();
        assert_eq!(page.output, Ok(Output::File("p.html".into())));
        let page = command(args(&["rapid", "timeline", path])).unwrap();
        assert_eq!(page.output, Ok(Output::Stdout));
        let page = command(args(&["rapid", "timeline", path, "--bogus"])).unwrap();
        assert!(page.output.is_err());
        // A bootstrap: after --, with flags first, or not given a timeline.
        assert!(command(args(&["rapid", "--", "timeline", path])).is_none());
        assert!(command(args(&["rapid", "--no-freeze", "timeline", path])).is_none());
        assert!(command(args(&["rapid", "timeline", "handler.main"])).is_none());
        let other = timeline_file("{\"traceEvents\":[]}");
        assert!(command(args(&["rapid", "timeline", other.to_str().unwrap()])).is_none());
        let _ = std::fs::remove_file(file);
        let _ = std::fs::remove_file(other);
    }

    #[test]
    fn the_page_holds_the_timeline_without_closing_its_script() {
        let page = page(TIMELINE.as_bytes()).unwrap();
        assert!(!page.contains(SLOT));
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(page.contains(r#"\u003c/script>\u003cb>"#));
    }
}
