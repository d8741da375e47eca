//! The dashboard: monthly tonnage, on-time rate and quota use, as Chart.js specs.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, UiResult, failed, province_name, render};
use crate::service::{Ctx, dashboard};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    lang: Lang,
    tonnage: String,
    on_time: String,
    utilisation: String,
    year: i32,
}

/// The dashboard's figures as Chart.js specs (JSON in a data attribute; askama escapes it).
pub async fn dashboard(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let figures = dashboard::figures(&state, &Ctx::new(u.who.clone()))
        .await
        .map_err(failed(lang))?;
    let (tonnage, on_time, utilisation, year) = (figures.tonnage, figures.on_time, figures.utilisation, figures.year);

    let mut months: Vec<String> = tonnage.iter().map(|t| t.month.clone()).collect();
    months.sort();
    months.dedup();
    let mut pairs: Vec<(String, String)> = tonnage
        .iter()
        .map(|t| (t.source.clone(), t.receiving.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    let datasets: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(s, r)| {
            let data: Vec<f64> = months
                .iter()
                .map(|m| {
                    tonnage
                        .iter()
                        .filter(|t| &t.source == s && &t.receiving == r && &t.month == m)
                        .map(|t| t.grams as f64 / 1_000_000.0)
                        .sum()
                })
                .collect();
            serde_json::json!({
                "label": format!("{} → {}", province_name(lang, s), province_name(lang, r)),
                "data": data,
            })
        })
        .collect();
    let tonnage_spec = serde_json::json!({
        "type": "bar",
        "data": { "labels": months, "datasets": datasets },
        "options": { "scales": { "x": { "stacked": true }, "y": { "stacked": true } } },
    });
    let on_time_spec = serde_json::json!({
        "type": "bar",
        "data": {
            "labels": on_time.iter().map(|o| province_name(lang, &o.province)).collect::<Vec<_>>(),
            "datasets": [{
                "label": lang.t("on_time_rate"),
                "data": on_time.iter().map(|o| if o.completed == 0 { 0.0 } else { (o.on_time as f64 * 1000.0 / o.completed as f64).round() / 10.0 }).collect::<Vec<_>>(),
            }],
        },
        "options": { "scales": { "y": { "min": 0, "max": 100 } } },
    });
    let util_spec = serde_json::json!({
        "type": "bar",
        "data": {
            "labels": utilisation.iter().map(|x| x.operator_name.clone()).collect::<Vec<_>>(),
            "datasets": [{
                "label": lang.t("utilisation"),
                "data": utilisation.iter().map(|x| if x.quota_g == 0 { 0.0 } else { (x.used_g as f64 * 1000.0 / x.quota_g as f64).round() / 10.0 }).collect::<Vec<_>>(),
            }],
        },
        "options": { "indexAxis": "y", "scales": { "x": { "min": 0, "max": 100 } } },
    });
    let page = DashboardPage {
        chrome: Chrome::new(&u, &req, "/ui/dashboard"),
        lang,
        tonnage: tonnage_spec.to_string(),
        on_time: on_time_spec.to_string(),
        utilisation: util_spec.to_string(),
        year,
    };
    Ok(render(lang, &page))
}
