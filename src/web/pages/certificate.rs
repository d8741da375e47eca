//! The approval certificate, and the public verification of an approval number.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, Utc};

use super::application::ItemView;
use super::{Chrome, UiResult, error_page, failed, grams, local_time, names, province_name, render, render_status};
use crate::domain::calendar::shanghai_date;
use crate::domain::quantity::grams_to_kg_string;
use crate::service::Error;
use crate::service::applications::case::{self as apps, ApplicationDto};
use crate::service::case_views;
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser, lang_of};

/// The public verification address printed in the QR code: under `HWT_PUBLIC_URL` when set,
/// else under the address of this request.
fn verify_url(public_url: Option<&str>, req: &HttpRequest, number: &str) -> String {
    let number = percent_encoding::utf8_percent_encode(number, percent_encoding::NON_ALPHANUMERIC);
    match public_url {
        Some(base) => format!("{base}/verify/{number}"),
        None => {
            let info = req.connection_info();
            format!("{}://{}/verify/{number}", info.scheme(), info.host())
        }
    }
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(160, 160)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    chrome: Chrome,
    lang: Lang,
    a: ApplicationDto,
    number: String,
    approved_at: String,
    valid_until: String,
    /// 撤销: the day the approval was revoked, and why (empty unless revoked).
    revoked_on: String,
    revocation_reasons: Vec<String>,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    items: Vec<ItemView>,
    url: String,
    /// 利用 / 处置 / 贮存.
    method: String,
    /// The conditions the provinces attached to their approvals (第27条).
    conditions: Vec<String>,
    qr: String,
}

/// The Shanghai date an approval was revoked on, or empty.
fn revoked_on(dto: &ApplicationDto) -> String {
    dto.approval
        .as_ref()
        .and_then(|a| a.revoked_at.as_deref())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| crate::domain::calendar::shanghai_date(t.with_timezone(&chrono::Utc)).to_string())
        .unwrap_or_default()
}

pub async fn certificate(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let dto = apps::case_dto(&state, &u.who, path.into_inner())
        .await
        .map_err(failed(lang))?;
    let Some(approval) = &dto.approval else {
        return Err(UiError::Service(
            Error::Conflict("the application has no approval yet".into()),
            lang,
        ));
    };
    let names = names(&state, vec![dto.enterprise_id.clone()], vec![dto.operator_id.clone()]).await?;
    let url = verify_url(state.config.public_url.as_deref(), &req, &approval.number);
    let page = CertificatePage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        number: approval.number.clone(),
        approved_at: local_time(&approval.approved_at),
        valid_until: approval.valid_until.clone(),
        revoked_on: revoked_on(&dto),
        revocation_reasons: approval.revocation_reasons.clone(),
        producer: names.get(&dto.enterprise_id).cloned().unwrap_or_default(),
        operator: names.get(&dto.operator_id).cloned().unwrap_or_default(),
        source: province_name(lang, &dto.source_province),
        receiving: province_name(lang, &dto.receiving_province),
        items: dto
            .items
            .iter()
            .map(|i| ItemView {
                line: i.line,
                category: i.category.clone(),
                code: i.waste_code.clone(),
                name: i.waste_name.clone(),
                hazards: i.hazards.join("/"),
                quantity_kg: i.quantity_kg.clone(),
                shipped_kg: i.shipped_kg.clone(),
            })
            .collect(),
        qr: qr_svg(&url),
        url,
        method: lang.value(&dto.method),
        conditions: dto
            .decisions
            .iter()
            .filter(|d| d.outcome == "approve")
            .flat_map(|d| d.conditions.iter().cloned())
            .collect(),
        a: dto,
    };
    Ok(render(lang, &page))
}

#[derive(Template)]
#[template(path = "refusal.html")]
struct RefusalPage {
    chrome: Chrome,
    lang: Lang,
    a: ApplicationDto,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    /// 不予许可决定书 or 不予受理决定书.
    title: &'static str,
}

/// The source province's refusal as its decision document (不予许可 or 不予受理): number,
/// reasons, the receiving province's opinion it rests on, and the applicant's remedies.
pub async fn refusal(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let dto = apps::case_dto(&state, &u.who, path.into_inner())
        .await
        .map_err(failed(lang))?;
    let Some(refusal) = &dto.refusal else {
        return Err(UiError::Service(
            Error::Conflict("the application was not refused".into()),
            lang,
        ));
    };
    let title = if refusal.kind == "not_accepted" {
        lang.t("doc_not_accepted")
    } else {
        lang.t("doc_not_permitted")
    };
    let names = names(&state, vec![dto.enterprise_id.clone()], vec![dto.operator_id.clone()]).await?;
    let page = RefusalPage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        producer: names.get(&dto.enterprise_id).cloned().unwrap_or_default(),
        operator: names.get(&dto.operator_id).cloned().unwrap_or_default(),
        source: province_name(lang, &dto.source_province),
        receiving: province_name(lang, &dto.receiving_province),
        title,
        a: dto,
    };
    Ok(render(lang, &page))
}

struct VerifyItem {
    code: String,
    name: String,
    approved_kg: String,
    available_kg: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    lang: Lang,
    other_lang: (&'static str, &'static str),
    number: String,
    found: bool,
    valid: bool,
    status: String,
    valid_until: String,
    /// 撤销: the day the approval was revoked (empty unless revoked).
    revoked_on: String,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    items: Vec<VerifyItem>,
}

/// The public verification of an approval number: validity, parties, codes, quantities and what
/// is still available. No login, and nothing more than that.
pub async fn verify(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let lang = lang_of(&req);
    let number = path.into_inner();
    if number.chars().count() > 64 {
        return error_page(lang, StatusCode::NOT_FOUND, lang.t("not_found_approval"), vec![]);
    }
    let found = match case_views::verify_approval(&state, number.clone(), Utc::now()).await {
        Ok(f) => f,
        Err(e) => return UiError::Service(e, lang).error_response_owned(),
    };
    let today = shanghai_date(Utc::now());
    let page = match found {
        None => VerifyPage {
            lang,
            other_lang: lang.other(),
            number,
            found: false,
            valid: false,
            status: String::new(),
            valid_until: String::new(),
            revoked_on: String::new(),
            producer: String::new(),
            operator: String::new(),
            source: String::new(),
            receiving: String::new(),
            items: Vec::new(),
        },
        Some(case_views::Verified {
            dto,
            producer,
            operator,
        }) => {
            let valid_until = dto.approval.as_ref().map(|a| a.valid_until.clone()).unwrap_or_default();
            let in_time = NaiveDate::parse_from_str(&valid_until, "%Y-%m-%d").is_ok_and(|d| d >= today);
            VerifyPage {
                lang,
                other_lang: lang.other(),
                number,
                found: true,
                valid: dto.status == "approved" && in_time,
                status: lang.value(&dto.status),
                revoked_on: revoked_on(&dto),
                valid_until,
                producer,
                operator,
                source: province_name(lang, &dto.source_province),
                receiving: province_name(lang, &dto.receiving_province),
                items: dto
                    .items
                    .iter()
                    .map(|i| VerifyItem {
                        code: i.waste_code.clone(),
                        name: i.waste_name.clone(),
                        approved_kg: i.quantity_kg.clone(),
                        available_kg: grams_to_kg_string((grams(&i.quantity_kg) - grams(&i.shipped_kg)).max(0)),
                    })
                    .collect(),
            }
        }
    };
    let status = if page.found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    render_status(lang, status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verify_url_prefers_the_configured_public_address() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("host", "attacker.example"))
            .to_http_request();
        assert_eq!(
            verify_url(Some("https://hwt.example.gov.cn/zy"), &req, "渝危转2026-0001"),
            "https://hwt.example.gov.cn/zy/verify/%E6%B8%9D%E5%8D%B1%E8%BD%AC2026%2D0001"
        );
        assert_eq!(verify_url(None, &req, "A1"), "http://attacker.example/verify/A1");
    }
}
