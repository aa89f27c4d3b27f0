//! `serve --demo`: everything a newcomer needs to see the service work, with no credentials. Creates
//! (once) the organisation `demo`, a coordinator and 50 mentors whose certifications and return dates
//! make reminders, lapses and automatic resumes happen in the next days; starts an in-process
//! Dataverse simulator wired as the organisation's integration; and prints where to go and what to try.

use std::sync::Arc;

use chrono::{Days, NaiveDate};
use dataverse::ClientConfig;
use dataverse_sim::{SimConfig, Simulator, demo as sim_demo};
use domain::{
    Action, CertificationPeriod, Clock, Email, FullName, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone, Reason, Role, SystemClock, business_date,
};
use engine::Engine;
use engine::sign_in::random_token;
use engine::sync::{Integration, Mapping};
use secrecy::{ExposeSecret, SecretString};
use store::{
    Actor, NewCertification, NewMentor, NewOrg, NewUser, Org, Store, SyncPriority, SyncSelection,
    User,
};
use web::auth::TokenKeys;

use super::store_failed;
use crate::error::CliError;
use crate::password::hash_password;

pub const DEMO_SLUG: &str = "demo";
const COORDINATOR_EMAIL: &str = "koordinator@demo.example";
const MENTORS: u32 = 50;
/// Days from today to each mentor's last valid day, in turn: lapses in the next days, the 7-, 14- and
/// 30-day reminders, and a spread of later dates.
const EXPIRY_OFFSETS: [u64; 10] = [0, 1, 2, 6, 7, 13, 29, 45, 180, 540];
/// How long the printed token is valid.
const TOKEN_TTL_HOURS: i64 = 24;

/// What `serve` needs from the demo: the integration to push through, the keys its token was signed
/// with, and the simulator behind it with the text to print once the address is known.
pub struct Demo {
    pub integration: Integration,
    pub keys: TokenKeys,
    pub listing: DemoListing,
}

/// The simulator (alive while this value is), the coordinator's token and dashboard password.
pub struct DemoListing {
    simulator: Simulator,
    token: String,
    password: SecretString,
}

impl DemoListing {
    /// What to print once `serve` listens on `address`.
    pub fn banner(&self, address: &str) -> String {
        format!(
            "\nmentor-status demo\n\
             \n  Dashboard            http://{address}/\n\
             \x20 demo login           {COORDINATOR_EMAIL} / {password}\n\
             \x20 (a coordinator; the password is new on every start of the demo)\n\
             \n  API                  http://{address}/api/v1\n\
             \x20 coordinator token    {token}\n\
             \x20 (koordinator@demo.example, valid {TOKEN_TTL_HOURS} h; with a generated signing secret it \
             is valid for this run only)\n\
             \x20 Dynamics stand-in    {sim} (the Dataverse simulator behind the public listing)\n\
             \x20 its token endpoint   {token_url} (client {client_id}, secret {client_secret})\n\
             \nTry:\n\
             \x20 export TOKEN={token}\n\
             \x20 curl -s -H \"Authorization: Bearer $TOKEN\" 'http://{address}/api/v1/mentors?limit=5'\n\
             \x20 curl -s -H \"Authorization: Bearer $TOKEN\" 'http://{address}/api/v1/mentors?expiring_within_days=30'\n\
             \x20 curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n\
             \x20      -d '{{\"reason\":\"ferie\"}}' http://{address}/api/v1/mentors/<id>/pause\n\
             \x20 curl -s -H \"Authorization: Bearer $TOKEN\" http://{address}/api/v1/mentors/<id>   # sync.state: in_sync\n\
             \x20 curl -s -H \"Authorization: Bearer $TOKEN\" http://{address}/api/v1/sync/status\n\
             \x20 mentor-status expiry run --as-of <a date in the next days> --allow-future   # reminders, lapses, resumes\n",
            token = self.token,
            password = self.password.expose_secret(),
            sim = self.simulator.base_url(),
            token_url = self.simulator.token_url(),
            client_id = SimConfig::default().client_id,
            client_secret = SimConfig::default().client_secret,
        )
    }
}

/// Prepare the demo on `store`: data (once), simulator, integration, a token and a new dashboard
/// password for the coordinator.
pub async fn prepare<S: Store>(
    store: &S,
    jwt_secret: Option<&SecretString>,
) -> Result<Demo, CliError> {
    let org = match store
        .org_by_slug(&OrgSlug::parse(DEMO_SLUG).map_err(|e| CliError::failed(e.to_string()))?)
        .await
        .map_err(|e| store_failed("cannot look up the demo organisation", e))?
    {
        Some(org) => org,
        None => create_demo_data(store).await?,
    };
    let coordinator = store
        .user_by_email(
            &Email::parse(COORDINATOR_EMAIL).map_err(|e| CliError::failed(e.to_string()))?,
        )
        .await
        .map_err(|e| store_failed("cannot look up the demo coordinator", e))?
        .ok_or_else(|| CliError::failed("the demo organisation has no coordinator"))?;

    let password = generated_password();
    store
        .set_password_hash(coordinator.id, Some(hash_password(&password)?))
        .await
        .map_err(|e| store_failed("cannot set the demo coordinator's password", e))?;

    let simulator = Simulator::start(SimConfig::default())
        .await
        .map_err(|e| CliError::failed(format!("cannot start the Dataverse simulator: {e}")))?;
    sim_demo::seed_contacts(&simulator, MENTORS);
    let defaults = SimConfig::default();
    let client = dataverse::Client::new(ClientConfig::new(
        simulator.base_url(),
        simulator.token_url(),
        defaults.client_id,
        SecretString::from(defaults.client_secret),
        simulator.scope(),
    ))
    .map_err(|e| CliError::failed(format!("the simulator's client: {e}")))?;
    let integration = Integration {
        org: org.id,
        client,
        mapping: Mapping {
            alternate_key: Some(sim_demo::MEMBER_NUMBER_FIELD.to_owned()),
            ..Mapping::new(sim_demo::VISIBILITY_FIELD)
        },
    };
    // A fresh simulator knows nothing yet: queue every linked mentor, so the listing shows them.
    store
        .queue_sync(org.id, SyncSelection::AllLinked, SyncPriority::Normal)
        .await
        .map_err(|e| store_failed("cannot queue the demo mentors", e))?;

    let secret = jwt_secret.cloned().unwrap_or_else(generated_secret);
    let keys = TokenKeys::from_secret(&secret).map_err(CliError::usage)?;
    let token = keys.mint(
        &coordinator.auth_subject,
        chrono::Duration::hours(TOKEN_TTL_HOURS),
        SystemClock.now(),
    );
    Ok(Demo {
        integration,
        keys,
        listing: DemoListing {
            simulator,
            token,
            password,
        },
    })
}

/// A signing secret for this run only (256 random bits), when none is set.
fn generated_secret() -> SecretString {
    SecretString::from(random_token())
}

/// A password to type or paste: the first 20 characters of a random token, in groups of five.
fn generated_password() -> SecretString {
    let token: Vec<char> = random_token().chars().take(20).collect();
    let groups: Vec<String> = token.chunks(5).map(|g| g.iter().collect()).collect();
    SecretString::from(groups.join("-"))
}

async fn create_demo_data<S: Store>(store: &S) -> Result<Org, CliError> {
    let failed = |doing: &'static str| move |e| store_failed(doing, e);
    let org = store
        .create_org(NewOrg {
            slug: OrgSlug::parse(DEMO_SLUG).map_err(|e| CliError::failed(e.to_string()))?,
            name: "Demo (HLF likepersoner)".to_owned(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .map_err(failed("cannot create the demo organisation"))?;
    let coordinator: User = store
        .create_user(NewUser {
            org_id: org.id,
            email: Email::parse(COORDINATOR_EMAIL).map_err(|e| CliError::failed(e.to_string()))?,
            role: Role::Coordinator,
            mentor_id: None,
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .map_err(failed("cannot create the demo coordinator"))?;
    let now = SystemClock.now();
    let today = business_date(now, org.timezone);
    let mentors: Vec<NewMentor> = (1..=MENTORS)
        .map(|n| demo_mentor(n, today))
        .collect::<Result<_, _>>()?;
    let ids = store
        .create_mentors(org.id, Actor::System, mentors, now)
        .await
        .map_err(failed("cannot register the demo mentors"))?;
    // Every tenth mentor is on a break that ends in the next days (automatic resume).
    let engine = Engine::new(store.clone(), Arc::new(SystemClock));
    for (index, id) in ids.iter().enumerate().filter(|(i, _)| i % 10 == 9) {
        let resume_on = today
            .checked_add_days(Days::new(1 + (index / 10) as u64))
            .ok_or_else(|| CliError::failed("a return date past the calendar"))?;
        pause(&engine, &coordinator, *id, resume_on).await?;
    }
    Ok(org)
}

fn demo_mentor(n: u32, today: NaiveDate) -> Result<NewMentor, CliError> {
    let invalid = |e: domain::TextError| CliError::failed(e.to_string());
    let offset = EXPIRY_OFFSETS[(n as usize - 1) % EXPIRY_OFFSETS.len()];
    let expires_on = today
        .checked_add_days(Days::new(offset))
        .ok_or_else(|| CliError::failed("an expiry date past the calendar"))?;
    let issued_on = expires_on
        .checked_sub_days(Days::new(730))
        .ok_or_else(|| CliError::failed("an issue date before the calendar"))?;
    Ok(NewMentor {
        id: MentorId::new(),
        full_name: FullName::parse(&format!("Likeperson {n:02}")).map_err(invalid)?,
        email: Email::parse(&format!("likeperson{n:02}@demo.example")).map_err(invalid)?,
        phone: None,
        listed_publicly: true,
        dynamics_contact_id: Some(sim_demo::contact_id(n)),
        dynamics_key: None,
        status: MentorStatus::Active,
        certification: Some(NewCertification::new(
            CertificationPeriod::new(issued_on, expires_on)
                .map_err(|e| CliError::failed(e.to_string()))?,
        )),
    })
}

async fn pause<S: Store>(
    engine: &Engine<S>,
    coordinator: &User,
    mentor: MentorId,
    resume_on: NaiveDate,
) -> Result<(), CliError> {
    let reason = Reason::parse("ferie").map_err(|e| CliError::failed(e.to_string()))?;
    engine
        .request(
            coordinator,
            mentor,
            Action::Pause {
                reason,
                resume_on: Some(resume_on),
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| CliError::failed(format!("cannot pause a demo mentor: {e}")))
}
