"""Webhook payloads in each platform's own format, as the platforms document them.

HubSpot: the webhooks API's event array and the workflow "Send a webhook" v1 contact
record; Mautic: `mautic.lead_post_save_new` / `_update` and `mautic.form_on_submit` with
contacts serialised as Mautic does (fields grouped by field group, each a field object);
Marketo: a body produced by the payload template documented in the shipped mapping.
"""

from __future__ import annotations

import copy
from typing import Any

# HubSpot -----------------------------------------------------------------------------------

HUBSPOT_PORTAL = 62515


def hubspot_event(
    event_id: int, object_id: int, kind: str, at: int, **extra: Any
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 2345 if kind == "contact.creation" else 2346,
        "portalId": HUBSPOT_PORTAL,
        "appId": 1160452,
        "occurredAt": at,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "FORM",
        **extra,
    }


# A form fill on the website: the contact is created and its properties set (one batch).
HUBSPOT_EVENTS: list[dict[str, Any]] = [
    hubspot_event(1740213841, 1246965, "contact.creation", 1710408600000, changeFlag="NEW"),
    hubspot_event(
        1740213842,
        1246965,
        "contact.propertyChange",
        1710408600250,
        propertyName="email",
        propertyValue="ada@analytical.example",
        sourceId="b7ae0e7a-1d2c-4e5f-9a0b-3c4d5e6f7a8b",
    ),
    hubspot_event(
        1740213843,
        1246965,
        "contact.propertyChange",
        1710408600250,
        propertyName="jobtitle",
        propertyValue="CTO",
        sourceId="b7ae0e7a-1d2c-4e5f-9a0b-3c4d5e6f7a8b",
    ),
    hubspot_event(
        1740213844,
        1246965,
        "contact.propertyChange",
        1710408600250,
        propertyName="recent_conversion_date",
        propertyValue="1710408600000",
        sourceId="b7ae0e7a-1d2c-4e5f-9a0b-3c4d5e6f7a8b",
    ),
    # A second contact in the same batch, known only by its record id.
    hubspot_event(
        1740213845,
        1246977,
        "contact.propertyChange",
        1710408610000,
        propertyName="hs_analytics_source",
        propertyValue="PAID_SOCIAL",
        changeSource="ANALYTICS",
    ),
    # Not leads: a deal and a deleted contact.
    {
        "eventId": 1740213846,
        "subscriptionId": 2400,
        "portalId": HUBSPOT_PORTAL,
        "appId": 1160452,
        "occurredAt": 1710408611000,
        "subscriptionType": "deal.creation",
        "attemptNumber": 0,
        "objectId": 9001,
        "changeFlag": "CREATED",
        "changeSource": "CRM_UI",
    },
    hubspot_event(1740213847, 1240001, "contact.deletion", 1710408612000, changeFlag="DELETED"),
]


def _v1(value: str, at: int = 1710408600000, source: str = "FORM") -> dict[str, Any]:
    return {
        "value": value,
        "versions": [
            {
                "value": value,
                "source-type": source,
                "source-id": "b7ae0e7a-1d2c-4e5f-9a0b-3c4d5e6f7a8b",
                "source-label": None,
                "timestamp": at,
                "selected": False,
            }
        ],
    }


LANDING = (
    "https://www.baton.example/demo?utm_source=linkedin&utm_medium=paid_social"
    "&utm_campaign=spring-webinar&utm_content=carousel-2"
)

# The workflow action "Send a webhook" (legacy, all properties): the v1 contact record.
HUBSPOT_WORKFLOW: dict[str, Any] = {
    "vid": 3234574,
    "canonical-vid": 3234574,
    "merged-vids": [],
    "portal-id": HUBSPOT_PORTAL,
    "is-contact": True,
    "profile-token": "AO_T-mPNIBcmWK3CVpS3OGf0tBPiz6zT8bI09OA8l6VMtwZhs",
    "profile-url": "https://app.hubspot.com/contacts/62515/contact/3234574",
    "properties": {
        "email": _v1("ada@analytical.example"),
        "firstname": _v1("Ada"),
        "lastname": _v1("Lovelace"),
        "jobtitle": _v1("Chief Technology Officer"),
        "phone": _v1("+49 30 1234567"),
        "company": _v1("Analytical Engines GmbH"),
        "website": _v1("https://www.analytical.example/about"),
        "numemployees": _v1("100-500"),
        "annualrevenue": _v1("25000000"),
        "industry": _v1("COMPUTER_SOFTWARE"),
        "country": _v1("Germany"),
        "state": _v1("Berlin"),
        "city": _v1("Berlin"),
        "hs_language": _v1("de"),
        "hs_analytics_source": _v1("PAID_SOCIAL", source="ANALYTICS"),
        "hs_analytics_source_data_1": _v1("LinkedIn", source="ANALYTICS"),
        "hs_analytics_first_url": _v1(LANDING, source="ANALYTICS"),
        "hs_analytics_first_referrer": _v1("https://www.linkedin.com/", source="ANALYTICS"),
        "hs_analytics_last_visit_timestamp": _v1("1710408500000", source="ANALYTICS"),
        "hs_analytics_last_url": _v1("https://www.baton.example/pricing", source="ANALYTICS"),
        "recent_conversion_date": _v1("1710408600000"),
        "recent_conversion_event_name": _v1("Book a demo: Demo request form"),
        "first_conversion_date": _v1("1709280000000"),
        "first_conversion_event_name": _v1("Newsletter: Subscribe form"),
        "hs_email_last_click_date": _v1("1709884800000", source="EMAIL"),
        "hs_email_last_email_name": _v1("Spring webinar invitation", source="EMAIL"),
        "hs_email_optout": _v1("false"),
        "hs_legal_basis": _v1("Legitimate interest \u2013 prospect/lead"),
        "lifecyclestage": _v1("marketingqualifiedlead"),
        "hubspotscore": _v1("42"),
        "createdate": _v1("1709280000000"),
        "lastmodifieddate": _v1("1710408660000"),
        "hs_object_id": _v1("3234574"),
    },
    "form-submissions": [
        {
            "conversion-id": "127aa05e-8b91-4fb1-8b44-6f3b5a1c0b9d",
            "timestamp": 1710408600000,
            "form-id": "fc3bde1b-7b67-4a53-9e2b-5a7f0c0d6a21",
            "portal-id": HUBSPOT_PORTAL,
            "page-url": LANDING,
            "canonical-url": "https://www.baton.example/demo",
            "page-title": "Book a demo | Baton",
            "title": "Demo request form",
            "form-type": "HUBSPOT",
            "meta-data": [],
        }
    ],
    "list-memberships": [],
    "identity-profiles": [
        {
            "vid": 3234574,
            "saved-at-timestamp": 1710408600500,
            "deleted-changed-timestamp": 0,
            "identities": [
                {
                    "type": "EMAIL",
                    "value": "ada@analytical.example",
                    "timestamp": 1710408600000,
                    "is-primary": True,
                },
                {"type": "LEAD_GUID", "value": "f3c3c1d2-8a7b", "timestamp": 1710408600100},
            ],
        }
    ],
    "merge-audits": [],
}

# A workflow webhook with selected properties: flat values.
HUBSPOT_FLAT: dict[str, Any] = {
    "objectId": 3234580,
    "properties": {
        "email": "grace@navy.example",
        "firstname": "Grace",
        "lastname": "Hopper",
        "jobtitle": "Rear Admiral",
        "company": "US Navy",
        "numemployees": "1000+",
        "hs_analytics_source": "ORGANIC_SEARCH",
        "hs_object_id": "3234580",
    },
}


# Mautic ------------------------------------------------------------------------------------


def mautic_field(
    alias: str, value: Any, group: str = "core", kind: str = "text", field_id: int = 1
) -> dict[str, Any]:
    return {
        "id": field_id,
        "group": group,
        "label": alias.replace("_", " ").title(),
        "alias": alias,
        "type": kind,
        "properties": [],
        "value": value,
        "normalizedValue": value,
    }


def mautic_contact(
    contact_id: int = 347,
    email: str | None = "ada@analytical.example",
    first: str = "Ada",
    last: str = "Lovelace",
    **overrides: Any,
) -> dict[str, Any]:
    core = {
        "title": mautic_field("title", "Ms", kind="lookup", field_id=1),
        "firstname": mautic_field("firstname", first, field_id=2),
        "lastname": mautic_field("lastname", last, field_id=3),
        "company": mautic_field("company", "Analytical Engines GmbH", kind="lookup", field_id=4),
        "position": mautic_field("position", "CTO", field_id=5),
        "email": mautic_field("email", email, kind="email", field_id=6),
        "mobile": mautic_field("mobile", None, kind="tel", field_id=7),
        "phone": mautic_field("phone", "+49 30 1234567", kind="tel", field_id=8),
        "points": mautic_field("points", 35, kind="number", field_id=9),
        "city": mautic_field("city", "Berlin", field_id=12),
        "state": mautic_field("state", "Berlin", kind="region", field_id=13),
        "country": mautic_field("country", "Germany", kind="country", field_id=15),
        "preferred_locale": mautic_field("preferred_locale", "de_DE", kind="locale", field_id=16),
        "website": mautic_field("website", "https://analytical.example", kind="url", field_id=25),
        "utm_source": mautic_field("utm_source", "newsletter", field_id=40),
        "utm_campaign": mautic_field("utm_campaign", "spring-webinar", field_id=41),
    }
    contact: dict[str, Any] = {
        "isPublished": True,
        "dateAdded": "2024-03-14T09:29:58+00:00",
        "dateModified": "2024-03-14T09:30:01+00:00",
        "createdBy": None,
        "createdByUser": None,
        "modifiedBy": None,
        "modifiedByUser": None,
        "id": contact_id,
        "points": 35,
        "color": None,
        "fields": {
            "core": core,
            "social": {
                "linkedin": mautic_field("linkedin", "in/ada", group="social", field_id=30),
            },
            "personal": [],
            "professional": {
                "companyindustry": mautic_field(
                    "companyindustry", "Software", group="professional", field_id=50
                ),
                "number_of_employees": mautic_field(
                    "number_of_employees", "250", group="professional", kind="number", field_id=51
                ),
            },
        },
        "lastActive": "2024-03-14T09:30:00+00:00",
        "owner": None,
        "ipAddresses": [
            {
                "ipAddress": "203.0.113.7",
                "ipDetails": {"city": "Berlin", "region": "Berlin", "country": "Germany"},
            }
        ],
        "tags": [{"id": 3, "tag": "webinar"}, {"id": 9, "tag": "enterprise"}],
        "utmtags": [],
        "stage": {"id": 2, "name": "Lead", "weight": 10},
        "dateIdentified": "2024-03-14T09:29:58+00:00",
        "preferredProfileImage": "gravatar",
        "doNotContact": [],
        "frequencyRules": [],
    }
    contact.update(overrides)
    return contact


MAUTIC_NEW: dict[str, Any] = {
    "mautic.lead_post_save_new": [
        {"contact": mautic_contact(), "timestamp": "2024-03-14T09:30:01+00:00"},
    ],
    "timestamp": "2024-03-14T09:30:02+00:00",
}

# An older Mautic (`lead` rather than `contact`), batched update of two contacts, one of
# them unsubscribed from e-mail.
MAUTIC_UPDATE_OLD: dict[str, Any] = {
    "mautic.lead_post_save_update": [
        {
            "lead": mautic_contact(
                348,
                "grace@navy.example",
                "Grace",
                "Hopper",
                doNotContact=[
                    {
                        "id": 11,
                        "reason": 1,
                        "comments": "User unsubscribed.",
                        "channel": "email",
                        "channelId": None,
                    }
                ],
            ),
            "timestamp": "2024-03-14T10:00:00+00:00",
        },
        {
            "lead": mautic_contact(349, "alan@bletchley.example", "Alan", "Turing"),
            "timestamp": "2024-03-14T10:00:05+00:00",
        },
    ]
}

MAUTIC_FORM: dict[str, Any] = {
    "mautic.form_on_submit": [
        {
            "submission": {
                "id": 512,
                "ipAddress": {"ipAddress": "203.0.113.7", "id": 88, "ipDetails": None},
                "form": {
                    "id": 3,
                    "name": "Demo request",
                    "alias": "demorequest",
                    "category": None,
                },
                "lead": mautic_contact(350, "katherine@nasa.example", "Katherine", "Johnson"),
                "trackingId": "0ksfbs9ncnm6cv2s3h8ab4c",
                "dateSubmitted": "2024-03-14T09:30:00+00:00",
                "referer": "https://www.baton.example/demo?utm_source=newsletter&utm_medium=email&utm_campaign=march",
                "results": {
                    "email": "katherine@nasa.example",
                    "firstname": "Katherine",
                    "company": "NASA",
                    "message": "We would like a demo for 40 reps.",
                },
                "page": None,
            },
            "timestamp": "2024-03-14T09:30:01+00:00",
        }
    ],
    "timestamp": "2024-03-14T09:30:02+00:00",
}


# Marketo -----------------------------------------------------------------------------------

# What Marketo sends for the template documented in the shipped mapping (string tokens
# quoted by Marketo, empty fields as "", {{system.dateTime}} without an offset).
MARKETO: dict[str, Any] = {
    "leadId": 1000342,
    "email": "ada@analytical.example",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "title": "CTO",
    "phone": "",
    "mobilePhone": "+49 151 2345678",
    "country": "Germany",
    "state": "Berlin",
    "city": "Berlin",
    "company": "Analytical Engines GmbH",
    "website": "www.analytical.example",
    "industry": "Software",
    "numberOfEmployees": 250,
    "annualRevenue": "25000000.00",
    "unsubscribed": False,
    "leadSource": "Paid Social",
    "leadScore": 55,
    "campaignId": 4711,
    "campaignName": "Spring webinar - registration",
    "programName": "2024-03 Spring webinar",
    "activityType": "form_submit",
    "activityDate": "2024-03-14 09:30:00",
    "formName": "Webinar registration",
    "landingPage": "https://go.baton.example/spring-webinar.html?utm_source=linkedin&utm_medium=paid_social",
    "referrer": "https://www.linkedin.com/",
}


def fresh(payload: Any) -> Any:
    return copy.deepcopy(payload)
