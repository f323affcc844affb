//! The compiled filter: each pattern a regex compiled once (ASCII mode where
//! possible), one Aho-Corasick automaton for all blocked words and category
//! keywords, one for category exceptions. Built once per configuration.
//!
//! Patterns run one by one with `is_match` rather than as one `RegexSet`:
//! measured on a 40 KB prompt, a single regex uses its literal prefilter
//! (`@` for e-mail, `-` for SSNs, `AKIA` for AWS keys) and answers in about a
//! microsecond, while a set has to scan every byte (85–95 µs per pattern).
//! Keywords match against an ASCII-lower-cased copy of the text with a
//! case-sensitive automaton, which keeps its prefilter (4 µs against 86 µs
//! for a case-insensitive one).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};
use serde_json::{Value, json};

use crate::config::{Action, Settings, Severity};

struct PatternRule {
    name: String,
    regex: Regex,
    /// A prebuilt pattern that cannot match text without an ASCII digit.
    needs_digit: bool,
    action: Action,
}

/// Prebuilt patterns spell out their own letter case; custom regexes are
/// wrapped in `(?i:...)` to match case-insensitively, as in LiteLLM.
/// ASCII mode (`\d`, `\b` on ASCII) scans faster; a pattern that needs
/// Unicode (a negated class that could match non-ASCII text) keeps it.
fn compile(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source).unicode(false).build().or_else(|_| RegexBuilder::new(source).build())
}

#[derive(Clone)]
enum WordSource {
    Blocked {
        description: Option<String>,
    },
    Category {
        category: String,
        severity: Severity,
    },
    /// A category exception phrase: its presence exempts the text from
    /// category checks. In the same automaton so one scan finds both.
    Exception,
}

struct WordRule {
    keyword: String,
    action: Action,
    /// Category keywords that are single words match whole words only.
    whole_word: bool,
    source: WordSource,
}

/// What the filter decided about one text.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Nothing matched (or only rules that did not change anything).
    Clean,
    /// Rewritten with redactions.
    Masked(String),
    /// Refused: a reason and LiteLLM-shaped details.
    Blocked(String, Value),
}

/// A compiled filter.
pub struct Filter {
    patterns: Vec<PatternRule>,
    words: Option<AhoCorasick>,
    word_rules: Vec<WordRule>,
    pattern_format: String,
    keyword_tag: String,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Filter {
    /// Compiles a configuration; errors name the offending entry.
    pub fn build(s: &Settings) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for (i, p) in s.patterns.iter().enumerate() {
            let (name, source) = p.resolve().map_err(|e| format!("patterns[{i}]: {e}"))?;
            let source = if p.pattern_type.eq_ignore_ascii_case("regex") { format!("(?i:{source})") } else { source };
            let regex = compile(&source).map_err(|e| format!("patterns[{i}]: invalid regex: {e}"))?;
            let needs_digit = crate::patterns::NEEDS_DIGIT.contains(&name.as_str()) && !p.pattern_type.eq_ignore_ascii_case("regex");
            patterns.push(PatternRule { name, regex, needs_digit, action: p.action });
        }
        let mut word_rules: Vec<WordRule> = Vec::new();
        let mut exceptions: Vec<String> = Vec::new();
        for (i, c) in s.categories.iter().enumerate().filter(|(_, c)| c.enabled) {
            let data = crate::config::category(&c.category).ok_or_else(|| {
                format!("categories[{i}]: unknown category {:?} (known: {})", c.category, crate::config::category_names().join(", "))
            })?;
            let threshold = c.severity_threshold.unwrap_or(s.severity_threshold);
            let action = c.action.unwrap_or(data.default_action);
            for k in data.keywords.iter().filter(|k| k.severity >= threshold) {
                word_rules.push(WordRule {
                    keyword: k.keyword.to_lowercase(),
                    action,
                    whole_word: !k.keyword.contains(' '),
                    source: WordSource::Category { category: c.category.clone(), severity: k.severity },
                });
            }
            exceptions.extend(data.exceptions.iter().map(|e| e.to_lowercase()));
        }
        for e in exceptions {
            if !word_rules.iter().any(|r| r.keyword == e) {
                word_rules.push(WordRule { keyword: e, action: Action::Mask, whole_word: false, source: WordSource::Exception });
            }
        }
        for w in s.all_blocked_words()? {
            let keyword = w.keyword.to_lowercase();
            // A later entry for the same keyword wins, as in LiteLLM.
            word_rules.retain(|r| !(r.keyword == keyword && matches!(r.source, WordSource::Blocked { .. })));
            word_rules.push(WordRule {
                keyword,
                action: w.action,
                whole_word: false,
                source: WordSource::Blocked { description: w.description },
            });
        }
        let automaton = |words: Vec<&str>| -> Result<Option<AhoCorasick>, String> {
            if words.is_empty() {
                return Ok(None);
            }
            // Keywords are stored lower-case and matched against an ASCII
            // lower-cased copy of the text (same byte offsets): a
            // case-insensitive automaton loses its prefilter and scans about
            // twenty times slower. A full DFA does one table lookup per byte,
            // which matters in wasm when the keywords are too varied for a
            // prefilter.
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .build(words)
                .map(Some)
                .map_err(|e| format!("keywords: {e}"))
        };
        let words = automaton(word_rules.iter().map(|r| r.keyword.as_str()).collect())?;
        Ok(Self {
            patterns,
            words,
            word_rules,
            pattern_format: s.pattern_redaction_format.clone(),
            keyword_tag: s.keyword_redaction_tag.clone(),
        })
    }

    /// Checks one text: category keywords, then patterns, then blocked words;
    /// each step sees the text as masked by the steps before.
    pub fn check(&self, text: &str) -> Outcome {
        let mut current: Option<String> = None;
        // One scan of one lower-cased copy finds every keyword and exception
        // (rescanned only if pattern masking changed the text in between).
        let found: Vec<aho_corasick::Match> = match &self.words {
            Some(ac) => ac.find_iter(&text.to_ascii_lowercase()).collect(),
            None => Vec::new(),
        };
        let exempt = found.iter().any(|m| matches!(self.word_rules[m.pattern().as_usize()].source, WordSource::Exception));
        // Branch-free per 64-byte block so the scan vectorises.
        let has_digit = self.patterns.iter().any(|p| p.needs_digit)
            && text.as_bytes().chunks(64).any(|block| block.iter().fold(0u8, |acc, b| acc | u8::from(b.wrapping_sub(b'0') < 10)) != 0);

        // Category keywords first, then patterns, then blocked words.
        if let Some(out) = self.check_words(text, &found, &mut current, |r| matches!(r.source, WordSource::Category { .. }) && !exempt) {
            return out;
        }
        for p in &self.patterns {
            let t = current.as_deref().unwrap_or(text);
            if (p.needs_digit && !has_digit) || !p.regex.is_match(t) {
                continue;
            }
            match p.action {
                Action::Block => {
                    return Outcome::Blocked(
                        format!("Content blocked: {} pattern detected", p.name),
                        json!({ "error": format!("Content blocked: {} pattern detected", p.name), "pattern": p.name }),
                    );
                }
                Action::Mask => {
                    let tag = self.pattern_format.replace("{pattern_name}", &p.name.to_uppercase());
                    current = Some(p.regex.replace_all(t, regex::NoExpand(&tag)).into_owned());
                }
            }
        }
        if let Some(out) = self.check_words(text, &found, &mut current, |r| matches!(r.source, WordSource::Blocked { .. })) {
            return out;
        }
        match current {
            Some(masked) if masked != text => Outcome::Masked(masked),
            _ => Outcome::Clean,
        }
    }

    /// Scans for keywords accepted by `which`; blocks on the first BLOCK
    /// rule, masks every MASK occurrence.
    fn check_words(
        &self,
        text: &str,
        found: &[aho_corasick::Match],
        current: &mut Option<String>,
        which: impl Fn(&WordRule) -> bool,
    ) -> Option<Outcome> {
        let ac = self.words.as_ref()?;
        let base: &str = current.as_deref().unwrap_or(text);
        let rescanned: Vec<aho_corasick::Match>;
        let found = if current.is_some() {
            rescanned = ac.find_iter(&base.to_ascii_lowercase()).collect();
            &rescanned
        } else {
            found
        };
        let bytes = base.as_bytes();
        let mut masked = String::new();
        let mut last = 0;
        let mut changed = false;
        for m in found {
            let rule = &self.word_rules[m.pattern().as_usize()];
            if !which(rule) {
                continue;
            }
            if !changed {
                masked.reserve(base.len());
            }
            if rule.whole_word {
                let before = m.start() > 0 && is_word_byte(bytes[m.start() - 1]);
                let after = m.end() < bytes.len() && is_word_byte(bytes[m.end()]);
                if before || after {
                    continue;
                }
            }
            match rule.action {
                Action::Block => return Some(block_for(rule)),
                Action::Mask => {
                    masked.push_str(&base[last..m.start()]);
                    masked.push_str(&self.keyword_tag);
                    last = m.end();
                    changed = true;
                }
            }
        }
        if changed {
            masked.push_str(&base[last..]);
            *current = Some(masked);
        }
        None
    }
}

fn block_for(rule: &WordRule) -> Outcome {
    match &rule.source {
        WordSource::Blocked { description } => {
            let suffix = description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
            let msg = format!("Content blocked: keyword '{}' detected{suffix}", rule.keyword);
            Outcome::Blocked(msg.clone(), json!({ "error": msg, "keyword": rule.keyword, "description": description }))
        }
        // Exceptions never block (check_words never selects them).
        WordSource::Exception => Outcome::Clean,
        WordSource::Category { category, severity } => {
            let msg = format!("Content blocked: {category} category keyword '{}' detected (severity: {})", rule.keyword, severity.as_str());
            Outcome::Blocked(
                msg.clone(),
                json!({ "error": msg, "category": category, "keyword": rule.keyword, "severity": severity.as_str() }),
            )
        }
    }
}
