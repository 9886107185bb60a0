//! The website's shell and assets (`src/site.rs`), as a browser fetches them.
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn every_page_path_answers_the_shell_with_its_content_security_policy() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/events/anything", "/organizer/checkin"] {
        let answer = app.get(path, None).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let csp = answer.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        // organizers' banners may be http or https URLs (the API accepts both); the page must
        // not block either
        let images = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("img-src "))
            .unwrap_or_else(|| panic!("{path}: no img-src in {csp}"));
        let sources: Vec<&str> = images.split_whitespace().collect();
        assert!(sources.contains(&"http:"), "{images}");
        assert!(sources.contains(&"https:"), "{images}");
        let html = answer.text().await.unwrap();
        assert!(html.contains("/assets/app.js"), "{path}: {html}");
    }
}

#[actix_web::test]
async fn the_demo_banners_are_served_as_svg_images() {
    let app = spawn_app().await;
    for category in ["concert", "sports", "film", "music", "other"] {
        let path = format!("/assets/banner-{category}.svg");
        let answer = app.get(&path, None).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let content_type = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("image/svg+xml"),
            "{path}: {content_type}"
        );
        assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
        let svg = answer.text().await.unwrap();
        assert!(
            svg.starts_with("<svg ") && svg.contains("viewBox=\"0 0 1200 400\""),
            "{path}: {svg}"
        );
        // drawn, not fetched: the banner loads with nothing else from anywhere
        assert!(!svg.contains("href=\"http"), "{path} links out");
        assert!(svg.len() < 4096, "{path} is {} bytes", svg.len());
    }
}

#[actix_web::test]
async fn an_unknown_asset_is_404() {
    let app = spawn_app().await;
    let answer = app.get("/assets/banner-opera.svg", None).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn assets_are_compressed_and_revalidated_without_their_body() {
    let app = spawn_app().await;
    let url = format!("{}/assets/buyer.js", app.address);
    let plain = app.api.http().get(&url).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let tag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let size = plain.bytes().await.unwrap().len();

    let with =
        |name: &'static str, value: String| app.api.http().get(&url).header(name, value).send();

    let gzipped = with("accept-encoding", "gzip".into()).await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let compressed = gzipped.bytes().await.unwrap().len();
    assert!(
        compressed * 2 < size,
        "{compressed} bytes gzipped of {size}"
    );

    let again = with("if-none-match", tag.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], tag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = with("if-none-match", "\"0000000000000000\"".into())
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
}

#[actix_web::test]
async fn an_unknown_page_is_the_site_s_page_not_found_for_browsers_and_json_for_the_api() {
    let app = spawn_app().await;
    for path in ["/events/", "/no/such/page"] {
        let answer = app
            .request(reqwest::Method::GET, path, None)
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = answer.text().await.unwrap();
        assert!(html.contains("/assets/app.js"), "{path}: {html}");
    }
    for (path, accept) in [
        ("/events/", "application/json"),
        ("/v1/no-such-thing", "text/html"),
    ] {
        let answer = app
            .request(reqwest::Method::GET, path, None)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
}
