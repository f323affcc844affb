//! The compiled filter: one `RegexSet` for all patterns (individual regexes
//! only run to mask or to name what matched), one Aho-Corasick automaton for
//! all blocked words and category keywords, one for category exceptions.
//! Built once per configuration, so checking a 10k-token prompt is a couple
//! of linear scans.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde_json::{Value, json};

use crate::config::{Action, Settings, Severity};

struct PatternRule {
    name: String,
    regex: Regex,
    action: Action,
}

#[derive(Clone)]
enum WordSource {
    Blocked { description: Option<String> },
    Category { category: String, severity: Severity },
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
    set: Option<RegexSet>,
    patterns: Vec<PatternRule>,
    words: Option<AhoCorasick>,
    word_rules: Vec<WordRule>,
    exceptions: Option<AhoCorasick>,
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
            let regex =
                RegexBuilder::new(&source).case_insensitive(true).build().map_err(|e| format!("patterns[{i}]: invalid regex: {e}"))?;
            patterns.push(PatternRule { name, regex, action: p.action });
        }
        let set = if patterns.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(patterns.iter().map(|p| p.regex.as_str()))
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("patterns: {e}"))?,
            )
        };

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
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(words)
                .map(Some)
                .map_err(|e| format!("keywords: {e}"))
        };
        let words = automaton(word_rules.iter().map(|r| r.keyword.as_str()).collect())?;
        let exceptions = automaton(exceptions.iter().map(String::as_str).collect())?;
        Ok(Self {
            set,
            patterns,
            words,
            word_rules,
            exceptions,
            pattern_format: s.pattern_redaction_format.clone(),
            keyword_tag: s.keyword_redaction_tag.clone(),
        })
    }

    /// Checks one text: category keywords, then patterns, then blocked words;
    /// each step sees the text as masked by the steps before.
    pub fn check(&self, text: &str) -> Outcome {
        let mut current: Option<String> = None;
        let exempt = self.exceptions.as_ref().is_some_and(|ac| ac.is_match(text));

        // Category keywords first, then patterns, then blocked words.
        if let Some(out) = self.check_words(text, &mut current, |r| matches!(r.source, WordSource::Category { .. }) && !exempt) {
            return out;
        }
        if let Some(set) = &self.set {
            let t = current.as_deref().unwrap_or(text);
            let hits: Vec<usize> = set.matches(t).into_iter().collect();
            for i in hits {
                let p = &self.patterns[i];
                match p.action {
                    Action::Block => {
                        return Outcome::Blocked(
                            format!("Content blocked: {} pattern detected", p.name),
                            json!({ "error": format!("Content blocked: {} pattern detected", p.name), "pattern": p.name }),
                        );
                    }
                    Action::Mask => {
                        let tag = self.pattern_format.replace("{pattern_name}", &p.name.to_uppercase());
                        let t = current.as_deref().unwrap_or(text);
                        current = Some(p.regex.replace_all(t, regex::NoExpand(&tag)).into_owned());
                    }
                }
            }
        }
        let t = current.clone();
        if let Some(out) = self.check_words(t.as_deref().unwrap_or(text), &mut current, |r| matches!(r.source, WordSource::Blocked { .. }))
        {
            return out;
        }
        match current {
            Some(masked) if masked != text => Outcome::Masked(masked),
            _ => Outcome::Clean,
        }
    }

    /// Scans for keywords accepted by `which`; blocks on the first BLOCK
    /// rule, masks every MASK occurrence.
    fn check_words(&self, text: &str, current: &mut Option<String>, which: impl Fn(&WordRule) -> bool) -> Option<Outcome> {
        let ac = self.words.as_ref()?;
        let base = current.clone().unwrap_or_else(|| text.to_string());
        let bytes = base.as_bytes();
        let mut masked = String::with_capacity(base.len());
        let mut last = 0;
        let mut changed = false;
        for m in ac.find_iter(&base) {
            let rule = &self.word_rules[m.pattern().as_usize()];
            if !which(rule) {
                continue;
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
        WordSource::Category { category, severity } => {
            let msg = format!("Content blocked: {category} category keyword '{}' detected (severity: {})", rule.keyword, severity.as_str());
            Outcome::Blocked(
                msg.clone(),
                json!({ "error": msg, "category": category, "keyword": rule.keyword, "severity": severity.as_str() }),
            )
        }
    }
}
