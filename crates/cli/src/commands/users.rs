//! `mentor-status users add` and `users token`.

use domain::{Clock, Role, SystemClock};
use serde_json::json;
use store::{Constraint, NewUser, Org, Store, StoreError};
use web::auth::TokenKeys;

use super::{Outcome, store_failed};
use crate::args::{UsersAdd, UsersToken};
use crate::config::Config;
use crate::error::CliError;
use crate::password::{hash_password, read_password};

pub async fn add<S: Store>(store: &S, args: UsersAdd) -> Result<Outcome, CliError> {
    if args.mentor.is_some() && args.role != Role::Mentor {
        return Err(CliError::usage(format!(
            "--mentor links a mentor's own login and needs --role mentor, not --role {}",
            args.role
        )));
    }
    // Read and hash before touching the database, so a bad password changes nothing.
    let password_hash = if args.password_stdin {
        let password = read_password(std::io::stdin().lock())?;
        Some(hash_password(&password)?)
    } else {
        None
    };
    let org = org_by_slug(store, &args.org).await?;
    if let Some(mentor) = args.mentor {
        store.mentor(org.id, mentor).await.map_err(|e| match e {
            StoreError::NotFound { .. } => {
                CliError::failed(format!("organisation {} has no mentor {mentor}", org.slug))
            }
            other => store_failed("cannot look up the mentor", other),
        })?;
    }
    let user = store
        .create_user(NewUser {
            org_id: org.id,
            email: args.email.clone(),
            role: args.role,
            mentor_id: args.mentor,
            auth_subject: None,
            password_hash,
            locale: args.locale,
        })
        .await
        .map_err(|e| match e.constraint() {
            Some(Constraint::UserEmail) => {
                CliError::failed(format!("a user with email {} already exists", args.email))
            }
            Some(Constraint::UserMentorLink) => CliError::failed(format!(
                "mentor {} already has a login",
                args.mentor.map(|m| m.to_string()).unwrap_or_default()
            )),
            _ => store_failed("cannot create the user", e),
        })?;
    let mentor_part = user
        .mentor_id
        .map(|m| format!(", mentor {m}"))
        .unwrap_or_default();
    Ok(Outcome::report(
        format!(
            "created {} {} in {}{mentor_part}, id {}{}",
            user.role,
            user.email,
            org.slug,
            user.id,
            if user.password_hash.is_some() {
                ", with a dashboard password"
            } else {
                ""
            }
        ),
        json!({
            "id": user.id,
            "org": org.slug,
            "email": user.email,
            "role": user.role,
            "mentor_id": user.mentor_id,
            "subject": user.auth_subject,
            "has_password": user.password_hash.is_some(),
        }),
    ))
}

pub async fn token<S: Store>(
    config: &Config,
    store: &S,
    args: UsersToken,
) -> Result<Outcome, CliError> {
    let keys = TokenKeys::from_secret(config.require_jwt_secret()?).map_err(CliError::usage)?;
    let user = store
        .user_by_email(&args.email)
        .await
        .map_err(|e| store_failed("cannot look up the user", e))?
        .ok_or_else(|| CliError::failed(format!("no user has the email {}", args.email)))?;
    let now = SystemClock.now();
    let token = keys.mint(&user.auth_subject, args.ttl, now);
    Ok(Outcome::report(
        token.clone(),
        json!({
            "token": token,
            "subject": user.auth_subject,
            "expires_at": now + args.ttl,
        }),
    ))
}

pub(super) async fn org_by_slug<S: Store>(
    store: &S,
    slug: &domain::OrgSlug,
) -> Result<Org, CliError> {
    store
        .org_by_slug(slug)
        .await
        .map_err(|e| store_failed("cannot look up the organisation", e))?
        .ok_or_else(|| {
            CliError::failed(format!(
                "no organisation has the slug `{slug}`; create it with `mentor-status orgs add`"
            ))
        })
}
