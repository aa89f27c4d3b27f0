"""schemathesis hooks of the API fuzz test (crates/web/tests/fuzz.rs).

`positive_data_acceptance` says a request that matches the OpenAPI document must not be refused
with 400/422. The document states every rule a JSON Schema can state (lengths, patterns, enums,
ranges, "a contact id or a key, not both", "at least one field"), but three kinds of rules depend
on more than the one request, and the API answers them with the documented 422 naming the field:

- an `Idempotency-Key` used before by the same user for another request (its reuse is the point
  of the header; the fuzzer draws the same small keys for many requests);
- an email, Dynamics contact id or key that another mentor of the organisation already has;
- a date compared with another field or with today: a certification whose `expires_on` is before
  its `issued_on`, a `resume_on` that is not after the organisation's today.

`positive_data_acceptance_but_state_rules` is the built-in check with exactly these answers
allowed: a 422 whose every error is one of them, recognised by field and message. Any other
refusal of valid data still fails the run. The fuzz test runs it instead of the built-in one.
"""

import json

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

# (field, how the message starts), as the API writes them.
STATE_RULES = (
    ("Idempotency-Key", "this key was already used for a different request"),
    ("email", "another mentor of this organisation has this email"),
    ("dynamics_contact_id", "another mentor of this organisation is linked to this contact"),
    ("dynamics_key", "another mentor of this organisation is linked to this key"),
    ("expires_on", "expires_on ("),
    ("certification.expires_on", "expires_on ("),
    ("resume_on", "resume_on ("),
)


def _only_state_rules(response) -> bool:
    if response.status_code != 422:
        return False
    try:
        errors = json.loads(response.text).get("errors") or []
    except ValueError:
        return False
    return bool(errors) and all(
        any(
            error.get("field") == field and str(error.get("message", "")).startswith(start)
            for field, start in STATE_RULES
        )
        for error in errors
    )


@schemathesis.check
def positive_data_acceptance_but_state_rules(ctx, response, case):
    if _only_state_rules(response):
        return None
    return positive_data_acceptance(ctx, response, case)
