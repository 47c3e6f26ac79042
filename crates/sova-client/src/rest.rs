//! REST client for the `/api` endpoints.

use crate::{ClientError, DEFAULT_TIMEOUT, Result};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sova_types::models::{Message, RegisteredUser, TokenPair};
use sova_types::{ApiError, ChatId, ErrorCode, MessageId};

#[derive(Clone)]
pub struct RestClient {
    base: String,
    http: reqwest::Client,
}

/// A raw HTTP answer: status, headers of interest and parsed JSON body (Null if none).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub body: Value,
    pub request_id: Option<String>,
}

impl RestClient {
    /// `base` like `http://127.0.0.1:8080`.
    pub fn new(base: impl Into<String>) -> Result<RestClient> {
        let http = reqwest::Client::builder()
            .timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(RestClient {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// Sends any request; `body` is sent verbatim as bytes when given.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse> {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout
            } else {
                ClientError::Transport(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(format!("non-JSON body ({status}): {e}")))?
        };
        Ok(RawResponse {
            status,
            body,
            request_id,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<T> {
        let body = body.map(|b| b.to_string().into_bytes());
        let resp = self.raw(method, path, token, body).await?;
        if resp.status >= 400 {
            let error: ApiError = serde_json::from_value(resp.body.clone())
                .unwrap_or_else(|_| ApiError::new(ErrorCode::Internal, format!("untyped error body: {}", resp.body)));
            return Err(ClientError::Api {
                status: resp.status,
                error,
            });
        }
        let body = if resp.body.is_null() { json!(null) } else { resp.body };
        serde_json::from_value(body).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// GETs a plain-text resource such as `/metrics`.
    pub async fn raw_text(&self, path: &str) -> Result<String> {
        let resp = self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(ClientError::Protocol(format!("{path}: status {}", resp.status())));
        }
        resp.text().await.map_err(|e| ClientError::Transport(e.to_string()))
    }

    pub async fn health(&self) -> Result<Value> {
        self.call("GET", "/health", None, None).await
    }

    pub async fn register(&self, username: &str, password: &str) -> Result<RegisteredUser> {
        self.call(
            "POST",
            "/api/register",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<TokenPair> {
        self.call(
            "POST",
            "/api/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// Registers then logs in.
    pub async fn signup(&self, username: &str, password: &str) -> Result<TokenPair> {
        self.register(username, password).await?;
        self.login(username, password).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        self.call(
            "POST",
            "/api/refresh",
            None,
            Some(json!({"refresh_token": refresh_token})),
        )
        .await
    }

    pub async fn logout(&self, token: &str, refresh_token: Option<&str>) -> Result<()> {
        let body = refresh_token.map(|r| json!({"refresh_token": r}));
        let _: Value = self.call("POST", "/api/logout", Some(token), body).await?;
        Ok(())
    }

    /// `POST /api/send` with a bearer token.
    pub async fn send(&self, token: &str, text: &str) -> Result<Message> {
        self.call("POST", "/api/send", Some(token), Some(json!({"content": text})))
            .await
    }

    /// `POST /api/send` with every option.
    pub async fn send_to(
        &self,
        token: &str,
        chat: Option<ChatId>,
        text: &str,
        client_msg_id: Option<&str>,
    ) -> Result<Message> {
        let mut body = json!({"content": text});
        if let Some(c) = chat {
            body["chat_id"] = json!(c);
        }
        if let Some(id) = client_msg_id {
            body["client_msg_id"] = json!(id);
        }
        self.call("POST", "/api/send", Some(token), Some(body)).await
    }

    /// `GET /api/history`.
    pub async fn history(&self, token: &str, limit: Option<i64>, before: Option<MessageId>) -> Result<Vec<Message>> {
        let mut q = Vec::new();
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        if let Some(b) = before {
            q.push(format!("before={b}"));
        }
        let path = if q.is_empty() {
            "/api/history".to_owned()
        } else {
            format!("/api/history?{}", q.join("&"))
        };
        self.call("GET", &path, Some(token), None).await
    }
}
