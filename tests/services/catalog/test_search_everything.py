"""Search everything: what is found, in which order, typos and prefixes, bounds, and input that is never
query syntax. Holds on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.catalog.search import MAX_PER_KIND, edit_distance, search_everything, search_kinds, search_words
from services.errors import InvalidInput
from services.models import Domain, Profile, System
from tests.factories import RunbookFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    payments = TeamFactory(slug="payments", name="Payments", description="Card acquiring and PCI scope")
    TeamFactory(slug="streaming", name="Streaming", description="Runs the kafka clusters")
    ServiceFactory(slug="payments-api", name="Payments API", owner_team=payments, description="Takes card payments",
                   tags=["pci", "java"])
    ServiceFactory(slug="payment-reports", name="Payment Reports", owner_team=payments,
                   description="Monthly statements", tags=["python"])
    ServiceFactory(slug="ledger", name="Ledger", owner_team=payments, description="Books every payments event",
                   tags=["python"])
    ServiceFactory(slug="checkout", name="Checkout", owner_team=payments, description="The basket", tags=["kafka"])
    ServiceFactory(slug="kafka-proxy", name="Kafka Proxy", owner_team=payments, description="REST in front of it")
    RunbookFactory(service=ServiceFactory(slug="fraud", name="Fraud"), slug="card-testing", title="Card testing attack",
                   body="Block the BIN range. Tell the kafka team.")
    System.objects.create(slug="commerce", name="Commerce", description="Everything that takes payments")
    Domain.objects.create(slug="money", name="Money", description="Payments and ledgers")
    person = UserFactory(username="kpayne", first_name="Kim", last_name="Payne")
    Profile.objects.create(user=person, display_name="Kim Payne")
    return payments


def keys(answer, kind=None):
    return [(result.kind, result.key) for result in answer.results if kind is None or result.kind == kind]


def test_the_home_pages_examples_now_find_things(catalog):
    assert ("runbook", "fraud/card-testing") in keys(search_everything("card"))
    assert ("service", "kafka-proxy") in keys(search_everything("kafka"))
    assert keys(search_everything("pci"), "service") == [("service", "payments-api")]


def test_exact_names_before_prefixes_before_name_words_before_text(catalog):
    results = search_everything("payments", kinds=["service", "team", "system", "domain"]).results
    ranked = [(result.kind, result.key, result.rank) for result in results]
    assert ranked[0][2] == 0 and {ranked[0][1], ranked[1][1]} == {"payments", "payments-api"}  # team name, API prefix
    ranks = [rank for _, _, rank in ranked]
    assert ranks == sorted(ranks)
    text_matches = {key for kind, key, rank in ranked if rank == 3}
    assert {"ledger", "commerce", "money"} <= text_matches  # descriptions only
    assert all(result.matched == "text" for result in results if result.rank == 3)


def test_a_name_match_ranks_before_a_description_match_of_the_same_kind(catalog):
    ServiceFactory(slug="queue-reader", name="Queue Reader", owner_team=catalog, description="Reads kafka")
    services = keys(search_everything("kafka", kinds=["service"]))
    # The name's prefix, then a tag (a name), then a description.
    assert services == [("service", "kafka-proxy"), ("service", "checkout"), ("service", "queue-reader")]


def test_prefixes_match_as_one_types(catalog):
    assert ("service", "kafka-proxy") in keys(search_everything("kaf"))
    assert keys(search_everything("ledg", kinds=["service"]))[0] == ("service", "ledger")
    assert ("person", "kpayne") in keys(search_everything("kim pay"))


@pytest.mark.parametrize(("typo", "meant"), [("paymnets", "payments-api"), ("chekout", "checkout"),
                                             ("ledgr", "ledger"), ("kafak", "kafka-proxy")])
def test_typos_in_names_find_the_name(catalog, typo, meant):
    answer = search_everything(typo, kinds=["service"])
    assert ("service", meant) in keys(answer)
    assert answer.similar
    assert {result.matched for result in answer.results} == {"similar name"}


def test_typos_are_not_guessed_from_short_words_or_far_words(catalog):
    assert search_everything("lgr").results == []
    assert search_everything("zzzzzzzz").results == []


def test_similar_names_come_after_real_matches(catalog):
    ServiceFactory(slug="chekout-legacy", name="Chekout Legacy", owner_team=catalog)
    answer = search_everything("chekout", kinds=["service"])
    assert keys(answer)[0] == ("service", "chekout-legacy")
    assert ("service", "checkout") in keys(answer)
    assert not answer.similar


@pytest.mark.parametrize("text", ['"', '""', "*", "payments*", "NEAR(payments card)", "payments OR card",
                                  "-payments", "names:payments", "(payments", "payments)", "^payments",
                                  "payments AND", "'", "\\", "a:b:c", "{names}: x", "pay'ments", "%", "_", "&|!",
                                  "Zürich", "東京", "💳 card", "payments:*", "!payments <-> card"])
def test_query_syntax_is_data(catalog, text):
    answer = search_everything(text)  # never a database error
    assert all(word.isalnum() for word in answer.words)


def test_operators_are_words_not_operators(catalog):
    # "OR" is not a union: both words must be found, and nothing has the word "or".
    assert search_everything("payments OR streaming").results == []
    assert ("team", "streaming") in keys(search_everything('"streaming'))
    assert keys(search_everything("-ledger", kinds=["service"]))[0] == ("service", "ledger")  # not a negation


def test_unicode_names_are_found_in_any_case():
    ServiceFactory(slug="zurich-edge", name="Zürich Edge")
    assert ("service", "zurich-edge") in keys(search_everything("zürich"))
    assert ("service", "zurich-edge") in keys(search_everything("ZÜRICH EDGE"))


def test_q_over_200_characters_or_with_control_characters_is_refused_naming_q():
    for bad in ("a" * 201, "pay\x00ments", "pay\x1bments"):
        with pytest.raises(InvalidInput) as raised:
            search_words(bad)
        assert list(raised.value.errors) == ["q"]
    assert search_words("a\tb\nc") == ["a", "b", "c"]  # whitespace separates words


def test_only_the_first_8_words_count():
    assert search_words("one two three four five six seven eight nine ten") == \
        ["one", "two", "three", "four", "five", "six", "seven", "eight"]


def test_kinds_and_limits_are_checked():
    assert search_kinds("service, team") == ["service", "team"]
    for bad in ("services", "service,bogus", ","):
        with pytest.raises(InvalidInput) as raised:
            search_kinds(bad)
        assert list(raised.value.errors) == ["kind"]
    for limit in (0, MAX_PER_KIND + 1):
        with pytest.raises(InvalidInput):
            search_everything("x", limit=limit)


def test_results_per_kind_are_bounded_and_counts_are_complete(catalog):
    team = TeamFactory(slug="bulk")
    for n in range(12):
        ServiceFactory(slug=f"widget-{n}", name=f"Widget {n}", owner_team=team)
    answer = search_everything("widget", limit=5)
    assert len(keys(answer, "service")) == 5
    assert answer.counts["service"] == 12
    assert answer.groups()[0]["count"] == 12


def test_one_query_when_the_first_pass_finds_enough_three_at_most_with_typos(catalog):
    with CaptureQueriesContext(connection) as queries:
        search_everything("payments", limit=2)
    assert len(queries) == 1  # the ranked, counted, bounded full-text query
    with CaptureQueriesContext(connection) as queries:
        search_everything("paymnets chekout", limit=2)
    assert len(queries) == 3  # first pass (nothing), the vocabulary of both words, the names pass


def test_results_link_to_each_kinds_page(catalog):
    urls = {result.kind: result.url for result in search_everything("card payments kim commerce money").results}
    urls |= {result.kind: result.url for result in search_everything("kim").results}
    urls |= {result.kind: result.url for result in search_everything("commerce", kinds=["system"]).results}
    urls |= {result.kind: result.url for result in search_everything("money", kinds=["domain"]).results}
    urls |= {result.kind: result.url for result in search_everything("card testing", kinds=["runbook"]).results}
    assert urls["person"] == "/people/kpayne/"
    assert urls["system"] == "/systems/commerce/"
    assert urls["domain"] == "/domains/money/"
    assert urls["runbook"] == "/services/fraud/runbooks/card-testing/"


def test_edit_distance_counts_a_swap_as_one_edit():
    assert edit_distance("paymnets", "payments", 2) == 1
    assert edit_distance("chekout", "checkout", 2) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # stops past the bound
