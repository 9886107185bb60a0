//! The website: one HTML shell for every page path and the stylesheet and JavaScript modules under
//! `/assets/`, all compiled into the binary from `web/`. The pages draw themselves from the public
//! API (`/v1`), so the site has no rules of its own and shows the API's errors as they are.
use std::sync::LazyLock;

use actix_web::{http::header, middleware::Compress, web, HttpRequest, HttpResponse};

use crate::validators;

/// Paths the site answers with its shell; the browser-side router picks the page.
const PAGES: &[&str] = &[
    "/",
    "/login",
    "/signup",
    "/profile",
    "/notifications",
    "/events/{id}",
    "/events/{id}/queue",
    "/bookings",
    "/bookings/{id}",
    "/tickets",
    "/organizer",
    "/organizer/events/new",
    "/organizer/events/{id}",
    "/organizer/events/{id}/sales",
    "/organizer/events/{id}/attendees",
    "/organizer/checkin",
];

/// (name, content type, body) of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css", include_str!("../web/app.css")),
    ("app.js", JS, include_str!("../web/app.js")),
    ("api.js", JS, include_str!("../web/api.js")),
    ("dom.js", JS, include_str!("../web/dom.js")),
    ("seatmap.js", JS, include_str!("../web/seatmap.js")),
    ("buyer.js", JS, include_str!("../web/buyer.js")),
    ("account.js", JS, include_str!("../web/account.js")),
    ("organizer.js", JS, include_str!("../web/organizer.js")),
    ("queue.js", JS, include_str!("../web/queue.js")),
    ("favicon.svg", SVG, include_str!("../web/favicon.svg")),
    // the banners `boxoffice demo` gives its events, one per category
    (
        "banner-concert.svg",
        SVG,
        include_str!("../web/banner-concert.svg"),
    ),
    (
        "banner-sports.svg",
        SVG,
        include_str!("../web/banner-sports.svg"),
    ),
    (
        "banner-film.svg",
        SVG,
        include_str!("../web/banner-film.svg"),
    ),
    (
        "banner-music.svg",
        SVG,
        include_str!("../web/banner-music.svg"),
    ),
    (
        "banner-other.svg",
        SVG,
        include_str!("../web/banner-other.svg"),
    ),
];
const JS: &str = "text/javascript";
const SVG: &str = "image/svg+xml";
const SHELL: &str = include_str!("../web/index.html");

/// Scripts and styles come only from here; images may also be data: URLs or organizers' banners.
/// Banners may be http as well as https, because the API accepts both (`check_url`): an http
/// banner must not be blocked on the page that shows it. This includes the demo's own banners,
/// which live under `server.public_url`, an http address that differs from the page's origin
/// when the site is opened as `localhost` but the public URL says `127.0.0.1`.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob: http: https:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    for page in PAGES {
        cfg.route(page, web::get().to(shell));
    }
    cfg.default_service(web::to(not_found));
    // every page loads every module (79 KB), which gzip brings to a third
    cfg.service(
        web::resource("/assets/{name}")
            .wrap(Compress::default())
            .route(web::get().to(asset)),
    );
}

async fn shell() -> HttpResponse {
    shell_with(HttpResponse::Ok())
}

/// An address nothing answers: a browser asking for a page gets the site's own "page not found"
/// (the shell, whose router draws it) with its 404; the API's clients get the API's error.
async fn not_found(request: HttpRequest) -> HttpResponse {
    let wants_page = matches!(request.method().as_str(), "GET" | "HEAD")
        && !request.path().starts_with("/v1/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if wants_page {
        return shell_with(HttpResponse::NotFound());
    }
    // the error handlers give this the API's error shape
    HttpResponse::NotFound().finish()
}

fn shell_with(mut answer: actix_web::HttpResponseBuilder) -> HttpResponse {
    answer
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SHELL)
}

async fn asset(request: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some(index) = ASSETS.iter().position(|(n, _, _)| *n == name.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let (_, content_type, body) = ASSETS[index];
    // the binary carries its assets, so a new build is the only way they change: browsers ask
    // each time (no-cache) and, while the build is the same, are told 304 without the body
    let tag = ETAGS[index].as_str();
    let unchanged = validators::unchanged(&request, tag);
    let mut answer = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if unchanged {
        return answer.finish();
    }
    answer
        .content_type(format!("{content_type}; charset=utf-8"))
        .body(body)
}

/// Each asset's ETag, in the order of `ASSETS`, hashed once rather than on every request.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, _, body)| validators::etag(body))
        .collect()
});
