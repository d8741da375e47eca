//! The paths of the published document and their methods, so that a method a path does not
//! have is answered 405 with `Allow` (RFC 9110 §15.5.6) and `OPTIONS` lists the same methods:
//! both come from the very document clients code against.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::ApiError;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Each documented path as its segments (`None` for a `{parameter}`) with its methods.
pub struct Routes(Vec<(Vec<Option<String>>, Vec<String>)>);

impl Routes {
    pub fn from_document(doc: &utoipa::openapi::OpenApi) -> Routes {
        let value = serde_json::to_value(doc).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let segments = path
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect();
                let methods = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                routes.push((segments, methods));
            }
        }
        Routes(routes)
    }

    /// The methods of the documented path that `path` is, preferring literal segments over
    /// parameters (`/whitelist-entries/eligible-operators` over `/whitelist-entries/{id}`).
    pub fn methods(&self, path: &str) -> Option<&[String]> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(s, p)| match s {
                        Some(lit) => lit == p,
                        None => !p.is_empty(),
                    })
            })
            .max_by_key(|(segments, _)| segments.iter().filter(|s| s.is_some()).count())
            .map(|(_, methods)| methods.as_slice())
    }
}

/// What answers a request no route took: `OPTIONS` and other methods on a documented path, or
/// 404 for an unknown path.
pub async fn fallback(req: HttpRequest, routes: Option<web::Data<Routes>>) -> Result<HttpResponse, ApiError> {
    let Some(methods) = routes.as_ref().and_then(|r| r.methods(req.path())) else {
        return Err(ApiError::NotFound);
    };
    // The method is the path's, but no route took the request: a path parameter did not have
    // its form (a year of letters). There is no such resource.
    if methods.iter().any(|m| m == req.method().as_str()) {
        return Err(ApiError::NotFound);
    }
    let mut allow = methods.to_vec();
    allow.push("OPTIONS".into());
    if req.method() == Method::OPTIONS {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ALLOW, allow.join(", ")))
            .finish());
    }
    Err(ApiError::MethodNotAllowed(allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_and_parameters_need_a_value() {
        let doc: utoipa::openapi::OpenApi = serde_json::from_value(serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/a/{id}": {"get": {"responses": {}}, "delete": {"responses": {}}},
                "/a/list": {"post": {"responses": {}}}
            }
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let routes = Routes::from_document(&doc);
        assert_eq!(
            routes.methods("/a/x7"),
            Some(&["GET".to_string(), "DELETE".to_string()][..])
        );
        assert_eq!(routes.methods("/a/list"), Some(&["POST".to_string()][..]));
        assert_eq!(routes.methods("/a/"), None);
        assert_eq!(routes.methods("/b/x"), None);
    }
}
