//! The XML API (`/fim/api`) over the emulator's ledger: PostAuth, Void, Credit, ORDERSTATUS and
//! ORDERHISTORY, with NestPay's CORE errors for the wrong timing (specs/cmi.md §6-8).

use super::{API_PASSWORD, API_USER, CLIENT_ID, CmiEmulator, Origin, cmi_time, minor};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The text of the first `<name>` element (requests are flat enough for this).
fn tag(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map(|(v, _)| {
            v.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .unwrap_or_default()
}

fn answer(oid: &str, ok: bool, code: &str, trans_id: &str, err: &str, extra: &str) -> String {
    let (response, proc) = if ok {
        ("Approved", "00")
    } else if code.starts_with("CORE") {
        ("Error", "99")
    } else {
        ("Declined", code)
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Response>\n<OrderId>{oid}</OrderId>\n\
         <GroupId>{oid}</GroupId>\n<Response>{response}</Response>\n<AuthCode></AuthCode>\n\
         <HostRefNum></HostRefNum>\n<ProcReturnCode>{proc}</ProcReturnCode>\n<TransId>{trans_id}</TransId>\n\
         <ErrMsg>{err}</ErrMsg>\n<Extra>\n<ERRORCODE>{}</ERRORCODE>\n{extra}</Extra>\n</CC5Response>",
        if ok { "" } else { code }
    )
}

fn core(oid: &str, code: &str, err: &str) -> String {
    answer(oid, false, code, "26331ERR000001", err, "")
}

pub async fn handle(State(emu): State<CmiEmulator>, body: Bytes) -> Response {
    let xml = String::from_utf8_lossy(&body).into_owned();
    if tag(&xml, "Name") != API_USER
        || tag(&xml, "Password") != API_PASSWORD
        || tag(&xml, "ClientId") != CLIENT_ID
    {
        return core("", "CORE-2001", "Kullanici dogrulanamadi.").into_response();
    }
    let oid = tag(&xml, "OrderId");
    let kind = tag(&xml, "Type");
    let (delay, lost, queries_down) = {
        let mut state = emu.state.lock().unwrap();
        let faults = &mut state.faults;
        if kind.is_empty() {
            let down = faults.queries_unavailable;
            state.queries_refused += u64::from(down);
            (None, None, down)
        } else if let Some(ms) = faults.lose_next_request_ms.take() {
            state.lost_requests.push(kind.clone());
            (None, Some(ms), false)
        } else {
            (faults.api_answer_delay_ms.take(), None, false)
        }
    };
    if queries_down {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    if let Some(ms) = lost {
        // Never applied; paygate has given up before anything comes back.
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        return (StatusCode::GATEWAY_TIMEOUT, "").into_response();
    }
    let reply = apply(&emu, &xml, &oid, &kind);
    if let Some(ms) = delay {
        // Applied; the answer arrives after paygate gave up on it.
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    reply.into_response()
}

fn apply(emu: &CmiEmulator, xml: &str, oid: &str, kind: &str) -> String {
    let mut state = emu.state.lock().unwrap();
    let trans_id = state.trans_id();
    let name = if kind.is_empty() {
        if xml.contains("<ORDERSTATUS>") {
            "ORDERSTATUS"
        } else {
            "ORDERHISTORY"
        }
    } else {
        kind
    };
    state.requests.push(name.to_owned());
    if xml.contains("<ORDERSTATUS>") {
        return order_status(&state, oid);
    }
    if xml.contains("<ORDERHISTORY>") {
        return order_history(&state, oid);
    }
    let total = minor(&tag(xml, "Total"));
    let Some(order) = state.orders.get_mut(oid) else {
        return match kind {
            "PostAuth" => core(oid, "CORE-2509", "PostAuth yapilamaz, uyusan PreAuth yok."),
            "Credit" => core(
                oid,
                "CORE-2508",
                "Iade yapilamaz, siparis gunsonuna girmemis.",
            ),
            _ => core(
                oid,
                "CORE-2008",
                "Iptal edilmeye uygun satis islemi bulunamadi.",
            ),
        };
    };
    match kind {
        "PostAuth" => {
            let amount = total.unwrap_or(order.amount);
            if order.tran_type != "PreAuth" || order.stat != "A" || amount > order.amount {
                return core(oid, "CORE-2509", "PostAuth yapilamaz, uyusan PreAuth yok.");
            }
            order.stat = "C".into();
            order.captured = Some(amount);
            order.postauths += 1;
        }
        "Void" => {
            let settled_money = order.settled && order.stat == "S";
            if matches!(order.stat.as_str(), "V" | "D") || settled_money {
                return core(
                    oid,
                    "CORE-2008",
                    "Iptal edilmeye uygun satis islemi bulunamadi.",
                );
            }
            order.stat = "V".into();
        }
        "Credit" => {
            if order.stat != "S" {
                return core(
                    oid,
                    "CORE-2508",
                    "Iade yapilamaz, siparis gunsonuna girmemis.",
                );
            }
            let Some(amount) = total else {
                return core(oid, "CORE-2100", "Tutar hatali.");
            };
            let now = time::OffsetDateTime::now_utc();
            if tag(xml, "Currency") != order.currency
                || !order.credit(amount, &trans_id, now, Origin::Api)
            {
                return core(oid, "CORE-2522", "Iade tutari satis tutarini asiyor.");
            }
        }
        _ => return core(oid, "CORE-2000", "Bilinmeyen islem."),
    }
    answer(
        oid,
        true,
        "",
        &trans_id,
        "",
        "<SETTLEID></SETTLEID>\n<NUMCODE>00</NUMCODE>\n",
    )
}

fn order_status(state: &super::State, oid: &str) -> String {
    let Some(o) = state.orders.get(oid) else {
        return format!(
            "<CC5Response><ErrMsg>No record found for {oid}</ErrMsg><ProcReturnCode>99</ProcReturnCode>\
             <Response>Declined</Response><OrderId></OrderId><TransId></TransId><Extra><NUMCODE>0</NUMCODE>\
             <ORDERSTATUS>ORD_ID:\tCHARGE_TYPE_CD:\tORIG_TRANS_AMT:\tCAPTURE_AMT:\tTRANS_STAT:</ORDERSTATUS></Extra></CC5Response>"
        );
    };
    let (charge, stat, orig, capture, proc, tid) = match o.credits.last() {
        Some(c) => (
            "C",
            "S".to_owned(),
            c.amount,
            Some(c.amount),
            "00".to_owned(),
            c.trans_id.clone(),
        ),
        None => (
            "S",
            o.stat.clone(),
            o.amount,
            o.captured,
            o.proc_return_code.clone(),
            o.trans_id.clone(),
        ),
    };
    let capture = capture.map(|c| c.to_string()).unwrap_or_default();
    format!(
        "<CC5Response><ErrMsg>Record(s) found for {oid}</ErrMsg><ProcReturnCode>00</ProcReturnCode>\
         <Response>Approved</Response><OrderId>{oid}</OrderId><TransId>{tid}</TransId><Extra>\
         <CAPTURE_AMT>{capture}</CAPTURE_AMT><CHARGE_TYPE_CD>{charge}</CHARGE_TYPE_CD>\
         <ORIG_TRANS_AMT>{orig}</ORIG_TRANS_AMT><PROC_RET_CD>{proc}</PROC_RET_CD><TRANS_ID>{tid}</TRANS_ID>\
         <TRANS_STAT>{stat}</TRANS_STAT></Extra></CC5Response>"
    )
}

fn order_history(state: &super::State, oid: &str) -> String {
    let Some(o) = state.orders.get(oid) else {
        return "<CC5Response><ErrMsg>No record</ErrMsg><ProcReturnCode>05</ProcReturnCode>\
                <Response>Declined</Response><Extra><TRXCOUNT>0</TRXCOUNT></Extra></CC5Response>"
            .into();
    };
    let mut lines = Vec::new();
    // Newest first, as NestPay lists them; a credit shows when it was made (AUTH_DTTM and
    // CAPTURE_DTTM), never who asked for it.
    for c in o.credits.iter().rev() {
        let (amount, at) = (c.amount, cmi_time(c.at));
        lines.push(format!(
            "C\tS\t{amount}\t{amount}\t{at}\t{at}\t\t\t\t00\t{}",
            c.trans_id
        ));
    }
    let capture = o.captured.map(|c| c.to_string()).unwrap_or_default();
    lines.push(format!(
        "S\t{}\t{}\t{capture}\t\t\t\t\t\t{}\t{}",
        o.stat, o.amount, o.proc_return_code, o.trans_id
    ));
    let trx: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("<TRX{}>{l}</TRX{}>", i + 1, i + 1))
        .collect();
    format!(
        "<CC5Response><ErrMsg></ErrMsg><ProcReturnCode>00</ProcReturnCode><Response>Approved</Response>\
         <OrderId>{oid}</OrderId><Extra>{trx}<TRXCOUNT>{}</TRXCOUNT></Extra></CC5Response>",
        lines.len()
    )
}
