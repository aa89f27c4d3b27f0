//! The client against the Dataverse simulator over real HTTP on 127.0.0.1.

mod auth;
mod faults;
mod logging;
mod reads;
mod writes;

use std::time::Duration;

use dataverse_sim::{SimConfig, Simulator};
use mentor_status_dataverse::{Client, ClientConfig};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use uuid::Uuid;

const ENTITY_SET: &str = "contacts";
const MEMBER_NO: &str = "hlf_memberno";
const VISIBLE: &str = "hlf_showonwebsite";

async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config)
        .await
        .expect("the simulator starts on 127.0.0.1")
}

async fn start_default() -> Simulator {
    start(SimConfig::default()).await
}

/// A client configuration holding the simulator's default credentials.
fn config_for(sim: &Simulator) -> ClientConfig {
    let defaults = SimConfig::default();
    ClientConfig::new(
        sim.base_url(),
        sim.token_url(),
        defaults.client_id,
        SecretString::from(defaults.client_secret),
        sim.scope(),
    )
}

fn client_for(sim: &Simulator) -> Client {
    Client::new(config_for(sim)).expect("a valid configuration")
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

/// Inserts a listed contact with member number `member_no` and returns its id.
fn insert_contact(sim: &Simulator, member_no: &str) -> Uuid {
    let id = Uuid::new_v4();
    sim.insert_contact(
        id,
        fields(json!({ MEMBER_NO: member_no, VISIBLE: true, "fullname": format!("Mentor {member_no}") })),
    );
    id
}

fn hide() -> Map<String, Value> {
    fields(json!({ VISIBLE: false }))
}

fn visibility(sim: &Simulator, id: Uuid) -> Option<Value> {
    sim.contact(id)
        .and_then(|record| record.get(VISIBLE).cloned())
}

/// Upper bound for any single test scenario, so a regression hangs no CI run.
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);
