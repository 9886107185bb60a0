//! A client of boxoffice's own HTTP API, for what drives a server from outside: `boxoffice
//! demo`, `loadgen` and the tests. Every call names its step, so a failure says what was being
//! done and what the server answered, in its own words.
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// Why a call did not get the answer it expected.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{step}: the request failed")]
    Request {
        step: String,
        #[source]
        cause: reqwest::Error,
    },
    #[error("{step}: the server answered {status}: {error}")]
    Api {
        step: String,
        status: u16,
        /// The API's error code, when the answer had the error shape.
        code: Option<String>,
        /// The message, code and fields at fault, or the start of a body of another shape.
        error: String,
    },
    #[error("{step}: the answer could not be read")]
    Unreadable {
        step: String,
        #[source]
        cause: serde_json::Error,
    },
}

impl ClientError {
    /// The API's error code of a refusal (`email_taken`, `sold_out`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// The tokens a login answers with.
#[derive(Clone, Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
}

impl ApiClient {
    /// A client of the server at `base` (`http://127.0.0.1:8080`) whose calls give up after a
    /// minute: a server that stops answering ends a run with an error instead of hanging it.
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a client with a timeout builds");
        Self::with_http(http, base)
    }

    /// A client on an HTTP client of the caller's (a load generator's connection pool).
    pub fn with_http(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request for `path` (`/v1/...`), with the bearer token if there is one.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// The status and body of the answer, whatever the status.
    pub async fn send(
        &self,
        step: &str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, String), ClientError> {
        let failed = |cause| ClientError::Request {
            step: step.to_owned(),
            cause,
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let body = response.text().await.map_err(failed)?;
        Ok((status, body))
    }

    /// The body of an answer with the `expected` status; any other is an error naming `step`.
    pub async fn expect(
        &self,
        step: &str,
        request: RequestBuilder,
        expected: StatusCode,
    ) -> Result<String, ClientError> {
        let (status, body) = self.send(step, request).await?;
        if status == expected {
            Ok(body)
        } else {
            Err(refusal(step, status, &body))
        }
    }

    /// [`ApiClient::expect`], read as JSON.
    pub async fn json<T: DeserializeOwned>(
        &self,
        step: &str,
        request: RequestBuilder,
        expected: StatusCode,
    ) -> Result<T, ClientError> {
        let body = self.expect(step, request, expected).await?;
        serde_json::from_str(&body).map_err(|cause| ClientError::Unreadable {
            step: step.to_owned(),
            cause,
        })
    }

    /// Registers an account (201); its JSON.
    pub async fn register(&self, email: &str, password: &str) -> Result<Value, ClientError> {
        let request = self
            .request(Method::POST, "/v1/auths/register", None)
            .json(&json!({"email": email, "password": password}));
        let step = format!("register {email}");
        self.json(&step, request, StatusCode::CREATED).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens, ClientError> {
        let request = self
            .request(Method::POST, "/v1/auths/login", None)
            .json(&json!({"email": email, "password": password}));
        let step = format!("log in as {email}");
        self.json(&step, request, StatusCode::OK).await
    }

    /// An organizer's new event (a draft); its JSON.
    pub async fn create_event(&self, token: &str, event: &Value) -> Result<Value, ClientError> {
        let request = self
            .request(Method::POST, "/v1/admin/events", Some(token))
            .json(event);
        let step = format!("create the event {}", event["name"]);
        self.json(&step, request, StatusCode::CREATED).await
    }

    /// A new ticket type of the event; its JSON.
    pub async fn create_ticket_type(
        &self,
        token: &str,
        event_id: &str,
        ticket_type: &Value,
    ) -> Result<Value, ClientError> {
        let path = format!("/v1/admin/events/{event_id}/ticket_types");
        let request = self
            .request(Method::POST, &path, Some(token))
            .json(ticket_type);
        let step = format!("add the ticket type {}", ticket_type["name"]);
        self.json(&step, request, StatusCode::CREATED).await
    }

    /// The ticket type's seat map (`{"sections": [...]}`); the seats as the server lists them.
    pub async fn define_seats(
        &self,
        token: &str,
        event_id: &str,
        ticket_type_id: &str,
        map: &Value,
    ) -> Result<Value, ClientError> {
        let path = format!("/v1/admin/events/{event_id}/ticket_types/{ticket_type_id}/seats");
        let request = self.request(Method::POST, &path, Some(token)).json(map);
        let step = format!("define the seats of ticket type {ticket_type_id}");
        self.json(&step, request, StatusCode::OK).await
    }

    /// Publishes the event; its JSON.
    pub async fn publish(&self, token: &str, event_id: &str) -> Result<Value, ClientError> {
        let path = format!("/v1/admin/events/{event_id}/publish");
        let request = self.request(Method::POST, &path, Some(token));
        let step = format!("publish the event {event_id}");
        self.json(&step, request, StatusCode::OK).await
    }
}

/// The API's error shape, `{"error": {"code", "message", "details"?}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    code: String,
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    field: String,
    message: String,
}

/// The step, the status and the API's own words (message, code, fields at fault).
fn refusal(step: &str, status: StatusCode, body: &str) -> ClientError {
    let (code, error) = match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => {
            let mut text = format!("{} ({})", error.message, error.code);
            let details: Vec<String> = error
                .details
                .iter()
                .map(|d| format!("{} {}", d.field, d.message))
                .collect();
            if !details.is_empty() {
                text.push_str(": ");
                text.push_str(&details.join("; "));
            }
            (Some(error.code), text)
        }
        Err(_) if body.is_empty() => (None, "an empty body".to_owned()),
        Err(_) => (None, body.chars().take(300).collect()),
    };
    ClientError::Api {
        step: step.to_owned(),
        status: status.as_u16(),
        code,
        error,
    }
}
