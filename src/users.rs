//! A user's own profile (`/v1/users/me`) and settings: notification preferences.
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::UserId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::auth::{store::roles_of, AuthUser, Role};
use crate::error::{violated_constraint, ApiError, Code, Validation};
use crate::input::{check_url, nullable, Json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/me")
            .route(web::get().to(me))
            .route(web::patch().to(update_me)),
    )
    .service(web::resource("/users/me/settings").route(web::patch().to(update_settings)));
}

/// 3 to 32 letters, digits, `_`, `.` or `-`; unique regardless of case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        if !(3..=32).contains(&name.chars().count()) {
            return Err("must be 3 to 32 characters");
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || "_.-".contains(c))
        {
            return Err("may contain only letters, digits, '_', '.' and '-'");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The database's answer to a second account with the same username.
pub fn username_conflict(error: sqlx::Error) -> ApiError {
    match violated_constraint(&error) {
        Some("users_username_key") => ApiError::new(Code::UsernameTaken, "this username is taken"),
        _ => error.into(),
    }
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct UserSettings {
    /// Tickets and booking news by email.
    pub email_notifications: bool,
    /// Notifications on the website (the bell and its live stream).
    pub site_notifications: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: UserId,
    pub email: String,
    pub username: Option<String>,
    pub avatar: Option<String>,
    /// `YYYY-MM-DD`
    pub birthday: Option<NaiveDate>,
    pub roles: Vec<Role>,
    pub user_settings: UserSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// 3 to 32 letters, digits, `_`, `.` or `-`; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = r"^\s*[\w.-]{3,32}\s*$")]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar: Option<Option<String>>,
    /// `YYYY-MM-DD`; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Date)]
    pub birthday: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    pub email_notifications: Option<bool>,
    pub site_notifications: Option<bool>,
}

/// The caller's profile and settings.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(pool: web::Data<PgPool>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load_me(&pool, user.id).await?))
}

/// Change username, avatar or birthday. Fields left out keep their value; `null` clears one.
#[utoipa::path(patch, path = "/v1/users/me", tag = "users", security(("bearer" = [])), request_body = UpdateMe,
    responses((status = 200, body = Me), (status = 409, description = "username_taken", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn update_me(
    pool: web::Data<PgPool>,
    user: AuthUser,
    body: Json<UpdateMe>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut validation = Validation::new();
    let username = match body.username {
        Some(Some(name)) => Username::parse(&name)
            .map(|u| Some(Some(u.0)))
            .unwrap_or_else(|m| {
                validation.fail("username", m);
                None
            }),
        other => other,
    };
    if let Some(Some(avatar)) = &body.avatar {
        if let Err(m) = check_url(avatar) {
            validation.fail("avatar", m);
        }
    }
    let birthday = match &body.birthday {
        Some(Some(text)) => match parse_birthday(text) {
            Ok(date) => Some(Some(date)),
            Err(m) => {
                validation.fail("birthday", m);
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    validation.finish()?;

    // each column: keep it unless the request names it ($n set), then take the value (maybe null)
    sqlx::query(
        "UPDATE users SET
            username = CASE WHEN $2 THEN $3 ELSE username END,
            avatar   = CASE WHEN $4 THEN $5 ELSE avatar END,
            birthday = CASE WHEN $6 THEN $7 ELSE birthday END
         WHERE id = $1",
    )
    .bind(user.id)
    .bind(username.is_some())
    .bind(username.flatten())
    .bind(body.avatar.is_some())
    .bind(body.avatar.flatten())
    .bind(birthday.is_some())
    .bind(birthday.flatten())
    .execute(pool.get_ref())
    .await
    .map_err(username_conflict)?;
    Ok(HttpResponse::Ok().json(load_me(&pool, user.id).await?))
}

/// Change notification preferences; fields left out keep their value.
#[utoipa::path(patch, path = "/v1/users/me/settings", tag = "users", security(("bearer" = [])), request_body = UpdateSettings,
    responses((status = 200, body = Me)))]
pub async fn update_settings(
    pool: web::Data<PgPool>,
    user: AuthUser,
    body: Json<UpdateSettings>,
) -> Result<HttpResponse, ApiError> {
    sqlx::query(
        "UPDATE user_settings SET
            email_notifications = COALESCE($2, email_notifications),
            site_notifications  = COALESCE($3, site_notifications)
         WHERE user_id = $1",
    )
    .bind(user.id)
    .bind(body.email_notifications)
    .bind(body.site_notifications)
    .execute(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(load_me(&pool, user.id).await?))
}

fn parse_birthday(text: &str) -> Result<NaiveDate, &'static str> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date as YYYY-MM-DD")?;
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
    if date < earliest || date > Utc::now().date_naive() {
        return Err("must be between 1900-01-01 and today");
    }
    Ok(date)
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: UserId,
    email: String,
    username: Option<String>,
    avatar: Option<String>,
    birthday: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    email_notifications: bool,
    site_notifications: bool,
}

async fn load_me(pool: &PgPool, id: UserId) -> Result<Me, ApiError> {
    let row: UserRow = sqlx::query_as(
        "SELECT u.id, u.email, u.username, u.avatar, u.birthday, u.created_at, u.updated_at,
                s.email_notifications, s.site_notifications
         FROM users u JOIN user_settings s ON s.user_id = u.id
         WHERE u.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Me {
        id: row.id,
        email: row.email,
        username: row.username,
        avatar: row.avatar,
        birthday: row.birthday,
        roles: roles_of(pool, id).await?,
        user_settings: UserSettings {
            email_notifications: row.email_notifications,
            site_notifications: row.site_notifications,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        assert_eq!(Username::parse(" ada_l ").unwrap().as_str(), "ada_l");
        for bad in ["ab", "a b c", "x".repeat(33).as_str(), "semi;colon"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn birthdays_are_real_past_dates() {
        assert!(parse_birthday("1990-02-28").is_ok());
        assert!(parse_birthday("1990-02-30").is_err());
        assert!(parse_birthday("1850-01-01").is_err());
        assert!(parse_birthday("2999-01-01").is_err());
        assert!(parse_birthday("28/02/1990").is_err());
    }
}
