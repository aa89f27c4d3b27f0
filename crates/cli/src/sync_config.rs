//! `[sync]` and `[orgs.<slug>.dynamics]`: the public listing sync's pacing and each organisation's
//! Dynamics integration. Client secrets come only from the environment
//! (`MENTOR_STATUS__ORGS__<SLUG>__DYNAMICS__CLIENT_SECRET`) or, for break-glass, standard input.

use std::collections::BTreeMap;
use std::time::Duration;

use dataverse::ClientConfig;
use engine::sync::{Integration, Mapping, RelayConfig, StatusColumn, StatusValues};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use store::Store;

use crate::duration;
use crate::env::ENV_PREFIX;
use crate::error::CliError;

/// `[sync]`: how relays pace themselves. Durations are numbers in the key's unit or durations such
/// as `"2m"` (see `duration`); a key left out takes the engine's default ([`RelayConfig`]'s).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSection {
    /// Run the outbox relays in this instance (several instances may; each change is pushed once).
    pub relay_enabled: bool,
    /// Relays per organisation in this instance: one's database work overlaps another's request
    /// (the client still sends one request at a time).
    pub relays_per_org: usize,
    #[serde(deserialize_with = "duration::seconds")]
    pub lease_seconds: Duration,
    #[serde(deserialize_with = "duration::seconds")]
    pub poll_seconds: Duration,
    #[serde(deserialize_with = "duration::seconds")]
    pub backoff_initial_seconds: Duration,
    #[serde(deserialize_with = "duration::seconds")]
    pub backoff_max_seconds: Duration,
    /// How long transient failures are retried before a mentor's rows are dead.
    #[serde(deserialize_with = "duration::hours")]
    pub retry_budget_hours: Duration,
    /// Between credential checks (token + WhoAmI); fractions of minutes allowed (at least a
    /// second), for rehearsals that cannot wait minutes.
    #[serde(deserialize_with = "duration::fractional_minutes")]
    pub credential_check_minutes: Duration,
}

/// Relays per organisation in one instance, unless `sync.relays_per_org` says otherwise.
const DEFAULT_RELAYS_PER_ORG: usize = 2;

impl Default for SyncSection {
    fn default() -> Self {
        let relay = RelayConfig::default();
        SyncSection {
            relay_enabled: true,
            relays_per_org: DEFAULT_RELAYS_PER_ORG,
            lease_seconds: relay.lease,
            poll_seconds: relay.poll_interval,
            backoff_initial_seconds: relay.backoff_initial,
            backoff_max_seconds: relay.backoff_max,
            retry_budget_hours: relay.retry_budget,
            credential_check_minutes: relay.credential_check_interval,
        }
    }
}

impl SyncSection {
    pub fn relay_config(&self) -> Result<RelayConfig, CliError> {
        if !(1..=8).contains(&self.relays_per_org) {
            return Err(CliError::usage("sync.relays_per_org must be from 1 to 8"));
        }
        for (name, value, unit) in [
            ("lease_seconds", self.lease_seconds, 1),
            ("poll_seconds", self.poll_seconds, 1),
            ("backoff_initial_seconds", self.backoff_initial_seconds, 1),
            ("backoff_max_seconds", self.backoff_max_seconds, 1),
            ("retry_budget_hours", self.retry_budget_hours, 3600),
        ] {
            if value < Duration::from_secs(unit) {
                return Err(CliError::usage(format!("sync.{name} must be at least 1")));
            }
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(86_400))
            .contains(&self.credential_check_minutes)
        {
            return Err(CliError::usage(
                "sync.credential_check_minutes must be from 0.0167 (one second) to 1440",
            ));
        }
        Ok(RelayConfig {
            lease: self.lease_seconds,
            poll_interval: self.poll_seconds,
            backoff_initial: self.backoff_initial_seconds,
            backoff_max: self.backoff_max_seconds,
            retry_budget: self.retry_budget_hours,
            credential_check_interval: self.credential_check_minutes,
        })
    }
}

/// `[orgs.<slug>]`: settings of one organisation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSection {
    #[serde(default)]
    pub dynamics: Option<DynamicsSection>,
}

/// `[orgs.<slug>.dynamics]`: the organisation's Dynamics 365 integration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicsSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub api_base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub scope: String,
    #[serde(default = "default_entity_set")]
    pub entity_set: String,
    #[serde(default = "default_primary_key")]
    pub primary_key: String,
    /// The alternate key column that mentors' `dynamics_key` values refer to.
    #[serde(default)]
    pub alternate_key: Option<String>,
    pub visibility_field: String,
    #[serde(default)]
    pub status_field: Option<String>,
    #[serde(default)]
    pub status_values: Option<StatusValuesSection>,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(
        default = "default_request_timeout",
        deserialize_with = "duration::seconds"
    )]
    pub request_timeout_seconds: Duration,
    /// From the environment only; see [`client_secret_env`].
    #[serde(skip)]
    pub client_secret: Option<SecretString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusValuesSection {
    pub active: Value,
    pub paused: Value,
    pub certification_expired: Value,
    pub inactive: Value,
}

/// The environment variable holding `slug`'s client secret.
pub fn client_secret_env(slug: &str) -> String {
    format!(
        "{ENV_PREFIX}ORGS__{}__DYNAMICS__CLIENT_SECRET",
        slug.to_ascii_uppercase()
    )
}

/// Whether a configuration key (after the prefix, `__`-separated, any case) is a client secret.
pub fn is_client_secret_key(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with("dynamics.client_secret")
        || key
            .to_ascii_lowercase()
            .ends_with("dynamics__client_secret")
}

/// Fill in every organisation's client secret from the environment (names compared ignoring case).
pub fn read_client_secrets(orgs: &mut BTreeMap<String, OrgSection>) {
    let secrets: Vec<(String, String)> = std::env::vars()
        .map(|(key, value)| (key.to_ascii_uppercase(), value))
        .collect();
    for (slug, org) in orgs.iter_mut() {
        if let Some(dynamics) = &mut org.dynamics {
            let wanted = client_secret_env(slug);
            dynamics.client_secret = secrets
                .iter()
                .find(|(key, _)| *key == wanted)
                .map(|(_, value)| SecretString::from(value.clone()));
        }
    }
}

impl DynamicsSection {
    fn mapping(&self, slug: &str) -> Result<Mapping, CliError> {
        let status = match (&self.status_field, &self.status_values) {
            (None, None) => None,
            (Some(field), Some(values)) => Some(StatusColumn {
                field: field.clone(),
                values: StatusValues {
                    active: values.active.clone(),
                    paused: values.paused.clone(),
                    certification_expired: values.certification_expired.clone(),
                    inactive: values.inactive.clone(),
                },
            }),
            _ => {
                return Err(CliError::usage(format!(
                    "orgs.{slug}.dynamics: status_field and status_values go together \
                     (set both or neither)"
                )));
            }
        };
        for (name, value) in [
            ("entity_set", &self.entity_set),
            ("primary_key", &self.primary_key),
            ("visibility_field", &self.visibility_field),
        ] {
            if value.trim().is_empty() {
                return Err(CliError::usage(format!(
                    "orgs.{slug}.dynamics.{name} must not be empty"
                )));
            }
        }
        Ok(Mapping {
            entity_set: self.entity_set.clone(),
            primary_key: self.primary_key.clone(),
            alternate_key: self.alternate_key.clone(),
            visibility_field: self.visibility_field.clone(),
            status,
        })
    }

    /// The client configuration, with `secret` (break-glass) or the one from the environment.
    fn client_config(
        &self,
        slug: &str,
        secret: Option<SecretString>,
    ) -> Result<ClientConfig, CliError> {
        let secret = secret
            .or_else(|| self.client_secret.clone())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "orgs.{slug}.dynamics has no client secret: set the environment variable {}",
                    client_secret_env(slug)
                ))
            })?;
        let mut config = ClientConfig::new(
            &self.api_base_url,
            &self.token_url,
            &self.client_id,
            secret,
            &self.scope,
        );
        config.batch_size = self.batch_size;
        config.request_timeout = self.request_timeout_seconds;
        config
            .validate()
            .map_err(|e| CliError::usage(format!("orgs.{slug}.dynamics: {e}")))?;
        Ok(config)
    }

    /// Check everything that needs neither the database nor the secret (run at load time; a
    /// missing secret is reported by the commands that need it, since break-glass brings its own).
    pub fn validate(&self, slug: &str) -> Result<(), CliError> {
        self.mapping(slug)?;
        self.client_config(slug, Some(SecretString::from("placeholder")))?;
        Ok(())
    }
}

/// The enabled integrations, resolved against the database's organisations. `override_secret`
/// replaces the configured secret of `only` (break-glass).
pub async fn integrations<S: Store>(
    store: &S,
    orgs: &BTreeMap<String, OrgSection>,
    only: Option<&str>,
    override_secret: Option<SecretString>,
) -> Result<Vec<Integration>, CliError> {
    let mut integrations = Vec::new();
    for (slug, section) in orgs {
        let Some(dynamics) = section.dynamics.as_ref().filter(|d| d.enabled) else {
            continue;
        };
        if only.is_some_and(|only| only != slug) {
            continue;
        }
        let parsed = domain::OrgSlug::parse(slug)
            .map_err(|e| CliError::usage(format!("orgs.{slug}: {e}")))?;
        let org = store
            .org_by_slug(&parsed)
            .await
            .map_err(|e| CliError::failed(format!("cannot read organisation {slug}: {e}")))?
            .ok_or_else(|| {
                CliError::usage(format!(
                    "orgs.{slug}.dynamics is configured, but there is no organisation {slug} \
                     (add it with `mentor-status orgs add --slug {slug} …`)"
                ))
            })?;
        let client = dataverse::Client::new(dynamics.client_config(slug, override_secret.clone())?)
            .map_err(|e| CliError::usage(format!("orgs.{slug}.dynamics: {e}")))?;
        integrations.push(Integration {
            org: org.id,
            client,
            mapping: dynamics.mapping(slug)?,
        });
    }
    Ok(integrations)
}

fn default_true() -> bool {
    true
}
fn default_entity_set() -> String {
    "contacts".to_owned()
}
fn default_primary_key() -> String {
    "contactid".to_owned()
}
fn default_batch_size() -> usize {
    dataverse::DEFAULT_BATCH_SIZE
}
fn default_request_timeout() -> Duration {
    dataverse::DEFAULT_REQUEST_TIMEOUT
}
