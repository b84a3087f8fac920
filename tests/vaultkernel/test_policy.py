"""The policy file (vaultkernel.policy) is validated with errors that name the file, the
entry and the problem."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest

from identity.models import PERSONAL_FIELDS
from membervault.services import DEFAULT_POLICY, load_member_policy
from subject_requests.deadlines import JURISDICTIONS
from vaultkernel.languages import MEMBER_LANGUAGES
from vaultkernel.policy import PolicyError, parse_policy

DEFAULT: dict[str, Any] = tomllib.loads(DEFAULT_POLICY.read_text())


def broken(change: Any) -> PolicyError:
    data = copy.deepcopy(DEFAULT)
    change(data)
    with pytest.raises(PolicyError) as raised:
        parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS)
    return raised.value


def test_the_default_policy_is_valid_and_complete() -> None:
    policy = load_member_policy()
    assert {"loyalty.membership", "rewards.birthday", "marketing.email", "marketing.sms",
            "marketing.push", "personalization.offers", "analytics.segmentation",
            "partners.sharing"} <= set(policy.purposes)
    assert policy.purposes["loyalty.membership"].legal_basis == "contract"
    assert policy.purposes["analytics.segmentation"].objectable
    assert [p.key for p in policy.sale_or_sharing] == ["partners.sharing"]
    assert policy.membership.key == "loyalty.membership"
    assert policy.retention["birthdate_without_consent"].describe() == (
        "Your date of birth is deleted 30 days after you withdraw consent to birthday rewards.")
    assert policy.direct_marketing == ["marketing.email", "marketing.sms", "marketing.push"]
    kinds = {c.kind for c in policy.clients.values()}
    assert {"loyalty", "marketing", "recommendation", "analytics", "partner"} <= kinds
    assert "email" in policy.attributes_of("marketing.email")
    assert "phone" not in policy.attributes_of("marketing.email")


@pytest.mark.parametrize(("change", "entry", "problem"), [
    (lambda d: d["purposes"]["marketing.email"]["categories"].append("contact.fax"),
     "purposes.marketing.email", "unknown category 'contact.fax'"),
    (lambda d: d["purposes"]["marketing.email"].update(legal_basis="vibes"),
     "purposes.marketing.email", "legal_basis must be one of"),
    (lambda d: d["purposes"]["marketing.email"].pop("notice"),
     "purposes.marketing.email", "missing 'notice'"),
    (lambda d: d["purposes"]["marketing.email"].update(notice_version=0),
     "purposes.marketing.email", "at least 1"),
    (lambda d: d["purposes"]["marketing.email"].update(notice_version="2"),
     "purposes.marketing.email", "'notice_version' must be int"),
    (lambda d: d["purposes"]["marketing.email"].update(material_change="yes"),
     "purposes.marketing.email", "'material_change' must be true or false"),
    (lambda d: d["purposes"]["analytics.segmentation"].update(sale_or_sharing=True),
     "purposes.analytics.segmentation", "must be consent-based"),
    (lambda d: d["purposes"]["analytics.segmentation"].update(direct_marketing=True),
     "purposes.analytics.segmentation", "a direct_marketing purpose must be consent-based"),
    (lambda d: d["purposes"]["marketing.email"].update(membership=True),
     "purposes.marketing.email", "the membership purpose must have legal_basis 'contract'"),
    (lambda d: d["purposes"]["loyalty.membership"].pop("membership"),
     "purposes", "exactly one purpose must be marked membership = true (found 0)"),
    (lambda d: d["purposes"].update(
        {"loyalty.second": {**d["purposes"]["loyalty.membership"]}}),
     "purposes", "exactly one purpose must be marked membership = true (found 2)"),
    (lambda d: d["retention"]["birthdate_without_consent"].update(
        anchor="consent_withdrawn:loyalty.membership"),
     "retention.birthdate_without_consent", "'loyalty.membership' is not a consent-based purpose"),
    (lambda d: d["retention"]["birthdate_without_consent"].update(
        anchor="consent_withdrawn:marketing.email"),
     "retention.birthdate_without_consent",
     "purpose 'marketing.email' does not use 'identity.birthdate'"),
    (lambda d: d["retention"]["birthdate_without_consent"].update(applies_to="identity.shoes"),
     "retention.birthdate_without_consent", "unknown category 'identity.shoes'"),
    (lambda d: d["retention"]["birthdate_without_consent"].update(anchor="a_full_moon"),
     "retention.birthdate_without_consent", "the sweeper does not know"),
    (lambda d: d["purposes"]["marketing.email"].update(colour="red"),
     "purposes.marketing.email", "unknown keys colour"),
    (lambda d: d["clients"]["email-marketing"]["purposes"].append("marketing.fax"),
     "clients.email-marketing", "unknown purpose 'marketing.fax'"),
    (lambda d: d["categories"]["contact.email"]["attributes"].append("shoe_size"),
     "categories.contact.email", "unknown member attribute 'shoe_size'"),
    (lambda d: d["categories"]["contact.phone"]["attributes"].append("email"),
     "categories.contact.phone", "already in contact.email"),
    (lambda d: d["categories"].pop("contact.address"),
     "categories", "attributes without a category: postal_address"),
    (lambda d: d["policy"].pop("controller"), "[policy]", "missing 'controller'"),
    (lambda d: d["policy"].update(time_zone="Mars/Olympus_Mons"), "[policy]",
     "'time_zone' 'Mars/Olympus_Mons' is not an IANA time zone"),
    (lambda d: d["policy"].update(time_zone="../../etc/passwd"), "[policy]",
     "is not an IANA time zone"),
    (lambda d: d["holidays"]["GDPR"].append("2026-02-30"), "holidays.GDPR",
     "'2026-02-30' is not a date (YYYY-MM-DD)"),
    (lambda d: d["holidays"]["GDPR"].append(dt.datetime(2026, 12, 24, 12)), "holidays.GDPR",
     "is not a date"),
    (lambda d: d["holidays"]["GDPR"].append(d["holidays"]["GDPR"][0]), "holidays.GDPR",
     "2026-01-01 is listed twice"),
    (lambda d: d["holidays"].update(CCPA="2026-12-25"), "holidays.CCPA",
     "must be a list of dates"),
    (lambda d: d["holidays"].update({"gdpr ": []}), "holidays.gdpr ", "unknown jurisdiction"),
    (lambda d: d.update(retention_typo={}), "top level", "unknown keys retention_typo"),
    (lambda d: d["policy"].pop("controller_address"), "[policy]",
     "missing 'controller_address'"),
    (lambda d: d["policy"]["controller_address"].update(country="Belgium"),
     "[policy] controller_address", "'country' must be an ISO 3166 alpha-2 code"),
    (lambda d: d["policy"]["controller_address"].pop("street"),
     "[policy] controller_address", "'street' must be a non-empty string"),
    (lambda d: d["policy"]["controller_address"].update(floor=2),
     "[policy] controller_address", "unknown keys floor"),
    (lambda d: d["policy"].pop("controller_phone"), "[policy]", "missing 'controller_phone'"),
    (lambda d: d["policy"].update(controller_phone="02 555 01 00"), "[policy]",
     "'controller_phone' must be an international number"),
    (lambda d: d["policy"].update(controller_phone="+32 2 555 01 00 ext 4"), "[policy]",
     "'controller_phone' must be an international number"),
    (lambda d: d["policy"].update(dpo_contact="the DPO, 2nd floor"), "[policy]",
     "'dpo_contact' must be an email address"),
    (lambda d: d["policy"].update(language="English"), "[policy]",
     "'language' must be a language tag"),
    (lambda d: d["policy"].update(storage_locations="Belgium"), "[policy]",
     "'storage_locations' must be a list of places"),
    (lambda d: d["purposes"]["marketing.email"].pop("purpose_categories"),
     "purposes.marketing.email", "missing 'purpose_categories'"),
    (lambda d: d["purposes"]["marketing.email"].update(purpose_categories=["Spam"]),
     "purposes.marketing.email", "unknown: Spam"),
    (lambda d: d["purposes"]["marketing.email"].update(purpose_categories=[]),
     "purposes.marketing.email", "'purpose_categories' must name entries of the Kantara"),
    (lambda d: d["categories"]["contact.email"].update(pii_categories=["Contacts"]),
     "categories.contact.email", "unknown: Contacts"),
    (lambda d: d["categories"]["contact.email"].pop("pii_categories"),
     "categories.contact.email", "missing 'pii_categories'"),
    (lambda d: d["translations"]["fr"]["purposes"].pop("marketing.sms"),
     "translations.fr.purposes", "no translation of marketing.sms"),
    (lambda d: d["translations"]["fr"]["purposes"].update(
        {"marketing.fax": {"title": "Fax", "notice": "Par fax."}}),
     "translations.fr.purposes", "unknown purpose marketing.fax"),
    (lambda d: d["translations"]["fr"]["purposes"]["marketing.sms"].pop("notice"),
     "translations.fr.purposes.marketing.sms", "'notice' must be a non-empty string"),
    (lambda d: d["translations"]["fr"]["categories"].pop("contact.phone"),
     "translations.fr.categories", "no translation of contact.phone"),
    (lambda d: d["translations"]["fr"].pop("title"), "translations.fr",
     "'title' must be a non-empty string"),
    (lambda d: d["translations"].update(EN=d["translations"]["fr"]), "translations.EN",
     "'language' must be a language tag"),
    (lambda d: d["translations"].update(en=d["translations"]["fr"]), "translations.en",
     "'en' is the policy's own language"),
])
def test_invalid_policies_are_refused_with_a_precise_message(change: Any, entry: str,
                                                             problem: str) -> None:
    error = broken(change)
    assert error.source == "policy.toml"
    assert error.entry == entry
    assert problem in error.problem
    assert str(error).startswith(f"policy.toml: {entry}: ")


def test_the_default_policy_says_who_the_controller_is_and_in_which_languages() -> None:
    policy = load_member_policy()
    assert policy.controller_address is not None
    assert policy.controller_address.one_line() == "Rue de l'Exemple 1, 1000 Bruxelles, BE"
    assert policy.controller_phone == "+32 2 555 01 00"
    assert policy.language == "en" and policy.languages == ["en", "bg", "fr", "nb", "sv"]
    assert policy.purpose_text("marketing.email", "sv").title == "Erbjudanden via e-post"
    assert policy.category_title("contact.email", "nb") == "E-postadresse"
    assert policy.translations["fr"].purposes["marketing.email"].title == "Offres par e-mail"
    assert policy.translations["fr"].categories["contact.email"] == "Adresse e-mail"
    assert policy.purposes["partners.sharing"].purpose_categories == ("Sharing for Marketing",)
    assert policy.categories["identity.name"].pii_categories == ("Biographical",)
    assert all(p.purpose_categories for p in policy.purposes.values())
    assert all(c.pii_categories for c in policy.categories.values())


def test_the_default_policy_gives_the_controllers_time_zone_and_holidays() -> None:
    policy = load_member_policy()
    assert policy.time_zone == "Europe/Brussels"
    assert dt.date(2026, 7, 21) in policy.holidays["GDPR"]  # Belgian national day
    assert dt.date(2026, 7, 21) not in policy.holidays["CCPA"]
    assert dt.date(2026, 11, 26) in policy.holidays["CCPA"]  # Thanksgiving
    assert all(isinstance(day, dt.date) for days in policy.holidays.values() for day in days)


def test_holidays_name_only_jurisdictions_the_caller_knows() -> None:
    data = copy.deepcopy(DEFAULT)
    data["holidays"]["EU"] = ["2026-05-09"]
    with pytest.raises(PolicyError) as raised:
        parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS,
                     jurisdictions=JURISDICTIONS)
    assert str(raised.value) == ("policy.toml: holidays.EU: unknown jurisdiction "
                                 "(one of CCPA, GDPR)")
    del data["holidays"]["EU"]
    data["holidays"]["GDPR"] = ["2026-05-09", dt.date(2026, 5, 10)]  # strings and dates
    del data["policy"]["time_zone"]
    policy = parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS,
                          jurisdictions=JURISDICTIONS)
    assert policy.holidays["GDPR"] == {dt.date(2026, 5, 9), dt.date(2026, 5, 10)}
    assert policy.time_zone == "UTC"  # the default


def test_a_missing_or_malformed_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_member_policy(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy\nversion = 1")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_member_policy(bad)


def test_the_policy_file_itself_can_declare_a_material_notice_change(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text().replace(
        'notice = "We send you news and offers by email. You can stop at any time."\n'
        'notice_version = 1',
        'notice = "We send you news and offers by email. You can stop at any time."\n'
        'notice_version = 2\nmaterial_change = true')
    assert "material_change = true" in text
    path = tmp_path / "policy.toml"
    path.write_text(text)
    purpose = load_member_policy(path).purposes["marketing.email"]
    assert (purpose.notice_version, purpose.material_change) == (2, True)
    assert not purpose.grant_is_current(1) and purpose.grant_is_current(2)


def test_a_consent_purpose_without_a_notice_in_a_members_language_is_refused() -> None:
    data = copy.deepcopy(DEFAULT)
    del data["translations"]["nb"]
    with pytest.raises(PolicyError) as raised:
        parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS,
                     languages=MEMBER_LANGUAGES)
    assert str(raised.value) == (
        "policy.toml: purposes.rewards.birthday: no notice in 'nb' (members are served in "
        "en, sv, nb, bg): add [translations.nb]")


def test_purposes_that_rest_on_no_consent_need_no_notice_in_every_language() -> None:
    data = copy.deepcopy(DEFAULT)
    for purpose in data["purposes"].values():
        if purpose["legal_basis"] == "consent":
            purpose["legal_basis"] = "legitimate_interest"
            purpose.pop("sale_or_sharing", None)
            purpose.pop("direct_marketing", None)
    data["retention"].pop("birthdate_without_consent")
    data["translations"] = {}
    policy = parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS,
                          languages=MEMBER_LANGUAGES)
    assert policy.languages == ["en"]


def test_the_service_refuses_to_start_on_a_missing_notice(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text()
    cut = text.index("[translations.bg]")
    path = tmp_path / "policy.toml"
    path.write_text(text[:cut])
    with pytest.raises(PolicyError, match=r"no notice in 'bg'"):
        load_member_policy(path)
