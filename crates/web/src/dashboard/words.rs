//! Every word the dashboard shows, in Norwegian (bokmål) and English. One struct literal per
//! language: the compiler refuses a language that lacks a text, and the templates only ever print
//! these (and data). Texts with numbers or dates in them are methods.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use chrono::{DateTime, NaiveDate, Utc};
use domain::{ActionKind, Locale, MentorStatus, OrgTimeZone};
use engine::Job;
use store::{ReminderOutcome, RunOutcome, RunTrigger, Severity};

/// The struct of every text, and a list of them all (for the test that each language has each).
macro_rules! words {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        pub(crate) struct Words {
            pub locale: Locale,
            /// The `lang` attribute.
            pub lang: &'static str,
            $($(#[$doc])* pub $field: &'static str,)*
        }

        impl Words {
            /// Every text by its name.
            #[cfg(test)]
            pub fn texts(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field)),*]
            }
        }
    };
}

words! {
    // --- the frame of every page ---
    app_name,
    skip_to_content,
    nav_label,
    nav_mentors,
    nav_my_page,
    nav_sync,
    nav_alerts,
    nav_runs,
    nav_settings,
    signed_in_as,
    log_out,
    back_to_mentors,
    yes,
    no,
    not_set,
    refresh,

    // --- login ---
    login_title,
    login_intro,
    email,
    password,
    log_in,
    /// The link to the other language, in that language.
    other_language,
    other_language_code,
    login_failed,
    login_rate_limited,
    session_expired,
    logged_out,
    form_expired,

    // --- the mentors list ---
    mentors_title,
    filters_heading,
    filter_status,
    all_statuses,
    filter_expiring,
    filter_expiring_help,
    filter_search,
    filter_search_help,
    apply_filters,
    clear_filters,
    mentors_caption,
    col_name,
    col_email,
    col_status,
    col_certification,
    col_sync,
    no_mentors,
    next_page,
    first_page,
    pagination_label,
    no_certification,

    // --- one mentor ---
    details_heading,
    phone,
    listed_publicly,
    dynamics_link,
    not_linked,
    contact_id,
    dynamics_key,
    status_heading,
    status,
    status_reason,
    status_since,
    resume_on,
    certification_heading,
    issued_on,
    expires_on,
    days_left_label,
    sync_heading,
    sync_state,
    pushed_version,
    pushed_at,
    last_error,
    never_pushed,
    force_sync,
    force_sync_help,
    sync_disabled_help,
    actions_heading,
    no_actions,
    pause_heading,
    pause_help,
    reason,
    resume_on_optional,
    pause_button,
    resume_heading,
    resume_help,
    resume_button,
    deactivate_heading,
    deactivate_help,
    deactivate_button,
    reactivate_heading,
    reactivate_help,
    reactivate_button,
    renewal_heading,
    renewal_help,
    renewal_button,
    history_heading,
    history_caption,
    col_when,
    col_change,
    col_reason,
    col_by,
    system_actor,
    registered,
    no_history,
    older_history,
    newest_history,
    reminders_heading,
    reminders_caption,
    col_threshold,
    col_cert_expires,
    col_outcome,
    col_business_date,
    outcome_sent,
    outcome_skipped,
    no_reminders,

    // --- what an action did (after its redirect) ---
    done_paused,
    done_resumed,
    done_deactivated,
    done_reactivated,
    done_renewed,
    done_sync_queued,
    done_sync_already_queued,
    done_sync_all_queued,
    done_retried,
    done_nothing_to_retry,
    done_acknowledged,
    done_settings_saved,

    // --- sync health ---
    sync_title,
    sync_not_configured,
    queue_heading,
    pending,
    retrying,
    dead,
    oldest_pending,
    nothing_pending,
    lag_heading,
    lag_confirmed,
    lag_p50,
    lag_p95,
    lag_p99,
    no_lag_data,
    portal_cache_note,
    credential_heading,
    credential_ok,
    credential_failed,
    checked_at,
    credential_detail,
    never_checked,
    drift_heading,
    reconciled_at,
    records_checked,
    drift_found,
    missing_records,
    no_reconciliation,
    dead_letters_heading,
    dead_letters_caption,
    col_rows,
    col_last_error,
    col_since,
    retry_button,
    retry_all_button,
    no_dead_letters,
    force_sync_all,
    force_sync_all_help,

    // --- alerts ---
    alerts_title,
    alerts_caption,
    show_open_only,
    show_all,
    col_severity,
    col_kind,
    col_summary,
    col_first_seen,
    col_last_seen,
    col_count,
    col_state,
    alert_open,
    alert_acknowledged,
    alert_resolved,
    acknowledge_button,
    no_alerts,
    severity_warning,
    severity_critical,

    // --- runs ---
    runs_title,
    runs_caption,
    col_job,
    col_trigger,
    col_started,
    col_finished,
    col_counts,
    col_error,
    trigger_scheduled,
    trigger_manual,
    outcome_running,
    outcome_succeeded,
    outcome_failed,
    no_runs,
    job_expiry,
    job_listing_sync,
    count_expired,
    count_resumed,
    count_resumed_into_expired,
    count_reminders_sent,
    count_reminders_skipped,
    count_resume_notices,
    count_lost_races,
    count_digests,
    count_findings,
    count_queued,
    count_checked,
    count_drift,
    count_missing_records,
    no_counts,

    // --- organisation settings ---
    settings_title,
    thresholds_heading,
    own_thresholds,
    own_thresholds_help,
    effective_thresholds,
    flag_heading,
    flag_on,
    flag_off,
    email_heading,
    email_enabled,
    email_enabled_help,
    locale_label,
    locale_help,
    locale_nb,
    locale_en,
    save_button,

    // --- errors ---
    error_heading,
    error_not_found,
    error_forbidden,
    error_unavailable,
    error_internal,
    error_bad_request,
    error_conflict,
    error_reason_required,
    error_reason_too_long,
    error_invalid_date,
    error_resume_on_not_after_today,
    error_expires_before_issued,
    error_dates_required,
    error_thresholds_invalid,
    error_expiring_invalid,
    error_search_too_long,
    error_locale_invalid,
    error_not_linked,
    error_invalid_input,
    go_to_start,

    // --- statuses, sync states, actions ---
    status_active,
    status_paused,
    status_certification_expired,
    status_inactive,
    sync_disabled,
    sync_unlinked,
    sync_in_sync,
    sync_pending,
    sync_failed,
    sync_dead,
    action_pause,
    action_resume,
    action_deactivate,
    action_reactivate,
    action_renew,
    action_expire,
    action_auto_resume,
}

pub(crate) static NB: Words = Words {
    locale: Locale::Nb,
    lang: "nb",

    app_name: "Likepersonstatus",
    skip_to_content: "Hopp til innholdet",
    nav_label: "Hovedmeny",
    nav_mentors: "Likepersoner",
    nav_my_page: "Min side",
    nav_sync: "Synkronisering",
    nav_alerts: "Varsler",
    nav_runs: "Kjøringer",
    nav_settings: "Innstillinger",
    signed_in_as: "Logget inn som",
    log_out: "Logg ut",
    back_to_mentors: "Tilbake til likepersonene",
    yes: "Ja",
    no: "Nei",
    not_set: "ikke satt",
    refresh: "Oppdater",

    login_title: "Logg inn",
    login_intro: "Logg inn med e-postadressen og passordet ditt for å se og endre likepersonenes status.",
    email: "E-post",
    password: "Passord",
    log_in: "Logg inn",
    other_language: "English",
    other_language_code: "en",
    login_failed: "Feil e-postadresse eller passord.",
    login_rate_limited: "For mange mislykkede innlogginger. Vent 15 minutter og prøv igjen.",
    session_expired: "Økten din er utløpt. Logg inn igjen.",
    logged_out: "Du er logget ut.",
    form_expired: "Skjemaet er utløpt eller ugyldig. Last inn siden på nytt og prøv igjen.",

    mentors_title: "Likepersoner",
    filters_heading: "Filtrer",
    filter_status: "Status",
    all_statuses: "Alle statuser",
    filter_expiring: "Sertifisering utløper innen (dager)",
    filter_expiring_help: "For eksempel 30. Tomt: alle.",
    filter_search: "Søk",
    filter_search_help: "Navn eller e-post",
    apply_filters: "Vis",
    clear_filters: "Nullstill",
    mentors_caption: "Likepersoner, sortert etter navn",
    col_name: "Navn",
    col_email: "E-post",
    col_status: "Status",
    col_certification: "Sertifisering",
    col_sync: "Nettsiden",
    no_mentors: "Ingen likepersoner passer til filteret.",
    next_page: "Neste side",
    first_page: "Første side",
    pagination_label: "Sider",
    no_certification: "ingen sertifisering",

    details_heading: "Opplysninger",
    phone: "Telefon",
    listed_publicly: "Vises på nettsiden",
    dynamics_link: "Kobling til Dynamics",
    not_linked: "ikke koblet",
    contact_id: "kontakt-ID",
    dynamics_key: "nøkkel",
    status_heading: "Status",
    status: "Status",
    status_reason: "Begrunnelse",
    status_since: "Siden",
    resume_on: "Tilbake",
    certification_heading: "Sertifisering",
    issued_on: "Utstedt",
    expires_on: "Gyldig til og med",
    days_left_label: "Igjen",
    sync_heading: "Nettsiden (Dynamics)",
    sync_state: "Tilstand",
    pushed_version: "Sendt versjon",
    pushed_at: "Sist sendt",
    last_error: "Siste feil",
    never_pushed: "aldri sendt",
    force_sync: "Synkroniser nå",
    force_sync_help: "Sender likepersonens status til nettsiden med høy prioritet.",
    sync_disabled_help: "Organisasjonen har ingen kobling til Dynamics.",
    actions_heading: "Endre status",
    no_actions: "Ingen endringer er mulige i denne statusen.",
    pause_heading: "Sett på pause",
    pause_help: "Likepersonen skjules på nettsiden til pausen er over.",
    reason: "Begrunnelse",
    resume_on_optional: "Tilbake (valgfritt)",
    pause_button: "Sett på pause",
    resume_heading: "Avslutt pausen",
    resume_help: "Likepersonen blir aktiv igjen (eller «sertifisering utløpt» hvis sertifiseringen har gått ut).",
    resume_button: "Avslutt pausen",
    deactivate_heading: "Avslutt som likeperson",
    deactivate_help: "Likepersonen blir inaktiv og skjules på nettsiden.",
    deactivate_button: "Gjør inaktiv",
    reactivate_heading: "Aktiver igjen",
    reactivate_help: "Statusen blir aktiv, eller «sertifisering utløpt» uten gyldig sertifisering.",
    reactivate_button: "Aktiver igjen",
    renewal_heading: "Registrer fornyet sertifisering",
    renewal_help: "En fornyelse opphever «sertifisering utløpt», men ikke en pause.",
    renewal_button: "Registrer fornyelse",
    history_heading: "Historikk",
    history_caption: "Statusendringer, nyeste først",
    col_when: "Når",
    col_change: "Endring",
    col_reason: "Begrunnelse",
    col_by: "Av",
    system_actor: "systemet",
    registered: "registrert",
    no_history: "Ingen historikk.",
    older_history: "Eldre endringer",
    newest_history: "Nyeste endringer",
    reminders_heading: "Påminnelser",
    reminders_caption: "Påminnelser om sertifiseringen, nyeste først",
    col_threshold: "Dager før",
    col_cert_expires: "Sertifisering gyldig til",
    col_outcome: "Utfall",
    col_business_date: "Dato",
    outcome_sent: "sendt",
    outcome_skipped: "hoppet over",
    no_reminders: "Ingen påminnelser ennå.",

    done_paused: "Likepersonen er satt på pause.",
    done_resumed: "Pausen er avsluttet.",
    done_deactivated: "Likepersonen er gjort inaktiv.",
    done_reactivated: "Likepersonen er aktivert igjen.",
    done_renewed: "Den fornyede sertifiseringen er registrert.",
    done_sync_queued: "Likepersonen er satt først i køen til nettsiden.",
    done_sync_already_queued: "Likepersonen stod allerede først i køen til nettsiden.",
    done_sync_all_queued: "Alle koblede likepersoner er satt i køen til nettsiden.",
    done_retried: "De stoppede sendingene er satt i køen igjen.",
    done_nothing_to_retry: "Det var ingen stoppede sendinger å prøve igjen.",
    done_acknowledged: "Varselet er kvittert.",
    done_settings_saved: "Innstillingene er lagret.",

    sync_title: "Synkronisering med nettsiden",
    sync_not_configured: "Organisasjonen har ingen kobling til Dynamics; ingenting synkroniseres.",
    queue_heading: "Kø",
    pending: "Venter",
    retrying: "Prøver igjen",
    dead: "Stoppet",
    oldest_pending: "Eldste i køen",
    nothing_pending: "ingenting venter",
    lag_heading: "Forsinkelse (endring til bekreftet på nettsiden)",
    lag_confirmed: "Bekreftet",
    lag_p50: "Median (p50)",
    lag_p95: "p95",
    lag_p99: "p99",
    no_lag_data: "Ingen bekreftede sendinger i perioden.",
    portal_cache_note: "Nettsiden viser en endring inntil omtrent 15 minutter senere (hurtigbufferen i Power Pages).",
    credential_heading: "Siste kontroll av tilgangen",
    credential_ok: "Tilgangen virker",
    credential_failed: "Tilgangen ble avvist",
    checked_at: "Kontrollert",
    credential_detail: "Melding",
    never_checked: "Tilgangen er ikke kontrollert ennå.",
    drift_heading: "Siste avstemming",
    reconciled_at: "Fullført",
    records_checked: "Kontrollert",
    drift_found: "Avvik",
    missing_records: "Mangler i Dynamics",
    no_reconciliation: "Ingen avstemming er kjørt ennå.",
    dead_letters_heading: "Stoppede sendinger",
    dead_letters_caption: "Likepersoner som ikke kunne sendes til nettsiden",
    col_rows: "Endringer",
    col_last_error: "Siste feil",
    col_since: "Siden",
    retry_button: "Prøv igjen",
    retry_all_button: "Prøv alle igjen",
    no_dead_letters: "Ingen stoppede sendinger.",
    force_sync_all: "Synkroniser alle nå",
    force_sync_all_help: "Setter alle koblede likepersoner i køen til nettsiden (kun administratorer).",

    alerts_title: "Varsler",
    alerts_caption: "Varsler til driften, nyeste først",
    show_open_only: "Bare åpne",
    show_all: "Alle",
    col_severity: "Alvorlighet",
    col_kind: "Type",
    col_summary: "Beskrivelse",
    col_first_seen: "Først sett",
    col_last_seen: "Sist sett",
    col_count: "Antall",
    col_state: "Tilstand",
    alert_open: "åpent",
    alert_acknowledged: "kvittert",
    alert_resolved: "løst",
    acknowledge_button: "Kvitter",
    no_alerts: "Ingen varsler.",
    severity_warning: "advarsel",
    severity_critical: "kritisk",

    runs_title: "Kjøringer",
    runs_caption: "Kjøringer av nattlige jobber, nyeste først",
    col_job: "Jobb",
    col_trigger: "Startet av",
    col_started: "Startet",
    col_finished: "Ferdig",
    col_counts: "Resultat",
    col_error: "Feil",
    trigger_scheduled: "planlagt",
    trigger_manual: "manuelt",
    outcome_running: "kjører",
    outcome_succeeded: "fullført",
    outcome_failed: "feilet",
    no_runs: "Ingen kjøringer ennå.",
    job_expiry: "Nattlig sertifiseringskjøring",
    job_listing_sync: "Nattlig synkronisering",
    count_expired: "utløpt",
    count_resumed: "tilbake fra pause",
    count_resumed_into_expired: "tilbake til utløpt sertifisering",
    count_reminders_sent: "påminnelser sendt",
    count_reminders_skipped: "påminnelser hoppet over",
    count_resume_notices: "varsler om retur",
    count_lost_races: "samtidige endringer",
    count_digests: "sammendrag",
    count_findings: "funn",
    count_queued: "satt i kø",
    count_checked: "kontrollert",
    count_drift: "avvik",
    count_missing_records: "mangler i Dynamics",
    no_counts: "ingen endringer",

    settings_title: "Innstillinger for organisasjonen",
    thresholds_heading: "Påminnelser",
    own_thresholds: "Egne terskler (dager før utløp)",
    own_thresholds_help: "Hele tall fra 1 til 365, skilt med komma, for eksempel 30, 14, 7. Tomt: standard.",
    effective_thresholds: "Terskler i bruk nå",
    flag_heading: "Egne terskler per organisasjon (per_org_thresholds)",
    flag_on: "Slått på: organisasjonens egne terskler brukes.",
    flag_off: "Slått av for hele installasjonen: standardtersklene brukes inntil driften slår det på.",
    email_heading: "E-post",
    email_enabled: "Send varsler også på e-post",
    email_enabled_help: "Til likepersonens og koordinatorens e-postadresse.",
    locale_label: "Språk",
    locale_help: "Språket i e-poster og i dette grensesnittet, med mindre en bruker har valgt sitt eget.",
    locale_nb: "Norsk (bokmål)",
    locale_en: "Engelsk",
    save_button: "Lagre",

    error_heading: "Noe gikk galt",
    error_not_found: "Siden eller likepersonen finnes ikke.",
    error_forbidden: "Du har ikke tilgang til dette.",
    error_unavailable: "Databasen svarer ikke akkurat nå. Prøv igjen om litt.",
    error_internal: "En uventet feil oppstod. Prøv igjen, og si fra til driften hvis det gjentar seg.",
    error_bad_request: "Forespørselen kunne ikke leses.",
    error_conflict: "Likepersonen ble endret samtidig av noen andre. Se den nye statusen og prøv igjen.",
    error_reason_required: "Skriv en begrunnelse.",
    error_reason_too_long: "Begrunnelsen kan være på høyst 500 tegn.",
    error_invalid_date: "Skriv datoen som ÅÅÅÅ-MM-DD.",
    error_resume_on_not_after_today: "Tilbakedatoen må være etter i dag.",
    error_expires_before_issued: "Sertifiseringen kan ikke utløpe før den er utstedt.",
    error_dates_required: "Fyll inn begge datoene.",
    error_thresholds_invalid: "Tersklene må være hele tall fra 1 til 365, skilt med komma.",
    error_expiring_invalid: "Antall dager må være et helt tall fra 0 til 3650.",
    error_search_too_long: "Søket kan være på høyst 200 tegn.",
    error_locale_invalid: "Velg et språk fra listen.",
    error_not_linked: "Denne innloggingen er ikke koblet til en likeperson.",
    error_invalid_input: "Noen av feltene er ikke fylt ut riktig.",
    go_to_start: "Gå til forsiden",

    status_active: "aktiv",
    status_paused: "på pause",
    status_certification_expired: "sertifisering utløpt",
    status_inactive: "inaktiv",
    sync_disabled: "ikke i bruk",
    sync_unlinked: "ikke koblet",
    sync_in_sync: "oppdatert",
    sync_pending: "venter",
    sync_failed: "feilet, prøver igjen",
    sync_dead: "stoppet",
    action_pause: "sette på pause",
    action_resume: "avslutte pausen for",
    action_deactivate: "gjøre inaktiv",
    action_reactivate: "aktivere igjen",
    action_renew: "fornye sertifiseringen for",
    action_expire: "la sertifiseringen utløpe for",
    action_auto_resume: "avslutte pausen automatisk for",
};

pub(crate) static EN: Words = Words {
    locale: Locale::En,
    lang: "en",

    app_name: "Mentor status",
    skip_to_content: "Skip to content",
    nav_label: "Main menu",
    nav_mentors: "Mentors",
    nav_my_page: "My page",
    nav_sync: "Sync",
    nav_alerts: "Alerts",
    nav_runs: "Runs",
    nav_settings: "Settings",
    signed_in_as: "Signed in as",
    log_out: "Log out",
    back_to_mentors: "Back to the mentors",
    yes: "Yes",
    no: "No",
    not_set: "not set",
    refresh: "Refresh",

    login_title: "Log in",
    login_intro: "Log in with your email address and password to see and change the mentors' status.",
    email: "Email",
    password: "Password",
    log_in: "Log in",
    other_language: "Norsk",
    other_language_code: "nb",
    login_failed: "Wrong email address or password.",
    login_rate_limited: "Too many failed logins. Wait 15 minutes and try again.",
    session_expired: "Your session has expired. Please log in again.",
    logged_out: "You have logged out.",
    form_expired: "The form has expired or is not valid. Reload the page and try again.",

    mentors_title: "Mentors",
    filters_heading: "Filter",
    filter_status: "Status",
    all_statuses: "All statuses",
    filter_expiring: "Certification expires within (days)",
    filter_expiring_help: "For example 30. Empty: all.",
    filter_search: "Search",
    filter_search_help: "Name or email",
    apply_filters: "Show",
    clear_filters: "Reset",
    mentors_caption: "Mentors, by name",
    col_name: "Name",
    col_email: "Email",
    col_status: "Status",
    col_certification: "Certification",
    col_sync: "Website",
    no_mentors: "No mentors match the filter.",
    next_page: "Next page",
    first_page: "First page",
    pagination_label: "Pages",
    no_certification: "no certification",

    details_heading: "Details",
    phone: "Phone",
    listed_publicly: "Listed on the website",
    dynamics_link: "Link to Dynamics",
    not_linked: "not linked",
    contact_id: "contact id",
    dynamics_key: "key",
    status_heading: "Status",
    status: "Status",
    status_reason: "Reason",
    status_since: "Since",
    resume_on: "Back on",
    certification_heading: "Certification",
    issued_on: "Issued on",
    expires_on: "Valid until",
    days_left_label: "Left",
    sync_heading: "Website (Dynamics)",
    sync_state: "State",
    pushed_version: "Version sent",
    pushed_at: "Last sent",
    last_error: "Last error",
    never_pushed: "never sent",
    force_sync: "Sync now",
    force_sync_help: "Sends the mentor's status to the website at high priority.",
    sync_disabled_help: "The organisation has no link to Dynamics.",
    actions_heading: "Change status",
    no_actions: "No change is possible in this status.",
    pause_heading: "Pause",
    pause_help: "The mentor is hidden on the website until the pause ends.",
    reason: "Reason",
    resume_on_optional: "Back on (optional)",
    pause_button: "Pause",
    resume_heading: "End the pause",
    resume_help: "The mentor becomes active again (or “certification expired” if the certification lapsed).",
    resume_button: "End the pause",
    deactivate_heading: "Leave the programme",
    deactivate_help: "The mentor becomes inactive and is hidden on the website.",
    deactivate_button: "Deactivate",
    reactivate_heading: "Reactivate",
    reactivate_help: "The status becomes active, or “certification expired” without a valid certification.",
    reactivate_button: "Reactivate",
    renewal_heading: "Register a renewed certification",
    renewal_help: "A renewal lifts “certification expired”, never a pause.",
    renewal_button: "Register renewal",
    history_heading: "History",
    history_caption: "Status changes, newest first",
    col_when: "When",
    col_change: "Change",
    col_reason: "Reason",
    col_by: "By",
    system_actor: "the system",
    registered: "registered",
    no_history: "No history.",
    older_history: "Older changes",
    newest_history: "Newest changes",
    reminders_heading: "Reminders",
    reminders_caption: "Certification reminders, newest first",
    col_threshold: "Days before",
    col_cert_expires: "Certification valid until",
    col_outcome: "Outcome",
    col_business_date: "Date",
    outcome_sent: "sent",
    outcome_skipped: "skipped",
    no_reminders: "No reminders yet.",

    done_paused: "The mentor is paused.",
    done_resumed: "The pause has ended.",
    done_deactivated: "The mentor is now inactive.",
    done_reactivated: "The mentor is reactivated.",
    done_renewed: "The renewed certification is registered.",
    done_sync_queued: "The mentor is first in the queue to the website.",
    done_sync_already_queued: "The mentor was already first in the queue to the website.",
    done_sync_all_queued: "Every linked mentor is queued for the website.",
    done_retried: "The stopped deliveries are back in the queue.",
    done_nothing_to_retry: "There were no stopped deliveries to retry.",
    done_acknowledged: "The alert is acknowledged.",
    done_settings_saved: "The settings are saved.",

    sync_title: "Sync with the website",
    sync_not_configured: "The organisation has no link to Dynamics; nothing is synced.",
    queue_heading: "Queue",
    pending: "Pending",
    retrying: "Retrying",
    dead: "Stopped",
    oldest_pending: "Oldest in the queue",
    nothing_pending: "nothing pending",
    lag_heading: "Lag (change to confirmed on the website)",
    lag_confirmed: "Confirmed",
    lag_p50: "Median (p50)",
    lag_p95: "p95",
    lag_p99: "p99",
    no_lag_data: "No confirmed deliveries in the period.",
    portal_cache_note: "The website shows a change up to about 15 minutes later (the Power Pages cache).",
    credential_heading: "Last credential check",
    credential_ok: "The credentials work",
    credential_failed: "The credentials were refused",
    checked_at: "Checked",
    credential_detail: "Message",
    never_checked: "The credentials have not been checked yet.",
    drift_heading: "Last reconciliation",
    reconciled_at: "Finished",
    records_checked: "Checked",
    drift_found: "Drift",
    missing_records: "Missing in Dynamics",
    no_reconciliation: "No reconciliation has run yet.",
    dead_letters_heading: "Stopped deliveries",
    dead_letters_caption: "Mentors that could not be sent to the website",
    col_rows: "Changes",
    col_last_error: "Last error",
    col_since: "Since",
    retry_button: "Retry",
    retry_all_button: "Retry all",
    no_dead_letters: "No stopped deliveries.",
    force_sync_all: "Sync everyone now",
    force_sync_all_help: "Queues every linked mentor for the website (admins only).",

    alerts_title: "Alerts",
    alerts_caption: "Alerts for the operations team, newest first",
    show_open_only: "Open only",
    show_all: "All",
    col_severity: "Severity",
    col_kind: "Kind",
    col_summary: "Summary",
    col_first_seen: "First seen",
    col_last_seen: "Last seen",
    col_count: "Count",
    col_state: "State",
    alert_open: "open",
    alert_acknowledged: "acknowledged",
    alert_resolved: "resolved",
    acknowledge_button: "Acknowledge",
    no_alerts: "No alerts.",
    severity_warning: "warning",
    severity_critical: "critical",

    runs_title: "Runs",
    runs_caption: "Runs of the nightly jobs, newest first",
    col_job: "Job",
    col_trigger: "Started by",
    col_started: "Started",
    col_finished: "Finished",
    col_counts: "Result",
    col_error: "Error",
    trigger_scheduled: "schedule",
    trigger_manual: "manual",
    outcome_running: "running",
    outcome_succeeded: "succeeded",
    outcome_failed: "failed",
    no_runs: "No runs yet.",
    job_expiry: "Nightly certification run",
    job_listing_sync: "Nightly sync",
    count_expired: "expired",
    count_resumed: "back from a pause",
    count_resumed_into_expired: "back to an expired certification",
    count_reminders_sent: "reminders sent",
    count_reminders_skipped: "reminders skipped",
    count_resume_notices: "return notices",
    count_lost_races: "concurrent changes",
    count_digests: "digests",
    count_findings: "findings",
    count_queued: "queued",
    count_checked: "checked",
    count_drift: "drift",
    count_missing_records: "missing in Dynamics",
    no_counts: "no changes",

    settings_title: "Organisation settings",
    thresholds_heading: "Reminders",
    own_thresholds: "Own thresholds (days before expiry)",
    own_thresholds_help: "Whole numbers from 1 to 365, separated by commas, for example 30, 14, 7. Empty: the default.",
    effective_thresholds: "Thresholds in use now",
    flag_heading: "Thresholds per organisation (per_org_thresholds)",
    flag_on: "On: the organisation's own thresholds apply.",
    flag_off: "Off for the whole deployment: the default thresholds apply until operations turn it on.",
    email_heading: "Email",
    email_enabled: "Also send notifications by email",
    email_enabled_help: "To the mentor's and the coordinator's email address.",
    locale_label: "Language",
    locale_help: "The language of emails and of this interface, unless a user chose their own.",
    locale_nb: "Norwegian (bokmål)",
    locale_en: "English",
    save_button: "Save",

    error_heading: "Something went wrong",
    error_not_found: "The page or mentor does not exist.",
    error_forbidden: "You do not have access to this.",
    error_unavailable: "The database is not answering right now. Try again in a moment.",
    error_internal: "An unexpected error happened. Try again, and tell operations if it happens again.",
    error_bad_request: "The request could not be read.",
    error_conflict: "Someone else changed the mentor at the same time. Look at the new status and try again.",
    error_reason_required: "Write a reason.",
    error_reason_too_long: "The reason can be at most 500 characters.",
    error_invalid_date: "Write the date as YYYY-MM-DD.",
    error_resume_on_not_after_today: "The return date must be after today.",
    error_expires_before_issued: "The certification cannot expire before it was issued.",
    error_dates_required: "Fill in both dates.",
    error_thresholds_invalid: "Thresholds must be whole numbers from 1 to 365, separated by commas.",
    error_expiring_invalid: "The number of days must be a whole number from 0 to 3650.",
    error_search_too_long: "The search can be at most 200 characters.",
    error_locale_invalid: "Choose a language from the list.",
    error_not_linked: "This login is not linked to a mentor.",
    error_invalid_input: "Some fields are not filled in correctly.",
    go_to_start: "Go to the start page",

    status_active: "active",
    status_paused: "paused",
    status_certification_expired: "certification expired",
    status_inactive: "inactive",
    sync_disabled: "not in use",
    sync_unlinked: "not linked",
    sync_in_sync: "in sync",
    sync_pending: "pending",
    sync_failed: "failed, retrying",
    sync_dead: "stopped",
    action_pause: "pause",
    action_resume: "end the pause of",
    action_deactivate: "deactivate",
    action_reactivate: "reactivate",
    action_renew: "renew the certification of",
    action_expire: "expire",
    action_auto_resume: "automatically resume",
};

pub(crate) fn words(locale: Locale) -> &'static Words {
    match locale {
        Locale::Nb => &NB,
        Locale::En => &EN,
    }
}

/// The login page's language: `?lang=`, else the browser's first choice between ours, else nb.
pub(crate) fn locale_of_request(headers: &HeaderMap, lang: Option<&str>) -> Locale {
    if let Some(locale) = lang.and_then(|l| Locale::parse(l).ok()) {
        return locale;
    }
    headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .map(|tag| {
                    tag.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .find_map(|tag| match tag.split('-').next() {
                    Some("nb" | "no" | "nn") => Some(Locale::Nb),
                    Some("en") => Some(Locale::En),
                    _ => None,
                })
        })
        .unwrap_or(Locale::Nb)
}

impl Words {
    pub fn status(&self, status: MentorStatus) -> &'static str {
        match status {
            MentorStatus::Active => self.status_active,
            MentorStatus::Paused => self.status_paused,
            MentorStatus::CertificationExpired => self.status_certification_expired,
            MentorStatus::Inactive => self.status_inactive,
        }
    }

    /// A mentor's sync state (see `engine::sync::sync_state`).
    pub fn sync_state(&self, state: &str) -> &'static str {
        match state {
            "disabled" => self.sync_disabled,
            "unlinked" => self.sync_unlinked,
            "in_sync" => self.sync_in_sync,
            "pending" => self.sync_pending,
            "failed" => self.sync_failed,
            _ => self.sync_dead,
        }
    }

    pub fn action(&self, action: ActionKind) -> &'static str {
        match action {
            ActionKind::Pause => self.action_pause,
            ActionKind::Resume => self.action_resume,
            ActionKind::Deactivate => self.action_deactivate,
            ActionKind::Reactivate => self.action_reactivate,
            ActionKind::RenewCertification => self.action_renew,
            ActionKind::Expire => self.action_expire,
            ActionKind::AutoResume => self.action_auto_resume,
        }
    }

    pub fn severity(&self, severity: Severity) -> &'static str {
        match severity {
            Severity::Warning => self.severity_warning,
            Severity::Critical => self.severity_critical,
        }
    }

    pub fn reminder_outcome(&self, outcome: ReminderOutcome) -> &'static str {
        match outcome {
            ReminderOutcome::Sent => self.outcome_sent,
            ReminderOutcome::Skipped => self.outcome_skipped,
        }
    }

    pub fn run_outcome(&self, outcome: RunOutcome) -> &'static str {
        match outcome {
            RunOutcome::Running => self.outcome_running,
            RunOutcome::Succeeded => self.outcome_succeeded,
            RunOutcome::Failed => self.outcome_failed,
        }
    }

    pub fn trigger(&self, trigger: RunTrigger) -> &'static str {
        match trigger {
            RunTrigger::Scheduled => self.trigger_scheduled,
            RunTrigger::Manual => self.trigger_manual,
        }
    }

    /// A job's name; one this build does not know is shown by its code.
    pub fn job(&self, job: &str) -> String {
        match Job::parse(job) {
            Some(Job::Expiry) => self.job_expiry.to_owned(),
            Some(Job::ListingSync) => self.job_listing_sync.to_owned(),
            None => job.to_owned(),
        }
    }

    /// `31.07.2026` / `31 July 2026`.
    pub fn date(&self, date: NaiveDate) -> String {
        self.locale.date(date)
    }

    /// A moment in the organisation's time zone: `31.07.2026 kl. 14:05` / `31 July 2026, 14:05`.
    pub fn datetime(&self, at: DateTime<Utc>, zone: OrgTimeZone) -> String {
        let local = at.with_timezone(&zone.tz());
        let day = local.date_naive();
        let clock = local.format("%H:%M");
        match self.locale {
            Locale::Nb => format!("{} kl. {clock}", self.locale.date(day)),
            Locale::En => format!("{}, {clock}", self.locale.date(day)),
        }
    }

    /// How long the certification has left, from the business date.
    pub fn days_left(&self, days: i64) -> String {
        match (self.locale, days) {
            (Locale::Nb, 0) => "siste gyldige dag i dag".to_owned(),
            (Locale::Nb, 1) => "1 dag igjen".to_owned(),
            (Locale::Nb, -1) => "utløp for 1 dag siden".to_owned(),
            (Locale::Nb, n) if n < 0 => format!("utløp for {} dager siden", -n),
            (Locale::Nb, n) => format!("{n} dager igjen"),
            (Locale::En, 0) => "last valid day today".to_owned(),
            (Locale::En, 1) => "1 day left".to_owned(),
            (Locale::En, -1) => "expired 1 day ago".to_owned(),
            (Locale::En, n) if n < 0 => format!("expired {} days ago", -n),
            (Locale::En, n) => format!("{n} days left"),
        }
    }

    /// A duration in seconds, roughly: `3 min`, `2 t 5 min` / `2 h 5 min`.
    pub fn age(&self, seconds: i64) -> String {
        let hour = match self.locale {
            Locale::Nb => "t",
            Locale::En => "h",
        };
        match seconds {
            s if s < 60 => format!("{s} s"),
            s if s < 3600 => format!("{} min", s / 60),
            s => format!("{} {hour} {} min", s / 3600, (s % 3600) / 60),
        }
    }

    /// A lag in milliseconds.
    pub fn millis(&self, ms: f64) -> String {
        if ms >= 1000.0 {
            let seconds = format!("{:.1}", ms / 1000.0);
            match self.locale {
                Locale::Nb => format!("{} s", seconds.replace('.', ",")),
                Locale::En => format!("{seconds} s"),
            }
        } else {
            format!("{} ms", ms.round())
        }
    }

    /// "the last 24 hours".
    pub fn lag_window(&self, hours: i64) -> String {
        match self.locale {
            Locale::Nb => format!("Siste {hours} timer"),
            Locale::En => format!("The last {hours} hours"),
        }
    }

    /// Why an action was refused, from the mentor's current status.
    pub fn refused(&self, action: ActionKind, current: MentorStatus) -> String {
        match self.locale {
            Locale::Nb => format!(
                "Kan ikke {} en likeperson med status «{}».",
                self.action(action),
                self.status(current)
            ),
            Locale::En => format!(
                "Cannot {} a mentor whose status is “{}”.",
                self.action(action),
                self.status(current)
            ),
        }
    }

    /// A history row's reason. The notes the service writes itself (in English, in the store) are
    /// said in this language; what people wrote is shown as written.
    pub fn history_reason(&self, raw: &str) -> String {
        let dated = |prefix: &str| {
            raw.strip_prefix(prefix)
                .and_then(|d| d.parse::<NaiveDate>().ok())
                .map(|d| self.date(d))
        };
        if raw == "registered" {
            return String::new();
        }
        if raw == "no certification" {
            return self.no_certification.to_owned();
        }
        let (nb, en) = if let Some(d) = dated("certification renewed until ") {
            (
                format!("sertifiseringen fornyet til og med {d}"),
                format!("certification renewed until {d}"),
            )
        } else if let Some(d) = dated("certification expired after ") {
            (
                format!("sertifiseringen gikk ut etter {d}"),
                format!("certification expired after {d}"),
            )
        } else if let Some(d) = dated("automatic resume on ") {
            (
                format!("automatisk tilbake {d}"),
                format!("automatic return on {d}"),
            )
        } else {
            return raw.to_owned();
        };
        match self.locale {
            Locale::Nb => nb,
            Locale::En => en,
        }
    }

    /// How many mentors a page shows.
    pub fn showing(&self, shown: usize) -> String {
        match (self.locale, shown) {
            (Locale::Nb, 1) => "Viser 1 likeperson.".to_owned(),
            (Locale::Nb, n) => format!("Viser {n} likepersoner."),
            (Locale::En, 1) => "Showing 1 mentor.".to_owned(),
            (Locale::En, n) => format!("Showing {n} mentors."),
        }
    }
}
