//! CMI's XML API on the wire: `CC5Request` bodies and the `CC5Response` fields paygate reads
//! (specs/cmi.md §6).

use crate::domain::Timestamp;
use std::collections::HashMap;

/// API credentials, as they go into every request body.
pub struct ApiAuth<'a> {
    pub name: &'a str,
    pub password: &'a str,
    pub client_id: &'a str,
}

/// What a request asks for.
pub enum ApiRequest<'a> {
    PostAuth {
        oid: &'a str,
        total: &'a str,
    },
    Void {
        oid: &'a str,
    },
    Credit {
        oid: &'a str,
        total: &'a str,
        currency: u16,
    },
    OrderStatus {
        oid: &'a str,
    },
    OrderHistory {
        oid: &'a str,
    },
}

impl ApiRequest<'_> {
    /// The request's name, for logs and metric labels.
    /// Queries change nothing at CMI, so they may be retried; the others must not be (no
    /// idempotency key: a repeated PostAuth or Credit could move money twice).
    pub fn is_query(&self) -> bool {
        match self {
            Self::OrderStatus { .. } | Self::OrderHistory { .. } => true,
            Self::PostAuth { .. } | Self::Void { .. } | Self::Credit { .. } => false,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::PostAuth { .. } => "PostAuth",
            Self::Void { .. } => "Void",
            Self::Credit { .. } => "Credit",
            Self::OrderStatus { .. } => "ORDERSTATUS",
            Self::OrderHistory { .. } => "ORDERHISTORY",
        }
    }
}

/// The UTF-8 `CC5Request` document, every value escaped.
pub fn request_xml(auth: &ApiAuth<'_>, req: &ApiRequest<'_>) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CC5Request>");
    elem(&mut x, "Name", auth.name);
    elem(&mut x, "Password", auth.password);
    elem(&mut x, "ClientId", auth.client_id);
    match req {
        ApiRequest::PostAuth { oid, total } => {
            elem(&mut x, "Type", "PostAuth");
            elem(&mut x, "OrderId", oid);
            elem(&mut x, "Total", total);
        }
        ApiRequest::Void { oid } => {
            elem(&mut x, "Type", "Void");
            elem(&mut x, "OrderId", oid);
        }
        ApiRequest::Credit {
            oid,
            total,
            currency,
        } => {
            elem(&mut x, "Type", "Credit");
            elem(&mut x, "OrderId", oid);
            elem(&mut x, "Total", total);
            elem(&mut x, "Currency", &currency.to_string());
        }
        ApiRequest::OrderStatus { oid } => {
            elem(&mut x, "OrderId", oid);
            x.push_str("<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>");
        }
        ApiRequest::OrderHistory { oid } => {
            elem(&mut x, "OrderId", oid);
            x.push_str("<Extra><ORDERHISTORY>QUERY</ORDERHISTORY></Extra>");
        }
    }
    x.push_str("</CC5Request>");
    x
}

fn elem(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&quick_xml::escape::escape(value));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// CMI's `Response` word: no default and no catch-all, so an unknown word is a decode error (an
/// unknown outcome to reconcile), never silently a success or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmiResponse {
    Approved,
    Declined,
    Error,
}

impl CmiResponse {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "Approved" => Some(Self::Approved),
            "Declined" => Some(Self::Declined),
            "Error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// A decoded `CC5Response`: the top-level fields and the `Extra` children, by element name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub top: HashMap<String, String>,
    pub extra: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("undecodable CMI answer: {0}")]
pub struct DecodeError(pub String);

impl ApiResponse {
    /// Parses the body. Only ASCII matters for decisions (codes, ids, amounts); a non-UTF-8
    /// charset (the Turkish platform's ISO-8859-9) only affects `ErrMsg`, which is decoded
    /// lossily since it is never parsed, only kept as the provider's message.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        use quick_xml::events::Event;
        let text = String::from_utf8_lossy(body);
        let mut reader = quick_xml::Reader::from_str(&text);
        let mut out = Self::default();
        let mut path: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut saw_root = false;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    let name = e.name().as_ref().to_owned();
                    if path.is_empty() {
                        if name != "CC5Response" {
                            return Err(DecodeError(format!("root element {name}")));
                        }
                        saw_root = true;
                    }
                    path.push(name);
                    current.clear();
                }
                Ok(Event::Text(t)) => {
                    let raw = t.into_inner();
                    let unescaped = quick_xml::escape::unescape(&raw)
                        .map_err(|e| DecodeError(e.to_string()))?;
                    current.push_str(&unescaped);
                }
                Ok(Event::GeneralRef(r)) => {
                    let entity = format!("&{};", r.into_inner());
                    let resolved = quick_xml::escape::unescape(&entity)
                        .map_err(|e| DecodeError(e.to_string()))?;
                    current.push_str(&resolved);
                }
                Ok(Event::CData(c)) => {
                    current.push_str(&c.into_inner());
                }
                Ok(Event::End(_)) => {
                    let Some(name) = path.pop() else {
                        return Err(DecodeError("unbalanced end tag".into()));
                    };
                    let value = std::mem::take(&mut current).trim().to_owned();
                    match path.as_slice() {
                        [root] if root == "CC5Response" => {
                            out.top.insert(name, value);
                        }
                        [root, extra] if root == "CC5Response" && extra == "Extra" => {
                            out.extra.insert(name, value);
                        }
                        _ => {}
                    }
                }
                Ok(Event::Empty(e)) => {
                    let name = e.name().as_ref().to_owned();
                    match path.as_slice() {
                        [root] if root == "CC5Response" => {
                            out.top.insert(name, String::new());
                        }
                        [root, extra] if root == "CC5Response" && extra == "Extra" => {
                            out.extra.insert(name, String::new());
                        }
                        _ => {}
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(DecodeError(e.to_string())),
            }
        }
        if !saw_root {
            return Err(DecodeError("no CC5Response element".into()));
        }
        if CmiResponse::parse(out.get("Response")).is_none() {
            return Err(DecodeError("missing or unknown Response".into()));
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> &str {
        self.top.get(name).map_or("", String::as_str)
    }

    pub fn extra(&self, name: &str) -> &str {
        self.extra.get(name).map_or("", String::as_str)
    }

    /// Success ⇔ `Response == Approved` and `ProcReturnCode == 00` (§6.3).
    pub fn approved(&self) -> bool {
        CmiResponse::parse(self.get("Response")) == Some(CmiResponse::Approved)
            && self.get("ProcReturnCode") == "00"
    }

    /// `CORE-2509`, `ISO8583-51`... from `Extra/ERRORCODE`.
    pub fn error_code(&self) -> &str {
        self.extra("ERRORCODE")
    }
}

/// One transaction of an order, from ORDERSTATUS or an ORDERHISTORY `TRXn` line (§6.3, §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trx {
    /// `S` (money to the merchant) or `C` (credit / refund).
    pub charge_type: String,
    /// `A`, `C`, `S`, `V`, `CNCL`, `D`, `ERR`, `PN`, `R`.
    pub trans_stat: String,
    /// Minor units (status amounts have no separator); `None` when empty.
    pub orig_amount: Option<i64>,
    pub capture_amount: Option<i64>,
    /// `AUTH_DTTM`: when CMI made the transaction, on CMI's wall clock. Its time zone is
    /// unverified (Morocco's, per §6.4), so this is that wall-clock reading taken as if it were
    /// UTC: usable only with a margin for the zone. `None` when empty or unreadable.
    pub made_at_wall_clock: Option<Timestamp>,
    pub proc_return_code: String,
    pub trans_id: String,
}

/// The most ORDERHISTORY lines paygate reads. One order holds a sale and a few refunds; a
/// `TRXCOUNT` above this is a broken or hostile answer, refused before any line is read so it
/// cannot make paygate loop or allocate without bound.
pub const MAX_HISTORY: u64 = 1_000;

fn minor(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// `2024-01-02 21:53:02.486` (§6.4: `yyyy-MM-dd HH:mm:ss.S`, fraction of any length or none),
/// read as if UTC: see [`Trx::made_at_wall_clock`].
fn wall_clock(text: &str) -> Option<Timestamp> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond digits:1+]]]"
    );
    let at = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    let micros = at.assume_utc().unix_timestamp_nanos() / 1_000;
    i64::try_from(micros).ok().map(Timestamp::from_micros)
}

impl ApiResponse {
    /// The order's latest transaction (ORDERSTATUS); `None` when CMI has no record of it.
    pub fn order_status(&self) -> Option<Trx> {
        let stat = self.extra("TRANS_STAT");
        if stat.is_empty() || self.get("ProcReturnCode") != "00" {
            return None;
        }
        Some(Trx {
            charge_type: self.extra("CHARGE_TYPE_CD").to_owned(),
            trans_stat: stat.to_owned(),
            orig_amount: minor(self.extra("ORIG_TRANS_AMT")),
            capture_amount: minor(self.extra("CAPTURE_AMT")),
            made_at_wall_clock: wall_clock(self.extra("AUTH_DTTM")),
            proc_return_code: self.extra("PROC_RET_CD").to_owned(),
            trans_id: self.extra("TRANS_ID").to_owned(),
        })
    }

    /// Every transaction of the order (ORDERHISTORY), in CMI's order; empty when CMI has none
    /// (`TRXCOUNT=0`). A missing or unreadable count, a count above [`MAX_HISTORY`], or a
    /// missing line is a decode error: a history with a hole could hide the very transaction
    /// paygate is looking for, so it must not read as "CMI never did it".
    pub fn history(&self) -> Result<Vec<Trx>, DecodeError> {
        let count_text = self.extra("TRXCOUNT");
        let count = count_text
            .trim()
            .parse::<u64>()
            .map_err(|_| DecodeError(format!("ORDERHISTORY TRXCOUNT {count_text:?}")))?;
        if count > MAX_HISTORY {
            return Err(DecodeError(format!(
                "ORDERHISTORY TRXCOUNT {count} above the {MAX_HISTORY} paygate reads"
            )));
        }
        (1..=count)
            .map(|i| {
                let line = self.extra(&format!("TRX{i}"));
                if line.is_empty() {
                    return Err(DecodeError(format!("ORDERHISTORY TRX{i} missing")));
                }
                let cols: Vec<&str> = line.split('\t').collect();
                let col = |n: usize| cols.get(n).copied().unwrap_or_default();
                Ok(Trx {
                    charge_type: col(0).to_owned(),
                    trans_stat: col(1).to_owned(),
                    orig_amount: minor(col(2)),
                    capture_amount: minor(col(3)),
                    made_at_wall_clock: wall_clock(col(4)),
                    proc_return_code: col(9).to_owned(),
                    trans_id: col(10).to_owned(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
