//! `.krmignore`: the file kpt reads to leave paths out of a package, with `.gitignore`
//! syntax. vmesh honours it wherever it walks a directory (`vmesh render`, kustomize
//! generator inputs), in every directory of the walk, deeper files overriding shallower ones.
//!
//! Supported: blank lines and `#` comments, `!` to re-include, a trailing `/` for
//! directories only, a leading or inner `/` to anchor a pattern to the `.krmignore`'s
//! directory (otherwise it matches a name at any depth), `*`, `?`, `[a-z]`/`[!a-z]` and `**`.

/// The patterns of one `.krmignore` file.
#[derive(Debug, Default, Clone)]
pub struct Rules(Vec<Rule>);

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    negated: bool,
    dir_only: bool,
    anchored: bool,
}

impl Rules {
    pub fn parse(text: &str) -> Rules {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, line) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line.strip_prefix('\\').unwrap_or(line)),
            };
            let (dir_only, line) = match line.strip_suffix('/') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let anchored = line.contains('/');
            let pattern = line.strip_prefix('/').unwrap_or(line).to_string();
            if pattern.is_empty() {
                continue;
            }
            rules.push(Rule {
                pattern,
                negated,
                dir_only,
                anchored,
            });
        }
        Rules(rules)
    }

    /// The verdict of these rules on `relative` (a `/`-separated path below the
    /// `.krmignore`'s directory): `Some(true)` ignored, `Some(false)` re-included by a `!`
    /// pattern, `None` when no pattern matches. The last matching pattern wins.
    pub fn verdict(&self, relative: &str, is_dir: bool) -> Option<bool> {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        let mut verdict = None;
        for rule in &self.0 {
            if rule.dir_only && !is_dir {
                continue;
            }
            let subject = if rule.anchored { relative } else { name };
            if glob(rule.pattern.as_bytes(), subject.as_bytes()) {
                verdict = Some(!rule.negated);
            }
        }
        verdict
    }
}

/// Matches a gitignore-style glob against a `/`-separated path.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', b'/', rest @ ..] => {
            // `**/` matches zero or more whole directories.
            glob(rest, text)
                || text
                    .iter()
                    .enumerate()
                    .any(|(i, c)| *c == b'/' && glob(rest, &text[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let segment = text.iter().position(|c| *c == b'/').unwrap_or(text.len());
            (0..=segment).any(|i| glob(rest, &text[i..]))
        }
        [b'?', rest @ ..] => {
            matches!(text.first(), Some(c) if *c != b'/') && glob(rest, &text[1..])
        }
        [b'[', rest @ ..] => match (text.first(), class(rest)) {
            (Some(c), Some((set, after))) if *c != b'/' => {
                set.contains(*c) && glob(after, &text[1..])
            }
            (_, None) => text.first() == Some(&b'[') && glob(rest, &text[1..]),
            _ => false,
        },
        [b'\\', c, rest @ ..] => text.first() == Some(c) && glob(rest, &text[1..]),
        [c, rest @ ..] => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// A `[...]` character class (the text after `[`): the class and the pattern after `]`.
fn class(pattern: &[u8]) -> Option<(Class<'_>, &[u8])> {
    let (negated, body) = match pattern.first() {
        Some(b'!' | b'^') => (true, &pattern[1..]),
        _ => (false, pattern),
    };
    // A `]` right after `[` or `[!` is a literal member.
    let close = body.iter().skip(1).position(|c| *c == b']')? + 1;
    Some((
        Class {
            negated,
            members: &body[..close],
        },
        &body[close + 1..],
    ))
}

struct Class<'a> {
    negated: bool,
    members: &'a [u8],
}

impl Class<'_> {
    fn contains(&self, c: u8) -> bool {
        let m = self.members;
        let mut found = false;
        let mut i = 0;
        while i < m.len() {
            if i + 2 < m.len() && m[i + 1] == b'-' {
                found |= (m[i]..=m[i + 2]).contains(&c);
                i += 3;
            } else {
                found |= m[i] == c;
                i += 1;
            }
        }
        found != self.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(rules: &str, path: &str, is_dir: bool) -> bool {
        Rules::parse(rules).verdict(path, is_dir) == Some(true)
    }

    #[test]
    fn names_match_at_any_depth_and_anchored_patterns_from_the_root() {
        assert!(ignored(".expected\n", ".expected", true));
        assert!(ignored("*.bak.yaml\n", "a/b/x.bak.yaml", false));
        assert!(!ignored("*.yaml\n", "a/b", true));
        assert!(ignored("/drafts\n", "drafts", true));
        assert!(!ignored("/drafts\n", "sub/drafts", true));
        assert!(ignored("sub/drafts\n", "sub/drafts", true));
        assert!(!ignored("sub/drafts\n", "x/sub/drafts", true));
    }

    #[test]
    fn directory_only_negation_and_double_star() {
        assert!(ignored("build/\n", "build", true));
        assert!(!ignored("build/\n", "build", false));
        assert!(ignored("**/tmp\n", "a/b/tmp", true));
        assert!(ignored("**/tmp\n", "tmp", true));
        assert!(ignored("a/**/x.yaml\n", "a/x.yaml", false));
        assert!(ignored("a/**/x.yaml\n", "a/b/c/x.yaml", false));
        assert!(ignored("a/**\n", "a/b/c", false));
        assert!(!ignored("*.yaml\n!keep.yaml\n", "keep.yaml", false));
        assert_eq!(
            Rules::parse("*.yaml\n!keep.yaml\n").verdict("keep.yaml", false),
            Some(false)
        );
        assert_eq!(
            Rules::parse("# only a comment\n\n").verdict("x", false),
            None
        );
    }

    #[test]
    fn wildcards_stay_within_a_segment_and_classes_work() {
        assert!(!ignored("a/*.yaml\n", "a/b/c.yaml", false));
        assert!(ignored("a/*.yaml\n", "a/c.yaml", false));
        assert!(ignored("v?.yaml\n", "v1.yaml", false));
        assert!(ignored("v[0-9].yaml\n", "v7.yaml", false));
        assert!(!ignored("v[!0-9].yaml\n", "v7.yaml", false));
        assert!(ignored("v[!0-9].yaml\n", "vx.yaml", false));
        assert!(ignored("\\#x\n", "#x", false));
    }
}
