//! The UI's CSS and JavaScript, embedded in the binary: nothing is loaded from the internet.
//! htmx 2 and Chart.js 4 are vendored under `assets/` with their licences.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/app.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/htmx.min.js"),
    },
    Asset {
        name: "chart.umd.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/chart.umd.min.js"),
    },
];

pub async fn serve(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.name == file.as_str()) {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            // Names do not change with the content, so caches revalidate after an hour.
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(a.body),
        None => HttpResponse::NotFound().finish(),
    }
}
