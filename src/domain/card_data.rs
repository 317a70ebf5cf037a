//! Card numbers in caller text: paygate never takes one (README "Card numbers and caller text").
//!
//! A caller that pastes a card number into metadata, a reference or a customer field would
//! have it written to the ledger, the WAL, event copies and provider forms. The gRPC edge asks
//! [`CardDataScan`] about every string of every request before anything else happens.
//!
//! # What counts as a card number
//! Text is read as words: runs of letters and digits. A word of ASCII digits only is a digit
//! group; digit groups joined by exactly one space or dash form one number. A candidate is
//! - a digit group of 13–19 digits, or
//! - a number of two or more groups whose first group has 4 digits (how cards are printed:
//!   4-4-4-4, 4-6-5, 4-4-4-4-3), 13–19 digits in all, judged whole, or
//! - the first groups of a number printed as a card (4-4-4-4, 4-6-5, 4-6-4) followed by one
//!   group of 1–4 digits and nothing more: a card number with its CVV or expiry after it;
//!
//! not directly after a `+` (a phone number). It is a card number when it starts like one of
//! the networks CMI and PayPal take (3–6: Amex, Diners, JCB, Visa, Mastercard, Maestro,
//! Discover, UnionPay; 22–27: Mastercard's 2-series) and passes the Luhn check.
//!
//! So letters glued to digits make an identifier, not a number (`INV4111111111111111`, hex in
//! UUIDs), a run of 20 or more digits is not a card, and dates, unix times (which start with
//! 1 until 2033), E.164 phone numbers and RFC 4122 UUIDs never match. A bare 13–19 digit
//! reference that starts with 3–6 or 22–27 matches one time in ten (the Luhn odds).

use std::fmt;

/// Fewest and most digits of a card number (ISO/IEC 7812).
const DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

/// Whether `text` holds a card number, by the rule in the module documentation.
pub fn contains_card_number(text: &str) -> bool {
    let groups = digit_groups(text);
    let mut start = 0;
    while start < groups.len() {
        // The number that begins here runs while groups are joined to the one before.
        let end = groups
            .iter()
            .skip(start + 1)
            .position(|g| !g.joined)
            .map_or(groups.len(), |n| start + 1 + n);
        let number = groups.get(start..end).unwrap_or_default();
        if is_card_number(number) {
            return true;
        }
        start = end;
    }
    false
}

/// One digit group, and how it meets the text before it.
#[derive(Debug)]
struct Group<'a> {
    digits: &'a str,
    /// Joined to the previous digit group by exactly one space or dash.
    joined: bool,
    /// Directly after a `+`.
    after_plus: bool,
}

/// The digit groups of `text` in order. A word holding anything but ASCII digits is not a
/// group and breaks any number running through it.
fn digit_groups(text: &str) -> Vec<Group<'_>> {
    let mut groups = Vec::new();
    let mut previous: Option<(usize, bool)> = None; // (end of the last word, was it a group)
    let mut rest = text.char_indices().peekable();
    while let Some((start, c)) = rest.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        let word = text.get(start..end).unwrap_or_default();
        let gap = previous.map_or_else(
            || text.get(..start).unwrap_or_default(),
            |(p, _)| text.get(p..start).unwrap_or_default(),
        );
        let is_group = word.bytes().all(|b| b.is_ascii_digit());
        if is_group {
            groups.push(Group {
                digits: word,
                joined: matches!(previous, Some((_, true))) && matches!(gap, " " | "-"),
                after_plus: gap.ends_with('+'),
            });
        }
        // A word with letters breaks the number: the next group cannot join across it.
        previous = Some((end, is_group));
    }
    groups
}

/// How cards are printed: the groups a printed card number may be followed by a short tail in.
const PRINTED: [&[usize]; 3] = [&[4, 4, 4, 4], &[4, 6, 5], &[4, 6, 4]];

/// Whether one number (its groups, first to last) is or holds a card number.
fn is_card_number(number: &[Group<'_>]) -> bool {
    let Some(first) = number.first() else {
        return false;
    };
    let digits_of = |groups: &[Group<'_>]| {
        groups
            .iter()
            .flat_map(|g| g.digits.bytes())
            .collect::<Vec<u8>>()
    };
    // Each group on its own: a long group inside a longer number ("4111111111111111 12").
    let alone = number.iter().any(|g| {
        !g.after_plus && DIGITS.contains(&g.digits.len()) && is_card_digits(g.digits.as_bytes())
    });
    if alone || number.len() < 2 || first.after_plus || first.digits.len() != 4 {
        return alone;
    }
    let lens: Vec<usize> = number.iter().map(|g| g.digits.len()).collect();
    let whole = DIGITS.contains(&lens.iter().sum()) && is_card_digits(&digits_of(number));
    // A printed card number, then one short group: the CVV or an expiry ("... 1111 123").
    let printed_then_tail = PRINTED.iter().any(|layout| {
        lens.len() == layout.len() + 1
            && lens.starts_with(layout)
            && lens.last().is_some_and(|n| (1..=4).contains(n))
            && number
                .get(..layout.len())
                .is_some_and(|card| is_card_digits(&digits_of(card)))
    });
    whole || printed_then_tail
}

/// A card network's prefix and a valid Luhn check digit, over ASCII digits.
fn is_card_digits(digits: &[u8]) -> bool {
    let network = matches!(digits, [b'3'..=b'6', ..] | [b'2', b'2'..=b'7', ..]);
    network && luhn(digits)
}

/// The Luhn (mod 10) check over ASCII digits, as ISO/IEC 7812-1 defines it.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.saturating_sub(b'0'));
            match (i % 2 == 1, d * 2) {
                (false, _) => d,
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The request fields whose text holds a card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardDataFound {
    /// As the API names them (`customer.email`, `metadata[note]`); never the text itself.
    pub fields: Vec<String>,
}

impl fmt::Display for CardDataFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "card number in {}", self.fields.join(", "))
    }
}

/// Reads every string of one request, field by field, and remembers which hold a card number.
#[derive(Debug, Default)]
pub struct CardDataScan {
    fields: Vec<String>,
}

impl CardDataScan {
    pub fn text(&mut self, field: &str, text: &str) {
        if contains_card_number(text) {
            self.fields.push(field.to_owned());
        }
    }

    /// A map's keys and values. A value is named by its key (`metadata[note]`) unless the key
    /// itself holds a card number: then the field is just `metadata`, so the error never
    /// repeats the number.
    pub fn map<'a>(&mut self, field: &str, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut found_in_key = false;
        let mut values = Vec::new();
        for (key, value) in entries {
            if contains_card_number(key) {
                found_in_key = true;
            } else if contains_card_number(value) {
                values.push(format!("{field}[{key}]"));
            }
        }
        if found_in_key {
            self.fields.push(field.to_owned());
        } else {
            values.sort();
            self.fields.extend(values);
        }
    }

    pub fn finish(self) -> Result<(), CardDataFound> {
        if self.fields.is_empty() {
            Ok(())
        } else {
            Err(CardDataFound {
                fields: self.fields,
            })
        }
    }
}

#[cfg(test)]
#[path = "card_data_tests.rs"]
mod tests;
