//! What the simulated organisation looks like: its one application user, its one table, its limits.

use std::time::Duration;

/// Settings fixed for the life of one simulator. Faults are changed at run time through
/// [`crate::Faults`] instead.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The application (client) id the token endpoint accepts.
    pub client_id: String,
    /// The currently valid client secret; see [`crate::Simulator::rotate_secret`].
    pub client_secret: String,
    /// `expires_in` of issued tokens; a token older than this is answered with 401.
    pub token_lifetime: Duration,
    /// The entity set (table) the Web API serves, e.g. `contacts`.
    pub entity_set: String,
    /// The table's primary key column, e.g. `contactid`.
    pub primary_key: String,
    /// Columns usable as alternate keys: `contacts(hlf_memberno='12345')`.
    pub alternate_keys: Vec<String>,
    /// The largest page a client may ask for with `Prefer: odata.maxpagesize`, and the default page.
    pub max_page_size: usize,
    /// The most operations one `$batch` may hold; more is answered with 400.
    pub max_batch_operations: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "sim-client".to_owned(),
            client_secret: "sim-secret".to_owned(),
            // What Entra ID usually answers; real lifetimes vary between 60 and 90 minutes.
            token_lifetime: Duration::from_secs(3599),
            entity_set: "contacts".to_owned(),
            primary_key: "contactid".to_owned(),
            alternate_keys: vec!["hlf_memberno".to_owned()],
            max_page_size: 5000,
            max_batch_operations: 1000,
        }
    }
}
