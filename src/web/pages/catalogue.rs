//! The loaded catalogue editions, and an admin's loading of an edition.

use std::collections::HashMap;

use actix_multipart::form::{MultipartForm, bytes::Bytes, text::Text};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;

use super::{Chrome, UiResult, render_status, see_other};
use crate::auth::principal::Role;
use crate::domain::calendar::shanghai_date;
use crate::service::{self, Ctx, Error, FieldProblem, Location};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    chrome: Chrome,
    lang: Lang,
    editions: Vec<crate::service::catalogue::EditionDto>,
    is_admin: bool,
    form: CatalogueForm,
}

pub async fn catalogue(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let form = CatalogueForm {
        done: q.contains_key("done"),
        ..Default::default()
    };
    catalogue_page(&state, &u, &req, form, StatusCode::OK).await
}

/// The loaded editions, with the admin's import form (and what it last sent, when refused).
pub(super) async fn catalogue_page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    form: CatalogueForm,
    status: StatusCode,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let editions = crate::service::catalogue::list_editions(state, shanghai_date(Utc::now()))
        .await
        .map_err(|e| UiError::Service(e, lang))?;
    let page = CataloguePage {
        chrome: Chrome::new(u, req, "/ui/catalogue"),
        lang,
        editions,
        is_admin: u.who.role == Role::Admin,
        form,
    };
    Ok(render_status(lang, status, &page))
}

#[derive(MultipartForm)]
pub struct CatalogueUpload {
    csrf: Option<Text<String>>,
    edition: Option<Text<String>>,
    in_force_from: Option<Text<String>>,
    source: Option<Text<String>>,
    code_count: Option<Text<String>>,
    codes: Option<Text<String>>,
    successors: Option<Text<String>>,
    #[multipart(limit = "4 MiB")]
    codes_file: Option<Bytes>,
    #[multipart(limit = "1 MiB")]
    successors_file: Option<Bytes>,
}

/// One problem of an edition import as the form shows it: which file (or field), line, column.
#[derive(Debug)]
pub struct CatalogueProblem {
    pub file: String,
    pub line: String,
    pub column: String,
    pub message: String,
}

/// What the edition import form holds, kept when it comes back with problems.
#[derive(Default)]
pub struct CatalogueForm {
    /// The import just succeeded.
    pub done: bool,
    pub edition: String,
    pub in_force_from: String,
    pub source: String,
    pub code_count: String,
    pub codes: String,
    pub successors: String,
    pub problems: Vec<CatalogueProblem>,
}

/// `/codes_csv/12/code` as (the code table, 12, code); a field as its label.
fn catalogue_problem(lang: Lang, p: &FieldProblem) -> CatalogueProblem {
    let parts: Vec<&str> = p.pointer.trim_start_matches('/').split('/').collect();
    let label = |field: &str| match field {
        "codes_csv" => lang.t("codes_csv").to_string(),
        "successors_csv" => lang.t("successors_csv").to_string(),
        "edition" => lang.t("edition").to_string(),
        "in_force_from" => lang.t("in_force_from").to_string(),
        "source" => lang.t("source").to_string(),
        "code_count" => lang.t("declared_count").to_string(),
        other => other.to_string(),
    };
    let (file, line, column) = match parts.as_slice() {
        [field, line, column] => (label(field), line.to_string(), column.to_string()),
        [field, line] => (label(field), line.to_string(), String::new()),
        [field] => (label(field), String::new(), String::new()),
        _ => (p.pointer.clone(), String::new(), String::new()),
    };
    CatalogueProblem {
        file,
        line,
        column,
        message: p.message.clone(),
    }
}

pub async fn catalogue_import(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    MultipartForm(form): MultipartForm<CatalogueUpload>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    u.check_csrf(form.csrf.as_ref().map(|t| t.as_str()))?;
    if u.who.role != Role::Admin {
        return Err(UiError::Service(
            Error::Forbidden("only an administrator loads a catalogue edition".into()),
            lang,
        ));
    }
    let text_of = |t: &Option<Text<String>>| t.as_ref().map(|t| t.trim().to_string()).unwrap_or_default();
    let mut kept = CatalogueForm {
        edition: text_of(&form.edition),
        in_force_from: text_of(&form.in_force_from),
        source: text_of(&form.source),
        code_count: text_of(&form.code_count),
        codes: form.codes.as_ref().map(|t| t.to_string()).unwrap_or_default(),
        successors: form.successors.as_ref().map(|t| t.to_string()).unwrap_or_default(),
        ..CatalogueForm::default()
    };
    // A file, when one is chosen, wins over its text box.
    for (file, text, name) in [
        (form.codes_file, &mut kept.codes, "codes_csv"),
        (form.successors_file, &mut kept.successors, "successors_csv"),
    ] {
        if let Some(f) = file.filter(|f| !f.data.is_empty()) {
            match String::from_utf8(f.data.to_vec()) {
                Ok(t) => *text = t,
                Err(_) => kept.problems.push(CatalogueProblem {
                    file: lang.t(name).to_string(),
                    line: String::new(),
                    column: String::new(),
                    message: lang.t("err_not_utf8").to_string(),
                }),
            }
        }
    }
    let number = |pointer: &str, text: &str, code: &'static str, what: &str| {
        text.parse::<i32>()
            .map_err(|_| FieldProblem::new(Location::Body, pointer, code, format!("{what} must be a whole number")))
    };
    let edition = number("/edition", &kept.edition, "catalogue.edition", "the edition");
    let count = number(
        "/code_count",
        &kept.code_count,
        "catalogue.code_count",
        "the number of codes",
    );
    let outcome = match (edition, count) {
        _ if !kept.problems.is_empty() => Err(None),
        (Ok(edition), Ok(code_count)) => {
            let input = service::catalogue::EditionInput {
                edition,
                in_force_from: kept.in_force_from.clone(),
                source: kept.source.clone(),
                code_count,
                codes_csv: kept.codes.clone(),
                successors_csv: Some(kept.successors.clone()).filter(|s| !s.trim().is_empty()),
            };
            match service::catalogue::import_edition(&state, &Ctx::new(u.who.clone()), input).await {
                Ok(_) => Ok(()),
                Err(e) => Err(Some(e)),
            }
        }
        (edition, count) => Err(Some(Error::Invalid(
            [edition.err(), count.err()].into_iter().flatten().collect(),
        ))),
    };
    match outcome {
        Ok(()) => Ok(see_other("/ui/catalogue?done=1")),
        Err(e) => {
            match e {
                None => {}
                Some(Error::Invalid(ps)) => kept.problems.extend(ps.iter().map(|p| catalogue_problem(lang, p))),
                Some(Error::Conflict(detail)) => kept.problems.push(CatalogueProblem {
                    file: String::new(),
                    line: String::new(),
                    column: String::new(),
                    message: detail,
                }),
                Some(other) => return Err(UiError::Service(other, lang)),
            }
            catalogue_page(&state, &u, &req, kept, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_pointers_become_file_line_and_column() {
        let at = |pointer: &str| {
            let p = FieldProblem::new(Location::Body, pointer, "x", "m");
            let v = catalogue_problem(Lang::En, &p);
            (v.file, v.line, v.column)
        };
        let (file, line, column) = at("/codes_csv/12/code");
        assert!(file.starts_with("Code table"), "{file}");
        assert_eq!((line.as_str(), column.as_str()), ("12", "code"));
        let (file, line, _) = at("/successors_csv/3");
        assert!(file.starts_with("Successor mapping") && line == "3", "{file}");
        assert_eq!(at("/code_count").0, "Number of codes (as the official text)");
    }
}
