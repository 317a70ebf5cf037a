#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

/// Real NestPay captures quoted in specs/cmi.md §6.3.
const CAPTURE_OK: &str = r#"<?xml version="1.0" encoding="ISO-8859-9"?>
<CC5Response>
    <OrderId>authtest01</OrderId>
    <GroupId>authtest01</GroupId>
    <Response>Approved</Response>
    <AuthCode>175923</AuthCode>
    <HostRefNum>032514612156</HostRefNum>
    <ProcReturnCode>00</ProcReturnCode>
    <TransId>20325OWDB16817</TransId>
    <ErrMsg></ErrMsg>
    <Extra>
        <SETTLEID>1794</SETTLEID>
        <TRXDATE>20201120 14:22:02</TRXDATE>
        <ERRORCODE></ERRORCODE>
        <CARDBRAND>VISA</CARDBRAND>
        <NUMCODE>00</NUMCODE>
    </Extra>
</CC5Response>"#;

const CAPTURE_2509: &str = r#"<?xml version="1.0" encoding="ISO-8859-9"?>
<CC5Response>
    <OrderId>authtest01</OrderId>
    <Response>Error</Response>
    <ProcReturnCode>99</ProcReturnCode>
    <TransId>20325OXqJ17006</TransId>
    <ErrMsg>PostAuth yapilamaz, uyusan PreAuth yok.</ErrMsg>
    <Extra>
        <SETTLEID></SETTLEID>
        <ERRORCODE>CORE-2509</ERRORCODE>
        <NUMCODE>992509</NUMCODE>
    </Extra>
</CC5Response>"#;

const STATUS_OK: &str = "<CC5Response>\n  <ErrMsg>Record(s) found for 5-987654321</ErrMsg>\n  <ProcReturnCode>00</ProcReturnCode>\n  <Response>Approved</Response>\n  <OrderId>5-987654321</OrderId>\n  <TransId>20316QdoH00120068</TransId>\n  <Extra>\n    <CAPTURE_AMT>1200</CAPTURE_AMT>\n    <CHARGE_TYPE_CD>C</CHARGE_TYPE_CD>\n    <ORIG_TRANS_AMT>1200</ORIG_TRANS_AMT>\n    <PROC_RET_CD>00</PROC_RET_CD>\n    <TRANS_ID>20316QdoH00120068</TRANS_ID>\n    <TRANS_STAT>S</TRANS_STAT>\n  </Extra>\n</CC5Response>";

const STATUS_NONE: &str = "<CC5Response>\n  <ErrMsg>No record found for 25-987654321</ErrMsg>\n  <ProcReturnCode>99</ProcReturnCode>\n  <Response>Declined</Response>\n  <OrderId></OrderId>\n  <TransId></TransId>\n  <Extra>\n    <NUMCODE>0</NUMCODE>\n    <ORDERSTATUS>ORD_ID:\tCHARGE_TYPE_CD:\tORIG_TRANS_AMT:</ORDERSTATUS>\n  </Extra>\n</CC5Response>";

const HISTORY: &str = "<CC5Response>\n  <ErrMsg></ErrMsg>\n  <ProcReturnCode>00</ProcReturnCode>\n  <Response>Approved</Response>\n  <OrderId>20240102D8F1</OrderId>\n  <Extra>\n    <NUMCODE>0</NUMCODE>\n    <TRX1>C\tD\t100\t100\t2024-01-02 21:53:02.486\t2024-01-02 21:53:02.486\t\t\t\t99\t24002V3CG19993</TRX1>\n    <TRX2>S\tV\t101\t101\t2024-01-02 21:52:59.261\t2024-01-02 21:52:59.261\t2024-01-02 21:53:01.297\t400200744059\tP78955\t00\t24002V29G19979</TRX2>\n    <TRXCOUNT>2</TRXCOUNT>\n  </Extra>\n</CC5Response>";

#[test]
fn parses_an_approved_capture_and_a_core_error() {
    let ok = ApiResponse::parse(CAPTURE_OK.as_bytes()).unwrap();
    assert!(ok.approved());
    assert_eq!(ok.get("TransId"), "20325OWDB16817");
    assert_eq!(ok.extra("SETTLEID"), "1794");
    let err = ApiResponse::parse(CAPTURE_2509.as_bytes()).unwrap();
    assert!(!err.approved());
    assert_eq!(err.error_code(), "CORE-2509");
    assert_eq!(err.get("ProcReturnCode"), "99");
}

#[test]
fn a_latin1_error_message_does_not_break_parsing() {
    let mut body = CAPTURE_2509.as_bytes().to_vec();
    let at = body.windows(7).position(|w| w == b"PostAut").unwrap();
    body[at] = 0xDD; // 'İ' in ISO-8859-9
    let err = ApiResponse::parse(&body).unwrap();
    assert_eq!(err.error_code(), "CORE-2509");
}

#[test]
fn order_status_amounts_are_minor_units_and_no_record_is_none() {
    let found = ApiResponse::parse(STATUS_OK.as_bytes()).unwrap();
    let trx = found.order_status().unwrap();
    assert_eq!(trx.trans_stat, "S");
    assert_eq!(trx.orig_amount, Some(1200));
    assert_eq!(trx.capture_amount, Some(1200));
    let none = ApiResponse::parse(STATUS_NONE.as_bytes()).unwrap();
    assert_eq!(none.order_status(), None);
}

#[test]
fn history_lines_split_on_tabs_keeping_empty_slots() {
    let h = ApiResponse::parse(HISTORY.as_bytes())
        .unwrap()
        .history()
        .unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].charge_type.as_str(), h[0].trans_stat.as_str()),
        ("C", "D")
    );
    assert_eq!(h[0].proc_return_code, "99");
    assert_eq!(h[0].trans_id, "24002V3CG19993");
    assert_eq!(
        (h[1].trans_stat.as_str(), h[1].orig_amount),
        ("V", Some(101))
    );
    assert_eq!(h[1].proc_return_code, "00");
    // 2024-01-02 21:53:02.486 on CMI's wall clock, read as if UTC.
    assert_eq!(
        h[0].made_at_wall_clock,
        Some(Timestamp::from_micros(1_704_232_382_486_000))
    );
}

/// An ORDERHISTORY answer with `count` as TRXCOUNT and `lines` credit lines.
fn history_with(count: &str, lines: usize) -> ApiResponse {
    let trx: String = (1..=lines)
        .map(|i| format!("<TRX{i}>C\tS\t100\t100\t\t\t\t\t\t00\tT{i}</TRX{i}>"))
        .collect();
    let body = format!(
        "<CC5Response><ProcReturnCode>00</ProcReturnCode><Response>Approved</Response>\
         <Extra>{trx}<TRXCOUNT>{count}</TRXCOUNT></Extra></CC5Response>"
    );
    ApiResponse::parse(body.as_bytes()).unwrap()
}

#[test]
fn history_reads_at_most_max_history_lines() {
    let full = history_with("1000", 1_000).history().unwrap();
    assert_eq!(full.len(), 1_000);
    assert_eq!(full[999].trans_id, "T1000");
    // Above the cap: refused at once, whatever lines come with it, never looped over.
    assert!(history_with("1001", 1_001).history().is_err());
    assert!(history_with("18446744073709551615", 1).history().is_err());
    assert!(
        history_with("99999999999999999999999", 1)
            .history()
            .is_err()
    );
}

#[test]
fn a_history_with_an_unreadable_count_or_a_hole_is_a_decode_error() {
    assert!(history_with("", 1).history().is_err());
    assert!(history_with("two", 2).history().is_err());
    assert!(history_with("-1", 0).history().is_err());
    assert!(history_with("3", 2).history().is_err(), "TRX3 missing");
    assert_eq!(history_with("0", 0).history().unwrap(), []);
    let no_count = ApiResponse::parse(
        b"<CC5Response><ProcReturnCode>99</ProcReturnCode><Response>Error</Response></CC5Response>",
    )
    .unwrap();
    assert!(
        no_count.history().is_err(),
        "an error answer is not an empty history"
    );
}

#[test]
fn wall_clock_times_take_any_fraction_or_none() {
    let at = |s| wall_clock(s).map(Timestamp::micros);
    assert_eq!(at("2020-11-11 16:29:40.557"), Some(1_605_112_180_557_000));
    assert_eq!(at("2020-11-11 16:29:40.5"), Some(1_605_112_180_500_000));
    assert_eq!(at("2020-11-11 16:29:40"), Some(1_605_112_180_000_000));
    assert_eq!(at(""), None);
    assert_eq!(at("20201111 16:29:40"), None);
}

#[test]
fn requests_escape_values_and_carry_the_credentials() {
    let auth = ApiAuth {
        name: "api<user>",
        password: "p&ss",
        client_id: "600000000",
    };
    let xml = request_xml(
        &auth,
        &ApiRequest::Credit {
            oid: "pg-1",
            total: "50.00",
            currency: 504,
        },
    );
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("<Name>api&lt;user&gt;</Name><Password>p&amp;ss</Password>"));
    assert!(xml.contains(
        "<Type>Credit</Type><OrderId>pg-1</OrderId><Total>50.00</Total><Currency>504</Currency>"
    ));
    let status = request_xml(&auth, &ApiRequest::OrderStatus { oid: "pg-1" });
    assert!(status.contains("<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>"));
    assert!(!status.contains("<Type>"));
}

#[test]
fn garbage_is_a_decode_error() {
    assert!(ApiResponse::parse(b"<html>502 Bad Gateway</html>").is_err());
    assert!(ApiResponse::parse(b"").is_err());
    let odd = CAPTURE_OK.replace("<Response>Approved</Response>", "<Response>OK</Response>");
    assert!(
        ApiResponse::parse(odd.as_bytes()).is_err(),
        "unknown Response word"
    );
}
