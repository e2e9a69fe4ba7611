"""Catalog search: the filter sets of the catalog's lists, shared by the API and the pages, and the
words-as-you-type search of the home page.

Every list filter follows one rule: a value that cannot be well formed (too long, characters the field
never holds, an unknown choice) is a 400 naming the parameter; a well-formed value that no row has is a
true answer, an empty list. Lifecycle and type are free text (as in Backstage), so any short line of
text is a well-formed one; slugs, tags, owners and names are held to their formats (catalog/refs.py).

The word filter reads Service.search, a column the database keeps (UPPER of slug, name and
description; one trigram index on PostgreSQL): one LIKE per word instead of three UPPER()s per row."""

# SQL is assembled here from identifiers of the registry and the models' meta, never from input: every
# value a person typed is a query parameter.
# ruff: noqa: S608
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Upper
from django.urls import NoReverseMatch, reverse

from services.catalog import search_index
from services.catalog.refs import (
    ENVIRONMENT_NAME_PATTERN,
    ENVIRONMENT_NAME_RULE,
    NAME_PATTERN,
    NAME_RULE,
    SLUG_PATTERN,
    SLUG_RULE,
    TAG_PATTERN,
    TAG_RULE,
)
from services.errors import InvalidInput
from services.models import Environment, Runbook, Service, Team

User = get_user_model()

MAX_SEARCH = 200  # characters of a `q` (its first 8 words are matched); the pages cut theirs there too
UNKNOWN_IS_EMPTY = " A well-formed value that no row has answers an empty list; a malformed one is a 400."
# `team`, `group:team`, `group:default/team`, `jane` or `user:jane` (usernames: letters, digits and . _ @ + -).
_OWNER = re.compile(r"(?:(?:user|group):)?(?:[a-z0-9-]+/)?[\w.@+-]{1,150}")
OWNER_RULE = "a team slug, group:<team>, a username or user:<username> (letters, digits and . _ @ + -)"


class Format:
    """A filter value's format, checked before any query: a value no row can have is a 400 naming the
    parameter, in words; never a silent empty list, nor a database error (SQLite refuses a LIKE
    pattern over 50,000 bytes). `lowercase`: the filter ignores case, so the value is checked lowered;
    `words`: whitespace of any kind separates words (no other control character is allowed)."""

    def __init__(self, rule: str, *, max_length: int, pattern: re.Pattern[str] | None = None,
                 lowercase: bool = False, words: bool = False) -> None:
        self.rule, self.max_length, self.pattern, self.lowercase, self.words = rule, max_length, pattern, lowercase, words

    def __call__(self, value: str) -> None:
        text = value.strip().lower() if self.lowercase else value.strip()
        controls = [char for char in text if unicodedata.category(char) == "Cc" and not (self.words and char.isspace())]
        if len(text) > self.max_length or controls or (self.pattern is not None and not self.pattern.fullmatch(text)):
            raise ValidationError(self.rule)


def text_format(max_length: int, what: str) -> Format:
    """Free text: well formed up to `max_length` characters (the column's size) without control characters."""
    return Format(f"{what} is at most {max_length} characters on one line, without control characters",
                  max_length=max_length)


def _checked(format_: Format, help_text: str, **kwargs: Any) -> django_filters.CharFilter:
    """A text filter whose value is checked against `format_`, its help saying what an unknown value answers."""
    return django_filters.CharFilter(validators=[format_], help_text=help_text + UNKNOWN_IS_EMPTY, **kwargs)


SERVICE_SLUG = Format(f"a service slug is {SLUG_RULE}", max_length=63, pattern=SLUG_PATTERN, lowercase=True)
TEAM_SLUG = Format(f"a slug is {NAME_RULE}", max_length=63, pattern=NAME_PATTERN, lowercase=True)
SEARCH = Format(f"search words are at most {MAX_SEARCH} characters in all, without control characters",
                max_length=MAX_SEARCH, words=True)
STRICT_BOOLEAN = [("true", "true"), ("false", "false")]


class ServiceFilter(django_filters.FilterSet):
    owner = _checked(Format(OWNER_RULE, max_length=160, pattern=_OWNER, lowercase=True), method="filter_owner",
                     help_text="Team slug, group:<team>, username, or user:<username>.")
    lifecycle = _checked(text_format(100, "a lifecycle"), field_name="lifecycle", lookup_expr="iexact",
                         help_text="Free text, as in Backstage (production, experimental, deprecated...): any value "
                                   "of at most 100 characters on one line, matched ignoring case.")
    type = _checked(text_format(100, "a type"), field_name="type", lookup_expr="iexact",
                    help_text="Free text, as in Backstage (service, website, library...): any value of at most 100 "
                              "characters on one line, matched ignoring case.")
    tier = django_filters.TypedChoiceFilter(
        field_name="tier", choices=[(str(n), str(n)) for n in (1, 2, 3)], coerce=int,
        error_messages={"invalid_choice": "a tier is 1, 2 or 3 (1 is the most critical)"}, help_text="1, 2 or 3.")
    tag = _checked(Format(f"a tag is {TAG_RULE}", max_length=63, pattern=TAG_PATTERN, lowercase=True),
                   method="filter_tag", help_text="Services carrying this tag.")
    system = _checked(TEAM_SLUG, field_name="system__slug", lookup_expr="iexact", help_text="A system's slug.")
    language = _checked(text_format(50, "a language"), field_name="language", lookup_expr="iexact",
                        help_text="Free text of at most 50 characters, matched ignoring case.")
    q = django_filters.CharFilter(method="filter_search", validators=[SEARCH],
                                  help_text=f"Words found in the slug, name or description (at most {MAX_SEARCH} "
                                            "characters; the first 8 words count).")
    archived = django_filters.ChoiceFilter(
        choices=STRICT_BOOLEAN, method="filter_archived", error_messages={"invalid_choice": "true or false"},
        help_text="true: only archived services; default false (archived are hidden).",
    )

    class Meta:
        model = Service
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Service]) -> QuerySet[Service]:
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(archived=False)
        return super().filter_queryset(queryset)

    def filter_archived(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        return queryset.filter(archived=value == "true")

    def filter_owner(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # The owner is looked up first and the services matched by key: a join with an OR across
        # two tables cannot use the owner indexes (PostgreSQL scanned all 10,000 services, twice:
        # count and page, ~25 ms); by key it is an index read.
        value = value.strip().lower()
        kind, _, rest = value.partition(":")
        team_slug = user_name = None
        if rest and kind == "user":
            user_name = rest
        elif rest and kind == "group":
            team_slug = rest.split("/")[-1]
        else:
            team_slug = user_name = value
        owners = Q(pk__in=[])
        if team_slug is not None:
            team_ids = list(Team.objects.filter(slug=team_slug).values_list("pk", flat=True))
            if team_ids:
                owners |= Q(owner_team_id__in=team_ids)
        if user_name is not None:
            user_ids = list(User.objects.filter(username__iexact=user_name).values_list("pk", flat=True))
            if user_ids:
                owners |= Q(owner_user_id__in=user_ids)
        return queryset.filter(owners)

    def filter_tag(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # Tags are a JSON list; matching the quoted tag in its text works on SQLite and PostgreSQL.
        return queryset.filter(tags__icontains=f'"{value.strip().lower()}"')

    def filter_search(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # Service.search is UPPER(slug, name and description); the word is upper-cased by the same
        # database function, so both sides agree on every character (SQLite's UPPER is ASCII-only).
        for word in value.split()[:8]:
            queryset = queryset.filter(search__contains=Upper(Value(word)))
        return queryset


class TeamFilter(django_filters.FilterSet):
    parent = _checked(TEAM_SLUG, field_name="parent__slug", lookup_expr="iexact", help_text="The parent team's slug.")
    q = django_filters.CharFilter(method="filter_search", validators=[SEARCH],
                                  help_text=f"Text found in the slug or name (at most {MAX_SEARCH} characters).")
    # A strict choice: django-filter's BooleanFilter quietly ignores a value it cannot read (?x=maybe).
    declared_by_import = django_filters.TypedChoiceFilter(
        choices=STRICT_BOOLEAN, coerce=lambda value: value == "true", error_messages={"invalid_choice": "true or false"},
        help_text="true: only teams declared by a catalog import (no members recorded); false: the others.")

    class Meta:
        model = Team
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[Team], name: str, value: str) -> QuerySet[Team]:
        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))


class RunbookFilter(django_filters.FilterSet):
    service = _checked(SERVICE_SLUG, field_name="service__slug", lookup_expr="iexact", help_text="A service's slug.")

    class Meta:
        model = Runbook
        fields: list[str] = []


class EnvironmentFilter(django_filters.FilterSet):
    service = _checked(SERVICE_SLUG, field_name="service__slug", lookup_expr="iexact", help_text="A service's slug.")
    name = _checked(Format(f"an environment name is {ENVIRONMENT_NAME_RULE}", max_length=100,
                           pattern=ENVIRONMENT_NAME_PATTERN), field_name="name", lookup_expr="iexact",
                    help_text="An environment name, matched ignoring case.")

    class Meta:
        model = Environment
        fields: list[str] = []


def catalog_search(text: str, *, limit: int = 8) -> dict[str, list[Any]]:
    """Services, teams and people whose names contain every word of `text` (at most `limit` of each)."""
    words = str(text).split()[:8]
    if not words:
        return {"services": [], "teams": [], "people": []}
    services, teams, people = Service.objects.filter(archived=False), Team.objects.all(), User.objects.filter(is_active=True)
    for word in words:
        services = services.filter(Q(slug__icontains=word) | Q(name__icontains=word))
        teams = teams.filter(Q(slug__icontains=word) | Q(name__icontains=word))
        people = people.filter(Q(username__icontains=word) | Q(first_name__icontains=word)
                               | Q(last_name__icontains=word) | Q(profile__display_name__icontains=word))
    return {
        "services": list(services.select_related("owner_team", "owner_user").order_by("slug")[:limit]),
        "teams": list(teams.order_by("slug")[:limit]),
        "people": list(people.select_related("profile").order_by("username")[:limit]),
    }


# ------------------------------------------------------------------------------------------------
# Search everything: one query over the search index (services.catalog.search_index), ranked.
#
# Ranking, best first: 0 the whole query is a name or key ("payments", "card-gateway"); 1 a name or key
# starts with it; 2 every word is in the names (slug, name, tags, a person's names, a runbook's title);
# 3 some word only in the text (descriptions, runbook bodies); 4 similar names (typos), asked only when
# the first pass found fewer results than were asked for. Within a rank, the full-text score (bm25 with
# names weighted 10 to 1 on SQLite, ts_rank with names weighted A on PostgreSQL), then the title.
#
# Input is data: words are runs of letters and digits (everything else separates them, as both
# tokenizers do), so no FTS5 or tsquery syntax a person types (quotes, *, NEAR, OR, -, :, parentheses)
# is ever read as such; each word is still quoted for FTS5.

MAX_WORDS = 8
MAX_PER_KIND = 50
TYPO_MIN_LENGTH = 4  # shorter words have too many neighbours to guess from
TYPO_TERMS_SCANNED = 2000  # at most this many vocabulary words read per typed word (SQLite)
SNIPPET_READ = 4000  # characters of the text read for a snippet
SNIPPET_WIDTH = 160
_WORD = re.compile(r"[^\W_]+")
MATCHED = {0: "name", 1: "name", 2: "name", 3: "text", 4: "similar name"}


@dataclass(frozen=True)
class SearchResult:
    """One thing found: where it links, what to show, and why it was found (`matched`: name, text or
    similar name)."""

    kind: str
    key: str
    title: str
    url: str
    matched: str
    snippet: str
    rank: int


@dataclass
class SearchAnswer:
    """The results in score order (at most `limit` of each kind), and how many of each kind matched."""

    query: str
    words: list[str]
    results: list[SearchResult]
    counts: dict[str, int]
    similar: bool = False  # the results came from the typo search

    def groups(self) -> list[dict[str, Any]]:
        """The results by kind, in the registry's order: [{kind, label, count, results}]."""
        return [{"kind": kind.kind, "label": kind.label, "count": self.counts.get(kind.kind, 0),
                 "results": [result for result in self.results if result.kind == kind.kind]}
                for kind in search_index.KINDS if self.counts.get(kind.kind)]


def search_words(text: str) -> list[str]:
    """The words of a search, lower case (at most 8), or InvalidInput naming `q` when the text is too long
    or holds control characters."""
    try:
        SEARCH(str(text))
    except ValidationError as error:
        raise InvalidInput.field("q", error.messages[0]) from None
    return _WORD.findall(str(text).lower())[:MAX_WORDS]


def search_kinds(value: str | None) -> list[str]:
    """The kinds asked for (`service,team`), all when none; InvalidInput naming `kind` for an unknown one."""
    if not value:
        return list(search_index.KIND_NAMES)
    kinds = [part.strip().lower() for part in str(value)[:200].split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in search_index.KIND_NAMES]
    if unknown or not kinds:
        raise InvalidInput.field("kind", f"one or more of {', '.join(search_index.KIND_NAMES)}, separated by commas")
    return kinds


def search_everything(text: str, *, kinds: list[str] | None = None, limit: int = 10) -> SearchAnswer:
    """Everything the search index holds that matches the words of `text`, best first, at most `limit` of
    each kind: one query, two more (similar names) when it finds fewer than `limit`."""
    words = search_words(text)
    if not 1 <= limit <= MAX_PER_KIND:
        raise InvalidInput.field("limit", f"a number from 1 to {MAX_PER_KIND}")
    kinds = list(kinds or search_index.KIND_NAMES)
    answer = SearchAnswer(query=str(text).strip(), words=words, results=[], counts={})
    if not words:
        return answer
    vendor = connection.vendor
    rows, counts = _run(*_match_query(words, kinds, limit, vendor))
    if sum(counts.values()) < limit:
        typo_words = [word for word in words if len(word) >= TYPO_MIN_LENGTH and word.isalpha()]
        if typo_words:
            similar_rows, similar_counts = _similar(words, typo_words, kinds, limit, vendor)
            seen = {(row[0], row[1]) for row in rows}
            fresh = [row for row in similar_rows if (row[0], row[1]) not in seen]
            if fresh:
                answer.similar = not rows
                # Nothing as typed: the similar names' counts. Else the few similar names added.
                counts = similar_counts if not rows else {
                    kind: counts.get(kind, 0) + sum(1 for row in fresh if row[0] == kind)
                    for kind in {*counts, *similar_counts}}
                rows = rows + fresh
    answer.counts = {kind: count for kind, count in counts.items() if count}
    answer.results = [_result(row, words) for row in sorted(rows, key=lambda row: (row[3], row[4]))]
    return answer


def _run(sql: str, params: dict[str, Any] | list[Any]) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Rows (kind, key, title, rank, position, body) and the count of matches of each kind."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    counts = {row[0]: int(row[6]) for row in fetched}
    return [tuple(row[:6]) for row in fetched], counts


def _tier_sql(words: list[str], vendor: str) -> str:
    # Every word is letters and digits only: no LIKE wildcard or quote can reach these patterns, and
    # they are passed as parameters all the same.
    names = " AND ".join(f"lower(e.names) LIKE %(like_{n})s" for n in range(len(words)))
    return ("CASE WHEN lower(e.title) = %(q)s OR lower(e.key) = %(q)s OR lower(e.key) = %(q_dash)s THEN 0 "
            "WHEN lower(e.title) LIKE %(q_prefix)s OR lower(e.key) LIKE %(q_dash_prefix)s THEN 1 "
            f"WHEN {names} THEN 2 ELSE 3 END")


def _ranked(inner: str) -> str:
    """Number each kind's rows in rank order and count them; keep the first `limit` of each kind, and read
    the start of the text of those alone (for the snippet)."""
    return (
        "SELECT r.kind, r.key, r.title, r.tier, r.position, substr(b.body, 1, %(snippet_read)s), r.total FROM ("
        "  SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.kind ORDER BY m.tier, m.score, m.title) AS position,"
        "         COUNT(*) OVER (PARTITION BY m.kind) AS total"
        f"  FROM ({inner}) m"
        ") r JOIN services_searchentry b ON b.id = r.id WHERE r.position <= %(limit)s"
        " ORDER BY r.tier, r.score, r.title")


def _common_params(words: list[str], kinds: list[str], limit: int) -> dict[str, Any]:
    joined = " ".join(words)
    return {"q": joined, "q_dash": "-".join(words), "q_prefix": joined + "%", "q_dash_prefix": "-".join(words) + "%",
            **{f"like_{n}": f"%{word}%" for n, word in enumerate(words)},
            **{f"kind_{n}": kind for n, kind in enumerate(kinds)},
            "limit": limit, "snippet_read": SNIPPET_READ}


def _kinds_sql(kinds: list[str]) -> str:
    return "e.kind IN (" + ", ".join(f"%(kind_{n})s" for n in range(len(kinds))) + ")"


def _fts5_term(word: str, *, prefix: bool = True) -> str:
    """One word as an FTS5 string (quoted, quotes doubled: never syntax), a prefix when 2+ characters."""
    quoted = '"' + word.replace('"', '""') + '"'
    return quoted + "*" if prefix and len(word) >= 2 else quoted


def _tsquery_term(word: str, *, prefix: bool = True, weight: str = "") -> str:
    """One word as a tsquery lexeme (quoted, quotes and backslashes escaped), a prefix when 2+ characters,
    in the names (weight A) alone when asked."""
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    labels = ("*" if prefix and len(word) >= 2 else "") + weight
    return quoted + ":" + labels if labels else quoted


def _match_query(words: list[str], kinds: list[str], limit: int, vendor: str, *,
                 alternatives: dict[str, list[str]] | None = None, names_only: bool = False,
                 rank: int | None = None) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of one full-text pass. `alternatives` maps a word to the vocabulary words
    it may stand for (the typo pass); `names_only` matches the names column alone; `rank` fixes the
    rank of every row (4 for similar names) instead of computing it."""
    params = _common_params(words, kinds, limit)
    tier = str(rank) if rank is not None else _tier_sql(words, vendor)
    if vendor == "postgresql":
        weight = "A" if names_only else ""
        params["tsquery"] = " & ".join(
            "(" + " | ".join([_tsquery_term(word, weight=weight)]
                             + [_tsquery_term(other, prefix=False, weight=weight)
                                for other in (alternatives or {}).get(word, [])]) + ")"
            for word in words)
        inner = (f"SELECT e.id, e.kind, e.key, e.title, {tier} AS tier, -ts_rank(e.document, query) AS score "
                 "FROM services_searchentry e, to_tsquery('simple', %(tsquery)s) query "
                 f"WHERE e.document @@ query AND {_kinds_sql(kinds)}")
        return _ranked(inner), params
    terms = []
    for word in words:
        options = [_fts5_term(word)] + [_fts5_term(other, prefix=False) for other in (alternatives or {}).get(word, [])]
        terms.append("(" + " OR ".join(options) + ")")
    match = " AND ".join(terms)
    params["match"] = "{names} : (" + match + ")" if names_only else match
    inner = (f"SELECT e.id, e.kind, e.key, e.title, {tier} AS tier, "
             "bm25(services_searchentry_fts, 10.0, 1.0) AS score "
             "FROM services_searchentry_fts JOIN services_searchentry e ON e.id = services_searchentry_fts.rowid "
             f"WHERE services_searchentry_fts MATCH %(match)s AND {_kinds_sql(kinds)}")
    return _ranked(inner), params


def _similar(words: list[str], typo_words: list[str], kinds: list[str], limit: int,
             vendor: str) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """The typo pass, the same on both databases: for each word of 4+ letters, the names' vocabulary words
    (fts5vocab on SQLite, services_searchword on PostgreSQL) that begin with its first two letters, or
    those two swapped, at most TYPO_TERMS_SCANNED of them, within an edit distance of 1 (2 from 7 letters);
    then one full-text pass over the names with those words in place of the typed ones."""
    if vendor == "postgresql":
        vocabulary_sql = ("SELECT * FROM (SELECT %s, word FROM services_searchword "
                          "WHERE word >= %s AND word < %s ORDER BY word LIMIT %s) AS words")
    else:
        vocabulary_sql = ("SELECT * FROM (SELECT %s, term FROM services_searchentry_terms "
                          "WHERE col = 'names' AND term >= %s AND term < %s LIMIT %s)")
    ranges: list[str] = []
    range_params: list[Any] = []
    for index, word in enumerate(typo_words):
        for start in dict.fromkeys((word[:2], word[1] + word[0])):
            ranges.append(vocabulary_sql)
            range_params += [index, start, start[0] + chr(ord(start[1]) + 1), TYPO_TERMS_SCANNED]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(ranges), range_params)
        vocabulary = cursor.fetchall()
    alternatives: dict[str, list[str]] = {}
    for index, term in vocabulary:
        word = typo_words[index]
        allowed = 2 if len(word) >= 7 else 1
        if term != word and abs(len(term) - len(word)) <= allowed and edit_distance(word, term, allowed) <= allowed:
            alternatives.setdefault(word, []).append(term)
    if not alternatives:
        return [], {}
    return _run(*_match_query(words, kinds, limit, vendor, alternatives=alternatives, names_only=True, rank=4))


def edit_distance(first: str, second: str, bound: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: a swap of two neighbours is one edit), or
    bound + 1 as soon as it must exceed `bound`."""
    previous_previous: list[int] = []
    previous = list(range(len(second) + 1))
    for i, first_char in enumerate(first, 1):
        current = [i] + [0] * len(second)
        for j, second_char in enumerate(second, 1):
            cost = 0 if first_char == second_char else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and first_char == second[j - 2] and first[i - 2] == second_char:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        if min(current) > bound:
            return bound + 1
        previous_previous, previous = previous, current
    return previous[-1]


def _result(row: tuple[Any, ...], words: list[str]) -> SearchResult:
    kind_name, key, title, rank, _position, body = row
    kind = search_index.kind_of(kind_name)
    try:
        url = reverse(kind.url, args=str(key).split("/"))
    except NoReverseMatch:
        url = ""
    return SearchResult(kind=kind_name, key=str(key), title=str(title), url=url, matched=MATCHED[int(rank)],
                        snippet=_snippet(str(body or ""), words if int(rank) == 3 else []), rank=int(rank))


def _snippet(body: str, words: list[str]) -> str:
    """A line of the text around the first word found (its start when no word is sought or found)."""
    text = " ".join(body.split())
    lowered = text.lower()
    found = [position for word in words if (position := lowered.find(word)) >= 0]
    start = max(0, min(found) - SNIPPET_WIDTH // 3) if found else 0
    piece = text[start:start + SNIPPET_WIDTH]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_WIDTH < len(text) else "")
