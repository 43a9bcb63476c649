//! Config files and command-line flags, read as Redis reads redis.conf: lines split
//! with quotes and escapes, comments, `include`, settings of several words (`save 900 1
//! 300 10`), repeated lines. Both end up as directives given to the settings table.

use super::{DEPRECATED, NOT_IMPLEMENTED, ServerConfig, Value, find};
use std::path::{Path, PathBuf};

/// How deep `include` may nest: deeper is taken for a loop Redis would never leave.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The largest config file read.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Settings whose line may hold several words (`save 900 1 300 10`); every other setting
/// takes exactly one, as in Redis.
pub(crate) const MULTI_WORD: &[&str] = &[
    "save",
    "bind",
    "client-output-buffer-limit",
    "peer",
    "removed-peer",
    "oom-score-adj-values",
    "latency-tracking-info-percentiles",
    "replicaof",
];

/// Where a directive came from, for its error.
const COMMAND_LINE: &str = "the command line";

/// Why a config file or the flags could not be read; shown as Redis shows it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("Fatal error, can't open config file '{path}': {why}")]
    Open {
        /// The file.
        path: String,
        /// The system's reason.
        why: String,
    },
    /// A line is wrong.
    #[error(
        "\n*** FATAL CONFIG FILE ERROR (Concord {}) ***\nReading {origin}, at {at}\n>>> '{text}'\n{why}",
        env!("CARGO_PKG_VERSION")
    )]
    Line {
        /// The file (or the command line).
        origin: String,
        /// Where in it: `line 3`, or for flags `flag 2`.
        at: String,
        /// The line.
        text: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Reads directives into a config.
pub struct Loader<'a> {
    cfg: &'a mut ServerConfig,
    /// Whether a `save` line was read: the first replaces the default, later ones add.
    saw_save: bool,
    /// The files being read, outermost first, to refuse an include loop.
    reading: Vec<PathBuf>,
}

impl<'a> Loader<'a> {
    /// A loader that changes `cfg`.
    pub fn new(cfg: &'a mut ServerConfig) -> Self {
        Loader {
            cfg,
            saw_save: false,
            reading: Vec::new(),
        }
    }

    /// Reads a config file (paths are relative to the working directory, as Redis's).
    pub fn file(&mut self, path: &Path) -> Result<(), LoadError> {
        let open_err = |why: String| LoadError::Open {
            path: path.display().to_string(),
            why,
        };
        let real = std::fs::canonicalize(path).map_err(|e| open_err(e.to_string()))?;
        if self.reading.contains(&real) {
            return Err(open_err("it includes itself (an include loop)".into()));
        }
        if self.reading.len() >= MAX_INCLUDE_DEPTH {
            return Err(open_err(format!(
                "includes nest more than {MAX_INCLUDE_DEPTH} deep"
            )));
        }
        // A device or a giant file would never end or fill memory: config files are
        // regular files of reasonable size.
        let meta = std::fs::metadata(&real).map_err(|e| open_err(e.to_string()))?;
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            return Err(open_err(format!(
                "not a regular file of at most {MAX_FILE_BYTES} bytes"
            )));
        }
        let bytes = std::fs::read(&real).map_err(|e| open_err(e.to_string()))?;
        self.reading.push(real);
        let r = self.text(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
        self.reading.pop();
        r
    }

    /// `include FILE`: a file, or with `*`, `?` or `[` in its name every file of its
    /// directory that matches, in name order (none is fine: an empty `conf.d`), as in
    /// Redis.
    fn include(&mut self, spec: &str) -> Result<(), LoadError> {
        let path = Path::new(spec);
        let wild = |s: &str| s.contains(['*', '?', '[']);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(pattern) = name.filter(|n| wild(n)) else {
            return self.file(path);
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if wild(&dir.to_string_lossy()) {
            return Err(LoadError::Open {
                path: spec.into(),
                why: "wildcards are taken in the file name only".into(),
            });
        }
        let mut matches: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                    .filter(|e| {
                        let n = e.file_name();
                        concord_engine::glob_match(
                            pattern.as_bytes(),
                            n.to_string_lossy().as_bytes(),
                            false,
                        )
                    })
                    .map(|e| dir.join(e.file_name()))
                    .collect()
            })
            .unwrap_or_default();
        matches.sort();
        matches.iter().try_for_each(|p| self.file(p))
    }

    /// Reads the text of a config file; `origin` names it in errors.
    pub fn text(&mut self, origin: &str, text: &str) -> Result<(), LoadError> {
        for (n, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |why: String| LoadError::Line {
                origin: format!("the configuration file {origin}"),
                at: format!("line {}", n + 1),
                text: line.to_string(),
                why,
            };
            let words = concord_resp::split_args(line.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            if words.is_empty() {
                continue;
            }
            if words[0].eq_ignore_ascii_case("include") && words.len() == 2 {
                // An error inside the included file names that file and its line.
                self.include(&words[1])?;
                continue;
            }
            // A user's rules are split again by the ACL parser: keep their quotes.
            let rest = line
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r.trim());
            self.directive(&words, rest).map_err(fail)?;
        }
        Ok(())
    }

    /// Reads `--name value...` flags, each a directive as a config line would give it
    /// (Redis appends its flags to the config file's text).
    pub fn flags(&mut self, flags: &[(String, Vec<String>)]) -> Result<(), LoadError> {
        for (n, (name, values)) in flags.iter().enumerate() {
            if name.eq_ignore_ascii_case("include") && values.len() == 1 {
                self.include(&values[0])?;
                continue;
            }
            let words: Vec<String> = std::iter::once(name.clone())
                .chain(values.iter().cloned())
                .collect();
            let rest = values.join(" ");
            self.directive(&words, &rest)
                .map_err(|why| LoadError::Line {
                    origin: COMMAND_LINE.into(),
                    at: format!("flag {}", n + 1),
                    text: format!("--{name} {rest}"),
                    why,
                })?;
        }
        Ok(())
    }

    /// Applies one directive: its words, and the line's text after the first word.
    fn directive(&mut self, words: &[String], rest: &str) -> Result<(), String> {
        let name = words[0].to_ascii_lowercase();
        let argc = words.len();
        if let Some(s) = find(&name) {
            let multi = MULTI_WORD.contains(&s.name);
            if s.name == "user" {
                return s.parse_into(self.cfg, rest);
            }
            if !multi && argc != 2 {
                return Err("wrong number of arguments".into());
            }
            if argc < 2 {
                return Err("wrong number of arguments".into());
            }
            let mut value = words[1..].join(" ");
            if s.name == "save" {
                // Several `save` lines add up; `save ""` removes every point.
                if self.saw_save && !value.trim().is_empty() {
                    value = format!("{} {value}", self.cfg.save.show());
                }
                self.saw_save = true;
            }
            return s.parse_into(self.cfg, &value);
        }
        if DEPRECATED.iter().any(|(d, n)| *d == name && *n == argc) {
            return Ok(());
        }
        if NOT_IMPLEMENTED.contains(&name.as_str()) {
            return Err(format!(
                "Concord does not implement Redis's '{name}' setting (\"Not implemented, and why\" in the README says why): remove the line"
            ));
        }
        match name.as_str() {
            "include" => Err("include takes one file".into()),
            "rename-command" => Err(
                "rename-command is not supported by Concord: take commands away from users with ACL rules (user ... -command) instead".into(),
            ),
            "loadmodule" => Err("Concord does not load Redis modules".into()),
            _ => Err("Bad directive or wrong number of arguments".into()),
        }
    }
}

pub use concord_resp::quote_arg as quote;

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServerConfig, LoadError> {
        let mut c = ServerConfig::default();
        Loader::new(&mut c).text("t.conf", text)?;
        Ok(c)
    }

    fn why(text: &str) -> String {
        match load(text) {
            Err(LoadError::Line { why, .. }) => why,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn quoting_escapes_and_comments() {
        let c = load(
            "# a comment\n\n   \t# indented comment\nrequirepass \"a b\\x41\\n\"\r\nmaxclients '12'\n  timeout    5  \n",
        )
        .expect("loads");
        assert_eq!(c.requirepass.as_deref(), Some("a bA\n"));
        assert_eq!(c.maxclients, 12);
        assert_eq!(c.timeout, 5);
        assert_eq!(
            why("requirepass \"open"),
            "Unbalanced quotes in configuration line"
        );
        assert_eq!(
            why("requirepass \"a\"b"),
            "Unbalanced quotes in configuration line"
        );
    }

    #[test]
    fn units_and_kinds() {
        let c = load("maxmemory 1kb\nauto-aof-rewrite-min-size 2M\nappendonly YES\n").unwrap();
        assert_eq!(c.maxmemory.0, 1024);
        assert_eq!(c.auto_aof_rewrite_min_size.0, 2_000_000);
        assert!(c.appendonly);
        assert_eq!(why("maxmemory 1.5gb"), "argument must be a memory value");
        assert_eq!(why("appendonly maybe"), "argument must be 'yes' or 'no'");
        assert_eq!(
            why("maxclients 1k"),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            why("loglevel loud"),
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
        );
    }

    #[test]
    fn several_words_and_repeated_lines() {
        let c = load("save 900 1 300 10\nsave 60 10000\n").unwrap();
        assert_eq!(c.save.show(), "900 1 300 10 60 10000");
        let c = load("save 900 1\nsave \"\"\n").unwrap();
        assert_eq!(c.save.show(), "");
        let c = load("save \"900 1\"\n").unwrap();
        assert_eq!(c.save.show(), "900 1");
        let c = load("maxclients 5\nmaxclients 7\n").unwrap();
        assert_eq!(c.maxclients, 7, "the last line wins");
        assert_eq!(why("save 900"), "Invalid save parameters");
        assert_eq!(why("maxclients 5 6"), "wrong number of arguments");
        assert_eq!(why("maxclients"), "wrong number of arguments");
    }

    #[test]
    fn aliases_deprecated_and_refused_directives() {
        let c = load("hash-max-ziplist-entries 512\nlua-time-limit 100\nlist-max-ziplist-entries 5\nslave-read-only yes\n").unwrap();
        assert_eq!(c.busy_reply_threshold, 100);
        assert!(why("hash-max-ziplist-entries 128").contains("Concord supports only '512'"));
        assert!(why("rename-command CONFIG \"\"").contains("rename-command is not supported"));
        assert_eq!(
            why("nosuch 1"),
            "Bad directive or wrong number of arguments"
        );
        assert!(why("loadmodule /x.so").contains("modules"));
        assert!(why("rdbcompression yes").contains("does not implement"));
        assert!(why("replicaof 127.0.0.1 6380").contains("not replicas"));
        load("slaveof no one\n").expect("no primary is what Concord does");
    }

    #[test]
    fn errors_name_the_line() {
        let err = load("port 7000\n\nmaxclients abc\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
        assert!(err.contains("at line 3"), "{err}");
        assert!(err.contains(">>> 'maxclients abc'"), "{err}");
    }

    #[test]
    fn include_reads_other_files_and_refuses_loops() {
        let dir = std::env::temp_dir().join(format!("concord-include-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("main.conf");
        let part = dir.join("part.conf");
        std::fs::write(&part, "maxclients 42\n").unwrap();
        std::fs::write(
            &main,
            format!(
                "timeout 3\ninclude {}\n",
                quote(&part.display().to_string())
            ),
        )
        .unwrap();
        let mut c = ServerConfig::default();
        Loader::new(&mut c).file(&main).unwrap();
        assert_eq!((c.timeout, c.maxclients), (3, 42));

        // A bad line inside an included file names that file.
        std::fs::write(&part, "maxclients x\n").unwrap();
        let err = Loader::new(&mut c).file(&main).unwrap_err().to_string();
        assert!(err.contains("part.conf, at line 1"), "{err}");

        // A file that includes itself, directly or not, is refused.
        std::fs::write(&part, format!("include {}\n", main.display())).unwrap();
        let err = Loader::new(&mut c).file(&main).unwrap_err().to_string();
        assert!(err.contains("include loop"), "{err}");
        let err = Loader::new(&mut c)
            .file(&dir.join("missing.conf"))
            .unwrap_err();
        assert!(matches!(err, LoadError::Open { .. }), "{err}");
        let err = Loader::new(&mut c)
            .file(Path::new("/dev/zero"))
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");

        // Wildcards take every matching file in name order; none matching is fine.
        let d = dir.join("conf.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("a.conf"), "maxclients 1\ntimeout 9\n").unwrap();
        std::fs::write(d.join("b.conf"), "maxclients 2\n").unwrap();
        std::fs::write(d.join("b.txt"), "maxclients 3\n").unwrap();
        let mut c = ServerConfig::default();
        let d = d.display();
        let text = format!("include {d}/*.conf\ninclude {d}/*.none\n");
        Loader::new(&mut c).text("w", &text).unwrap();
        assert_eq!((c.maxclients, c.timeout), (2, 9));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flags_are_directives() {
        let mut c = ServerConfig::default();
        let flags = vec![
            ("save".to_string(), vec!["900".into(), "1".into()]),
            ("maxmemory".to_string(), vec!["2mb".into()]),
        ];
        Loader::new(&mut c).flags(&flags).unwrap();
        assert_eq!(c.save.show(), "900 1");
        assert_eq!(c.maxmemory.0, 2 << 20);
        let part =
            std::env::temp_dir().join(format!("concord-flag-include-{}", std::process::id()));
        std::fs::write(&part, "timeout 4\n").unwrap();
        let include = vec![("include".to_string(), vec![part.display().to_string()])];
        Loader::new(&mut c).flags(&include).unwrap();
        std::fs::remove_file(&part).unwrap();
        assert_eq!(
            c.timeout, 4,
            "--include reads a file, as redis-server's does"
        );
        let bad = vec![("maxclients".to_string(), vec!["1".into(), "2".into()])];
        let err = Loader::new(&mut c).flags(&bad).unwrap_err().to_string();
        assert!(err.contains("--maxclients 1 2"), "{err}");
    }

    #[test]
    fn quoted_words_read_back() {
        for w in [
            "plain",
            "",
            "a b",
            "q\"uote",
            "back\\slash",
            "new\nline",
            "it's",
            "\x01",
        ] {
            let line = format!("x {}", quote(w));
            let words = concord_resp::split_args(line.as_bytes()).expect("splits");
            assert_eq!(words[1], w.as_bytes(), "{w:?}");
        }
    }
}
