//! paygate's values in CMI's terms and back: amounts, language, customer fields, return codes.

use crate::domain::{Currency, Failure, Money, Operation, Outcome};

/// The form `amount` and API `Total`: major units with exactly the currency's decimals
/// (`15000` MAD → `150.00`), through `rust_decimal`, never a float (specs/cmi.md §9).
pub fn amount(money: Money) -> String {
    money.to_decimal_string()
}

/// Minor units from a decimal string CMI echoed (`150.00`, `150.0`); `None` if it is not an
/// exact amount in `currency`.
pub fn parse_amount(text: &str, currency: Currency) -> Option<i64> {
    Money::parse_decimal(text, currency).ok().map(Money::minor)
}

/// The `oid` of an attempt: paygate's operation key (`pg-<32 hex>`), unique per attempt, within
/// `[A-Za-z0-9-]{1,64}`, and the same on a retry of the same operation (DESIGN.md §2.2).
pub fn oid(op: &Operation) -> String {
    op.id.provider_key()
}

/// CMI's page languages are `fr`, `ar` and `en`; anything else (or nothing) gets French, the
/// language most Moroccan cardholders see on CMI's page by default.
pub fn lang(locale: &str) -> &'static str {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match primary.as_str() {
        "ar" => "ar",
        "en" => "en",
        _ => "fr",
    }
}

/// A `BillTo*` value as CMI's own JSP sample sends it: `[0-9A-Za-z _-]` only, accents folded to
/// their base letter and other characters dropped, trimmed, at most `max` characters. Hash
/// rejections with accented names are reported on CMI (specs/cmi.md §3), and these fields are
/// only shown in the Merchant Center, so nothing is lost that matters.
pub fn sanitize(text: &str, max: usize) -> String {
    let folded: String = text
        .chars()
        .filter_map(|c| {
            let base = fold(c);
            (base.is_ascii_alphanumeric() || matches!(base, ' ' | '_' | '-')).then_some(base)
        })
        .collect();
    let collapsed = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Latin letters with diacritics common in French, Spanish and Turkish names, to their base.
fn fold(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => 'a',
        'À' | 'Â' | 'Ä' | 'Á' | 'Ã' | 'Å' => 'A',
        'ç' => 'c',
        'Ç' => 'C',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'É' | 'È' | 'Ê' | 'Ë' => 'E',
        'î' | 'ï' | 'í' | 'ì' | 'ı' => 'i',
        'Î' | 'Ï' | 'Í' | 'Ì' | 'İ' => 'I',
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' => 'o',
        'Ô' | 'Ö' | 'Ó' | 'Ò' | 'Õ' => 'O',
        'û' | 'ü' | 'ú' | 'ù' => 'u',
        'Û' | 'Ü' | 'Ú' | 'Ù' => 'U',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ÿ' => 'y',
        'ş' => 's',
        'Ş' => 'S',
        'ğ' => 'g',
        'Ğ' => 'G',
        other => other,
    }
}

/// `BillToCountry`: CMI's kit sends the numeric code (`504`); whether alpha-2 is accepted is
/// unverified, so Morocco (nearly every CMI cardholder) goes as `504`, others as given.
pub fn country(alpha2: &str) -> String {
    match alpha2.trim().to_ascii_uppercase().as_str() {
        "MA" => "504".to_owned(),
        other => sanitize(other, 3),
    }
}

/// An e-mail or phone as CMI accepts it: printable ASCII without spaces, trimmed, bounded.
pub fn sanitize_contact(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect()
}

/// Whether a declined code is a refusal by the issuer (DECLINED) or a processing problem
/// (FAILED), and paygate's normalized code (specs/cmi.md §7.1).
fn normalized(proc_return_code: &str, response: &str) -> (&'static str, bool) {
    let declined = |code| (code, true);
    let failed = |code| (code, false);
    match proc_return_code {
        "01" | "02" => declined("call_issuer"),
        "03" => failed("invalid_merchant"),
        "04" | "07" => declined("pickup_card"),
        "05" => declined("do_not_honor"),
        "09" | "28" => declined("try_again_later"),
        "12" => declined("invalid_transaction"),
        "13" => declined("invalid_amount"),
        "14" | "15" => declined("invalid_card_number"),
        "33" | "54" => declined("expired_card"),
        "41" => declined("lost_card"),
        "43" => declined("stolen_card"),
        "51" => declined("insufficient_funds"),
        "57" | "58" => declined("transaction_not_allowed"),
        "61" | "65" => declined("limit_exceeded"),
        "62" => declined("restricted_card"),
        "77" => declined("card_declined"),
        "82" => declined("incorrect_cvc"),
        "91" => declined("issuer_unavailable"),
        "96" | "99" => failed("processor_error"),
        "" => failed("processor_error"),
        _ if response == "Declined" => declined("card_declined"),
        _ => failed("processor_error"),
    }
}

/// The outcome of an attempt CMI did not approve, keeping CMI's code and message.
/// `md_status` is used only when `ProcReturnCode` is missing (3-D Secure failed, §5.4).
pub fn refusal(proc_return_code: &str, response: &str, err_msg: &str, md_status: &str) -> Outcome {
    let (mut code, declined) = normalized(proc_return_code, response);
    let mut declined = declined;
    if proc_return_code.is_empty() && matches!(md_status, "0" | "5" | "6" | "7" | "8") {
        code = "authentication_failed";
        declined = true;
    }
    let failure = Failure {
        code: code.to_owned(),
        message: message(code).to_owned(),
        provider_code: proc_return_code.to_owned(),
        provider_message: err_msg.chars().take(256).collect(),
    };
    if declined {
        Outcome::Declined(failure)
    } else {
        Outcome::Failed(failure)
    }
}

fn message(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "the card has insufficient funds",
        "expired_card" => "the card has expired",
        "authentication_failed" => "3-D Secure authentication failed",
        "processor_error" => "CMI could not process the payment",
        "invalid_merchant" => "CMI does not accept this merchant set-up",
        _ => "the card was declined",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn mad(minor: i64) -> Money {
        Money::new(minor, Currency::parse("MAD").unwrap()).unwrap()
    }

    #[test]
    fn amounts_have_exactly_two_decimals_and_round_trip() {
        let cur = Currency::parse("MAD").unwrap();
        for (minor, text) in [(15000, "150.00"), (5, "0.05"), (1025, "10.25"), (1, "0.01")] {
            assert_eq!(amount(mad(minor)), text);
            assert_eq!(parse_amount(text, cur), Some(minor));
        }
        assert_eq!(parse_amount("150.0", cur), Some(15000));
        assert_eq!(parse_amount("150.001", cur), None);
        assert_eq!(parse_amount("1,50", cur), None);
        assert_eq!(parse_amount("", cur), None);
    }

    #[test]
    fn languages_map_to_what_cmi_knows() {
        assert_eq!(lang("ar-MA"), "ar");
        assert_eq!(lang("en_GB"), "en");
        assert_eq!(lang("fr"), "fr");
        assert_eq!(lang(""), "fr");
        assert_eq!(lang("de"), "fr");
    }

    #[test]
    fn billing_fields_are_folded_to_plain_ascii() {
        assert_eq!(
            sanitize("  Hélène  Çelik-Goëmans ", 64),
            "Helene Celik-Goemans"
        );
        assert_eq!(sanitize("12, rue de l'Église", 64), "12 rue de lEglise");
        assert_eq!(sanitize("محمد العلوي", 64), "");
        assert_eq!(sanitize("A|B\\C", 64), "ABC");
        assert_eq!(sanitize("abcdef", 3), "abc");
        assert_eq!(sanitize_contact(" a b@x.ma\n", 64), "ab@x.ma");
        assert_eq!(country("ma"), "504");
        assert_eq!(country("FR"), "FR");
    }

    #[test]
    fn return_codes_follow_the_spec_table() {
        let code = |o: Outcome| match o {
            Outcome::Declined(f) => ("declined", f.code, f.provider_code),
            Outcome::Failed(f) => ("failed", f.code, f.provider_code),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            code(refusal("51", "Declined", "Insufficient", "1")),
            ("declined", "insufficient_funds".into(), "51".into())
        );
        assert_eq!(code(refusal("54", "Declined", "", "1")).1, "expired_card");
        assert_eq!(code(refusal("05", "Declined", "", "1")).1, "do_not_honor");
        assert_eq!(code(refusal("99", "Error", "CORE", "1")).0, "failed");
        assert_eq!(code(refusal("03", "Declined", "", "1")).0, "failed");
        assert_eq!(code(refusal("N7", "Declined", "", "1")).1, "card_declined");
        assert_eq!(code(refusal("N7", "Error", "", "1")).0, "failed");
        assert_eq!(
            code(refusal("", "Declined", "", "0")),
            ("declined", "authentication_failed".into(), String::new())
        );
        assert_eq!(code(refusal("", "Error", "", "1")).1, "processor_error");
    }
}
