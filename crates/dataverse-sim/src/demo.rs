//! Demo data: contacts with deterministic ids and member numbers, as `dataverse-sim --contacts N`
//! creates them, so a demo database can link mentors to them ahead of time.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::simulator::Simulator;

/// The column the demo uses for "show on the public website".
pub const VISIBILITY_FIELD: &str = "hlf_showonwebsite";
/// The alternate-key column holding the member number.
pub const MEMBER_NUMBER_FIELD: &str = "hlf_memberno";

/// The id of demo contact `n` (1-based): `5eed0000-0000-4000-8000-00000000000n` in hex.
pub fn contact_id(n: u32) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
}

/// The member number of demo contact `n`: `100001`, `100002`, …
pub fn member_number(n: u32) -> String {
    (100_000 + u64::from(n)).to_string()
}

/// Create demo contacts 1..=`count`, all hidden from the website.
pub fn seed_contacts(sim: &Simulator, count: u32) {
    for n in 1..=count {
        let fields = Map::from_iter([
            (
                MEMBER_NUMBER_FIELD.to_owned(),
                Value::String(member_number(n)),
            ),
            (VISIBILITY_FIELD.to_owned(), Value::Bool(false)),
            (
                "fullname".to_owned(),
                Value::String(format!("Demo Mentor {n}")),
            ),
        ]);
        sim.insert_contact(contact_id(n), fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_member_numbers_are_deterministic_and_distinct() {
        assert_eq!(
            contact_id(1).to_string(),
            "5eed0000-0000-4000-8000-000000000001"
        );
        assert_ne!(contact_id(1), contact_id(2));
        assert_eq!(member_number(7), "100007");
    }
}
