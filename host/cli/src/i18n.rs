//! Messages in the user's language, from the Project Fluent catalogs embedded in the binary
//! (`locales/ja/*.ftl`, `locales/en/*.ftl`): Japanese under a Japanese locale, English otherwise.
//!
//! The locale is the first of `LC_ALL`, `LC_MESSAGES` and `LANG` that is set and not empty (as
//! POSIX orders them); a value starting with `ja` selects Japanese. A message is written with
//! [`t!`](crate::t): `t!("counter-issued", serial = s.as_str())`. Every id used in the code
//! exists in both catalogs, and the catalogs hold the same ids (the tests check both).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
pub use fluent_bundle::FluentArgs;
use fluent_bundle::FluentResource;

/// A language of the catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 日本語: the default at a Japanese municipal counter.
    Ja,
    /// English.
    En,
}

/// The catalog files of each language: (file name, contents), embedded at build time.
pub const CATALOGS: [(Lang, &[(&str, &str)]); 2] = [
    (
        Lang::Ja,
        &[
            ("common.ftl", include_str!("../locales/ja/common.ftl")),
            ("citizen.ftl", include_str!("../locales/ja/citizen.ftl")),
            ("counter.ftl", include_str!("../locales/ja/counter.ftl")),
            ("jpki.ftl", include_str!("../locales/ja/jpki.ftl")),
            ("authority.ftl", include_str!("../locales/ja/authority.ftl")),
            ("net.ftl", include_str!("../locales/ja/net.ftl")),
            ("errors.ftl", include_str!("../locales/ja/errors.ftl")),
            ("demo.ftl", include_str!("../locales/ja/demo.ftl")),
            ("help.ftl", include_str!("../locales/ja/help.ftl")),
        ],
    ),
    (
        Lang::En,
        &[
            ("common.ftl", include_str!("../locales/en/common.ftl")),
            ("citizen.ftl", include_str!("../locales/en/citizen.ftl")),
            ("counter.ftl", include_str!("../locales/en/counter.ftl")),
            ("jpki.ftl", include_str!("../locales/en/jpki.ftl")),
            ("authority.ftl", include_str!("../locales/en/authority.ftl")),
            ("net.ftl", include_str!("../locales/en/net.ftl")),
            ("errors.ftl", include_str!("../locales/en/errors.ftl")),
            ("demo.ftl", include_str!("../locales/en/demo.ftl")),
            ("help.ftl", include_str!("../locales/en/help.ftl")),
        ],
    ),
];

impl Lang {
    /// The language the locale environment asks for.
    pub fn from_env() -> Lang {
        let var = |name| std::env::var(name).ok();
        Lang::from_locale(var("LC_ALL"), var("LC_MESSAGES"), var("LANG"))
    }

    /// The language of the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty.
    pub fn from_locale(
        lc_all: Option<String>,
        lc_messages: Option<String>,
        lang: Option<String>,
    ) -> Lang {
        match [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty())
        {
            Some(v) if v.starts_with("ja") => Lang::Ja,
            _ => Lang::En,
        }
    }

    fn code(self) -> u8 {
        match self {
            Lang::Ja => 1,
            Lang::En => 2,
        }
    }
}

/// The language in use: 0 until chosen (then from the environment on first use).
static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Chooses the language of all later messages (the binary takes it from the environment; tests
/// and embedders may choose).
pub fn set_lang(lang: Lang) {
    CURRENT.store(lang.code(), Ordering::Relaxed);
}

/// The language in use.
pub fn lang() -> Lang {
    match CURRENT.load(Ordering::Relaxed) {
        1 => Lang::Ja,
        2 => Lang::En,
        _ => {
            let lang = Lang::from_env();
            set_lang(lang);
            lang
        }
    }
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> &'static Bundle {
    static JA: OnceLock<Bundle> = OnceLock::new();
    static EN: OnceLock<Bundle> = OnceLock::new();
    let cell = match lang {
        Lang::Ja => &JA,
        Lang::En => &EN,
    };
    cell.get_or_init(|| load(lang))
}

/// The bundle of `lang`'s catalogs. A catalog that does not parse is a bug caught by the tests;
/// its good entries are still used.
fn load(lang: Lang) -> Bundle {
    let tag = match lang {
        Lang::Ja => "ja",
        Lang::En => "en",
    };
    let mut bundle = Bundle::new_concurrent(vec![tag.parse().expect("a valid language tag")]);
    // Terminal output: no Unicode isolation marks around the arguments.
    bundle.set_use_isolating(false);
    let files = CATALOGS
        .iter()
        .find(|(l, _)| *l == lang)
        .map_or(&[][..], |(_, files)| files);
    for (_, source) in files {
        let resource = FluentResource::try_new((*source).to_string()).unwrap_or_else(|(r, _)| r);
        let _ = bundle.add_resource(resource);
    }
    bundle
}

/// Message `id` in the language in use, with `args`; the id itself if the catalog lacks it.
pub fn text(id: &str, args: Option<&FluentArgs>) -> String {
    text_in(lang(), id, args)
}

/// Message `id` in `lang`, with `args`; the id itself if the catalog lacks it.
pub fn text_in(lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
    let bundle = bundle(lang);
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_string();
    };
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, args, &mut errors)
        .into_owned()
}

/// Whether `lang`'s catalogs hold message `id`.
pub fn has(lang: Lang, id: &str) -> bool {
    bundle(lang).has_message(id)
}

/// The ids of the messages of `lang`'s catalogs, with the file that holds each.
pub fn message_ids(lang: Lang) -> Vec<(String, &'static str)> {
    let files = CATALOGS
        .iter()
        .find(|(l, _)| *l == lang)
        .map_or(&[][..], |(_, files)| files);
    let mut ids = Vec::new();
    for (file, source) in files {
        for line in source.lines() {
            let Some((id, _)) = line.split_once('=') else {
                continue;
            };
            let id = id.trim_end();
            if id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                ids.push((id.to_string(), *file));
            }
        }
    }
    ids
}

/// A message from the catalogs in the language in use: `t!(ID)`, or with arguments
/// `t!(ID, name = value, …)`, ID a string literal (each value a string or a number).
#[macro_export]
macro_rules! t {
    ($id:literal) => {
        $crate::i18n::text($id, None)
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::i18n::FluentArgs::new();
        $(args.set(stringify!($name), $value);)+
        $crate::i18n::text($id, Some(&args))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn the_locale_chooses_the_language() {
        assert_eq!(Lang::from_locale(None, None, s("ja_JP.UTF-8")), Lang::Ja);
        assert_eq!(Lang::from_locale(None, None, s("C.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(None, None, None), Lang::En);
        assert_eq!(
            Lang::from_locale(s("C"), s("ja_JP.UTF-8"), s("ja_JP.UTF-8")),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale(s(""), s("ja_JP.UTF-8"), s("en_US.UTF-8")),
            Lang::Ja
        );
        assert_eq!(Lang::from_locale(None, s("en_GB"), s("ja_JP")), Lang::En);
    }

    #[test]
    fn catalogs_parse_and_hold_the_same_ids() {
        for (lang, files) in CATALOGS {
            for (file, source) in files {
                if let Err((_, errors)) = FluentResource::try_new(source.to_string()) {
                    panic!("{lang:?}/{file} does not parse: {errors:?}");
                }
            }
        }
        let ids = |lang| {
            message_ids(lang)
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let (ja, en) = (ids(Lang::Ja), ids(Lang::En));
        assert!(!ja.is_empty());
        let only_ja: Vec<_> = ja.iter().filter(|(id, _)| !en.contains_key(*id)).collect();
        let only_en: Vec<_> = en.iter().filter(|(id, _)| !ja.contains_key(*id)).collect();
        assert!(
            only_ja.is_empty(),
            "only in the Japanese catalog: {only_ja:?}"
        );
        assert!(
            only_en.is_empty(),
            "only in the English catalog: {only_en:?}"
        );
        for (id, file) in &ja {
            assert_eq!(
                en[id], *file,
                "{id} is in {file} in Japanese, {} in English",
                en[id]
            );
        }
    }

    /// Every `t!("id"…)` in the sources names a message of both catalogs.
    #[test]
    fn every_id_the_code_uses_exists() {
        let ja: std::collections::BTreeSet<_> = message_ids(Lang::Ja)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut used = 0;
        let mut missing = Vec::new();
        for (file, source) in sources() {
            for id in used_ids(&source) {
                used += 1;
                if !ja.contains(&id) {
                    missing.push(format!("{file}: {id}"));
                }
            }
        }
        assert!(used > 100, "only {used} message ids found in the sources");
        assert!(
            missing.is_empty(),
            "ids used but in no catalog: {missing:#?}"
        );
    }

    #[test]
    fn arguments_and_plurals() {
        let mut args = FluentArgs::new();
        args.set("tries_left", 1);
        let en = text_in(Lang::En, "err-wrong-pin", Some(&args));
        assert!(en.contains("1 try left"), "{en}");
        args.set("tries_left", 2);
        let ja = text_in(Lang::Ja, "err-wrong-pin", Some(&args));
        assert!(ja.contains("あと2回"), "{ja}");
        assert!(!ja.contains('\u{2068}'), "no isolation marks: {ja:?}");
    }

    /// The CLI's sources, read from the crate directory (but this file, which defines `t!`).
    fn sources() -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path.display().to_string(), text));
                }
            }
        }
        out
    }

    /// The ids in `t!("…"` calls (`t!` not preceded by an identifier character).
    fn used_ids(source: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let bytes = source.as_bytes();
        let mut from = 0;
        while let Some(at) = source[from..].find("t!(") {
            let at = from + at;
            from = at + 3;
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let rest = source[from..].trim_start();
            if let Some(lit) = rest.strip_prefix('"') {
                if let Some(end) = lit.find('"') {
                    ids.push(lit[..end].to_string());
                }
            }
        }
        ids
    }
}
