//! Keyset pagination: lists answer `{"data": [...], "next_token": "..." | null}`, where the
//! token is the position after the last item, opaque to clients.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Code, Validation};

/// `?limit=&next_token=` of a list that has no other filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub next_token: Option<String>,
}

impl PageQuery {
    /// The position to continue after and the page size; 422 for a bad limit, 400 for a
    /// `next_token` this server did not hand out.
    pub fn parse<C: DeserializeOwned>(self) -> Result<(Option<C>, u32), ApiError> {
        let mut validation = Validation::new();
        let limit = limit(self.limit, &mut validation);
        validation.finish()?;
        let after = self.next_token.as_deref().map(decode).transpose()?;
        Ok((after, limit))
    }
}

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `next_token` for the next page; `null` on the last page.
    pub next_token: Option<String>,
}

impl<T> Page<T> {
    /// `rows` were fetched with `limit + 1`: an extra row means there is a next page, which
    /// starts after the last row kept.
    pub fn from_rows<C: Serialize>(
        mut rows: Vec<T>,
        limit: u32,
        cursor_of: impl Fn(&T) -> C,
    ) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_token = more
            .then(|| rows.last().map(|last| encode(&cursor_of(last))))
            .flatten();
        Self {
            data: rows,
            next_token,
        }
    }
}

/// The requested page size, 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(requested: Option<i64>, validation: &mut Validation) -> u32 {
    match requested {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as u32,
        Some(_) => {
            validation.fail("limit", format!("must be between 1 and {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    }
}

pub fn encode<C: Serialize>(cursor: &C) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).expect("cursors serialize"))
}

pub fn decode<C: DeserializeOwned>(token: &str) -> Result<C, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidNextToken,
                "next_token is not one this server handed out",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_an_extra_row_points_after_its_last_item() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.data, vec![1, 2]);
        assert_eq!(
            decode::<i32>(page.next_token.as_deref().unwrap()).unwrap(),
            2
        );
        let last = Page::from_rows(vec![1, 2], 2, |n| *n);
        assert!(last.next_token.is_none());
    }

    #[test]
    fn foreign_tokens_are_refused() {
        assert_eq!(
            decode::<(i64, String)>("not base64!").unwrap_err().code,
            Code::InvalidNextToken
        );
        assert_eq!(
            decode::<(i64, String)>(&encode(&"a string"))
                .unwrap_err()
                .code,
            Code::InvalidNextToken
        );
    }
}
