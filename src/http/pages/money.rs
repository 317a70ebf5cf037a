//! An amount as a customer reads it: `1 250,00 MAD` (fr), `1,250.00 MAD` (en), `1.250,00 MAD`
//! (ar). Arabic uses Western digits with Morocco's separators (CLDR `ar-MA`), as Moroccan
//! receipts and CMI's page do; the currency is its ISO code in every language.
//!
//! The digits come from [`Money::to_decimal_string`], the exact conversion every provider uses:
//! no float, and the currency's own number of decimals (none for JPY, three for KWD).

use super::lang::Lang;
use crate::domain::Money;

/// The amount and its currency, joined by a no-break space so they never wrap apart.
pub(crate) fn format(money: Money, lang: Lang) -> String {
    let decimal = money.to_decimal_string();
    let (units, cents) = decimal
        .split_once('.')
        .map_or((decimal.as_str(), None), |(u, c)| (u, Some(c)));
    let (group, point) = match lang {
        // CLDR fr: a narrow no-break space between thousands.
        Lang::Fr => ('\u{202f}', ','),
        Lang::En => (',', '.'),
        Lang::Ar => ('.', ','),
    };
    let mut out = grouped(units, group);
    if let Some(cents) = cents {
        out.push(point);
        out.push_str(cents);
    }
    out.push('\u{a0}');
    out.push_str(money.currency().code());
    out
}

/// `1234567` → `1,234,567` with `sep`.
fn grouped(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::parse(code).unwrap()).unwrap()
    }

    #[test]
    fn amounts_read_as_money_in_each_language() {
        let cases = [
            (5000, "MAD", Lang::Fr, "50,00\u{a0}MAD"),
            (5000, "MAD", Lang::En, "50.00\u{a0}MAD"),
            (5000, "MAD", Lang::Ar, "50,00\u{a0}MAD"),
            (1, "MAD", Lang::Fr, "0,01\u{a0}MAD"),
            (125_000, "MAD", Lang::Fr, "1\u{202f}250,00\u{a0}MAD"),
            (125_000, "MAD", Lang::En, "1,250.00\u{a0}MAD"),
            (125_000, "MAD", Lang::Ar, "1.250,00\u{a0}MAD"),
            (123_456_789, "EUR", Lang::En, "1,234,567.89\u{a0}EUR"),
            (100_000, "EUR", Lang::En, "1,000.00\u{a0}EUR"),
            (1500, "JPY", Lang::Fr, "1\u{202f}500\u{a0}JPY"),
            (1, "KWD", Lang::En, "0.001\u{a0}KWD"),
        ];
        for (minor, code, lang, want) in cases {
            assert_eq!(
                format(money(minor, code), lang),
                want,
                "{minor} {code} {lang:?}"
            );
        }
    }
}
