"""Search everything over the API: `GET /api/v1/search/?q=&kind=&limit=` (services.catalog.search)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from services.api.errors import ErrorSerializer
from services.catalog import search
from services.catalog.search_index import KIND_NAMES
from services.errors import InvalidInput

DEFAULT_LIMIT = 10


class SearchResultSerializer(serializers.Serializer):
    """One thing found."""

    kind = serializers.ChoiceField(choices=KIND_NAMES)
    key = serializers.CharField(help_text="The slug (a person: the username; a runbook: service-slug/runbook-slug).")
    title = serializers.CharField()
    url = serializers.CharField(help_text="Its page in the portal.")
    matched = serializers.ChoiceField(choices=["name", "text", "similar name"],
                                      help_text="Found by a name (slug, name, tags, title), by its text "
                                                "(description, runbook body), or by a name like a word typed.")
    snippet = serializers.CharField(help_text="A line of its text: around the first word found when matched by text.")
    rank = serializers.IntegerField(help_text="0 the whole query is a name or key; 1 a name starts with it; 2 every "
                                              "word is in the names; 3 in the text; 4 similar names.")


class SearchAnswerSerializer(serializers.Serializer):
    """Results in score order, at most `limit` of each kind, and how many of each kind matched."""

    query = serializers.CharField()
    words = serializers.ListField(child=serializers.CharField(), help_text="The words searched for (at most 8).")
    similar = serializers.BooleanField(help_text="Nothing matched as typed: these are names like the words typed.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Matches of each kind.")
    results = SearchResultSerializer(many=True)


class SearchView(APIView):
    """One search over services, teams, people, systems, domains and runbooks."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="Search everything",
        description=(
            "Words found in names (slug, name, tags, a person's names, a runbook's title) rank before words "
            "found in text (descriptions, runbook bodies); every word must be found; each word also matches as "
            "a prefix. When fewer than `limit` results match, names like the words typed are added (typos, "
            "`matched: similar name`). Words are letters and digits: any other character separates words and "
            "nothing is read as query syntax."),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True,
                             description=f"At most {search.MAX_SEARCH} characters without control characters; "
                                         f"the first {search.MAX_WORDS} words count."),
            OpenApiParameter("kind", OpenApiTypes.STR, description="Comma-separated kinds to search: "
                                                                   + ", ".join(KIND_NAMES) + " (default all)."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"Results of each kind, 1-{search.MAX_PER_KIND} "
                                                                    f"(default {DEFAULT_LIMIT})."),
        ],
        responses={200: SearchAnswerSerializer, 400: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        text = request.query_params.get("q")
        if text is None or not text.strip():
            raise InvalidInput.field("q", "give the words to search for")
        raw_limit = request.query_params.get("limit", str(DEFAULT_LIMIT))
        if not raw_limit.isdigit() or len(raw_limit) > 3:
            raise InvalidInput.field("limit", f"a number from 1 to {search.MAX_PER_KIND}")
        answer = search.search_everything(text, kinds=search.search_kinds(request.query_params.get("kind")),
                                          limit=int(raw_limit))
        return Response({"query": answer.query, "words": answer.words, "similar": answer.similar,
                         "counts": answer.counts,
                         "results": [{"kind": r.kind, "key": r.key, "title": r.title, "url": r.url,
                                      "matched": r.matched, "snippet": r.snippet, "rank": r.rank}
                                     for r in answer.results]})
