//! Which of the three languages a customer page speaks: French, Arabic or English.
//!
//! The shop's word comes first (the `lang` CMI echoes back from the Authorize `locale`, or a
//! `lang` query parameter), then the browser's `Accept-Language`, then French: the language
//! most Moroccan cardholders see on CMI's own page by default.

/// A language paygate's customer pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Fr,
    Ar,
    En,
}

impl Lang {
    pub(crate) const ALL: [Lang; 3] = [Lang::Fr, Lang::Ar, Lang::En];

    /// The BCP 47 tag for `<html lang>`.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::Ar => "ar",
            Self::En => "en",
        }
    }

    /// Arabic is written right to left; the browser then mirrors the layout.
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Self::Fr | Self::En => "ltr",
            Self::Ar => "rtl",
        }
    }

    /// `fr`, `fr-MA`, `ar_MA`, `EN-gb` → the language; anything else → `None`.
    pub(crate) fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|lang| primary.eq_ignore_ascii_case(lang.tag()))
    }

    /// The shop's hint if it names one of the three, else the browser's preference, else French.
    pub(crate) fn choose(hint: Option<&str>, accept_language: Option<&str>) -> Lang {
        hint.and_then(Lang::from_tag)
            .or_else(|| accept_language.and_then(preferred))
            .unwrap_or(Lang::Fr)
    }
}

/// The supported language with the highest `q` in an `Accept-Language` header (the first one
/// listed on a tie); `q=0` means "not this one". `q` is read as thousandths, never as a float.
fn preferred(header: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::from_tag) else {
            continue;
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1000), quality);
        let Some(q) = q.filter(|q| *q > 0) else {
            continue;
        };
        if best.is_none_or(|(top, _)| q > top) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

/// `1`, `1.0`, `0.8`, `0.123` → 1000, 1000, 800, 123; anything else → `None`.
fn quality(text: &str) -> Option<u16> {
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    let q = whole + frac;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shop_hint_wins_then_accept_language_then_french() {
        let cases = [
            (Some("ar"), Some("en-US,en;q=0.9"), Lang::Ar),
            (Some("en_GB"), None, Lang::En),
            (Some("de"), Some("ar-MA,fr;q=0.5"), Lang::Ar),
            (None, Some("en-US,en;q=0.9,fr;q=0.8"), Lang::En),
            (None, Some("de-DE,ar;q=0.3,en;q=0.7"), Lang::En),
            (None, Some("fr;q=0.5, ar;q=0.5"), Lang::Fr),
            (None, Some("en;q=0, ar;q=0.1"), Lang::Ar),
            (None, Some("de, es"), Lang::Fr),
            (None, Some("en;q=abc"), Lang::Fr),
            (None, Some("*"), Lang::Fr),
            (None, None, Lang::Fr),
        ];
        for (hint, header, want) in cases {
            assert_eq!(Lang::choose(hint, header), want, "{hint:?} {header:?}");
        }
    }

    #[test]
    fn q_values_are_read_without_floats() {
        assert_eq!(quality("1"), Some(1000));
        assert_eq!(quality("1.000"), Some(1000));
        assert_eq!(quality("0.8"), Some(800));
        assert_eq!(quality("0.123"), Some(123));
        assert_eq!(quality("1.5"), None);
        assert_eq!(quality("0.1234"), None);
        assert_eq!(quality("2"), None);
    }

    #[test]
    fn only_arabic_is_right_to_left() {
        assert_eq!(Lang::Ar.dir(), "rtl");
        assert_eq!(Lang::Fr.dir(), "ltr");
        assert_eq!(Lang::En.dir(), "ltr");
    }
}
