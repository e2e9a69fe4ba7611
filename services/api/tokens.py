"""A person's API tokens over the API: create (the key shown once), list, revoke."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from services.access import tokens
from services.api.errors import ERRORS, LIST_ERRORS, ErrorSerializer
from services.api.serializers import ReadSerializer, StrictSerializer
from services.models import (
    ApiToken,
)


class ApiTokenSerializer(ReadSerializer):
    state = serializers.ChoiceField(choices=["active", "expired", "revoked"], read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "state", "created_at", "expires_at", "revoked_at", "last_used_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(help_text="The token itself: shown this once, never stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class ApiTokenRequestSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)


@extend_schema_view(
    list=extend_schema(summary="My API tokens (never their keys)",
                       responses={200: ApiTokenSerializer(many=True), **LIST_ERRORS}),
    create=extend_schema(summary="Create an API token: the key is in this answer only",
                         request=ApiTokenRequestSerializer, responses={201: ApiTokenCreatedSerializer, **ERRORS}),
    destroy=extend_schema(summary="Revoke one of my tokens (refused at once from then on)",
                          responses={204: None, 404: ErrorSerializer}),
)
class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A person's own API tokens: named, listed, expired and revoked by their owner."""

    serializer_class = ApiTokenSerializer
    filter_backends: list = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet:
        return tokens.token_list(self.request.user)

    def create(self, request: Request) -> Response:
        data = ApiTokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = tokens.token_create(actor=request.user, user=request.user, name=data.validated_data["name"],
                                         expires_in_days=data.validated_data.get("expires_in_days"))
        token.key = key
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        tokens.token_revoke(actor=request.user, token=tokens.token_of(request.user, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
