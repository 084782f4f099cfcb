"""Profiles: named, per-user option presets; at most one of them is the user's default.

Options arrive flat (`{"model", "language", …}`), as upstream Scriberr's `{"pipeline": [...]}`, or
both (`services.pipeline`); they are stored flat and returned with both shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scriberr.jobs import JobOptions, OptionError
from scriberr.persistence.profile_repository import DuplicateProfileName, ProfileRepository
from scriberr.persistence.profile_repository import (  # returned to the API
    ProfileRecord as ProfileRecord,
)
from scriberr.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    Unprocessable,
    option_error,
)
from scriberr.services.pipeline import StepCatalog, read_profile_options, with_pipeline

MAX_NAME_CHARS = 200


class ProfileService:
    def __init__(
        self,
        repository: ProfileRepository,
        catalog: StepCatalog,
        defaults: JobOptions,
    ) -> None:
        self._repo = repository
        self._catalog = catalog
        self._defaults = defaults

    def list_for_user(self, user_id: str) -> list[ProfileRecord]:
        return self._repo.list_for_user(user_id)

    def get(self, user_id: str, profile_id: str) -> ProfileRecord:
        profile = self._repo.get(user_id, profile_id)
        if profile is None:
            raise NotFound("profile not found")
        return profile

    def find(self, user_id: str, profile_id: str) -> ProfileRecord | None:
        return self._repo.get(user_id, profile_id)

    def default_for(self, user_id: str) -> ProfileRecord | None:
        return self._repo.get_default(user_id)

    def create(
        self,
        user_id: str,
        *,
        name: str,
        description: str | None = None,
        options: Mapping[str, Any] | None = None,
        is_default: bool = False,
    ) -> ProfileRecord:
        clean_name = _clean_name(name)
        clean_options = self._clean_options(options)
        try:
            return self._repo.create(
                user_id,
                name=clean_name,
                description=description,
                options=clean_options,
                is_default=is_default,
            )
        except DuplicateProfileName:
            raise Conflict(f"a profile named '{clean_name}' already exists", field="name") from None

    def update(self, user_id: str, profile_id: str, changes: Mapping[str, Any]) -> ProfileRecord:
        """Apply a partial update; `options` replaces the stored preset as a whole."""
        prepared: dict[str, Any] = {}
        if "name" in changes:
            prepared["name"] = _clean_name(changes["name"])
        if "description" in changes:
            prepared["description"] = changes["description"]
        if "options" in changes:
            prepared["options"] = self._clean_options(changes["options"])
        if "is_default" in changes and changes["is_default"] is not None:
            prepared["is_default"] = bool(changes["is_default"])
        try:
            profile = self._repo.update(user_id, profile_id, prepared)
        except DuplicateProfileName:
            raise Conflict(
                f"a profile named '{prepared.get('name')}' already exists", field="name"
            ) from None
        if profile is None:
            raise NotFound("profile not found")
        return profile

    def set_default(self, user_id: str, profile_id: str) -> ProfileRecord:
        profile = self._repo.set_default(user_id, profile_id)
        if profile is None:
            raise NotFound("profile not found")
        return profile

    def delete(self, user_id: str, profile_id: str) -> None:
        if not self._repo.delete(user_id, profile_id):
            raise NotFound("profile not found")

    def options_view(self, profile: ProfileRecord) -> dict[str, Any]:
        """The stored (flat) options plus their upstream `pipeline` view."""
        return with_pipeline(profile.options, self._catalog)

    def _clean_options(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """A stored preset keeps only the keys it sets; it must be valid over the defaults.
        Flat keys and/or upstream's pipeline are read by `services.pipeline`; an error about a
        value the pipeline set names its step."""
        read = read_profile_options(raw, self._catalog)
        try:
            self._defaults.merged(read.options).check_catalog(self._catalog, prefix="options")
        except OptionError as error:
            mapped = option_error(error)
            raise type(mapped)(mapped.message, field=read.field_for(mapped.field)) from None
        return read.options


def _clean_name(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidRequest("name must be a string", field="name")
    cleaned = name.strip()
    if not cleaned:
        raise Unprocessable("name must not be empty", field="name")
    if len(cleaned) > MAX_NAME_CHARS:
        raise Unprocessable(f"name is longer than {MAX_NAME_CHARS} characters", field="name")
    return cleaned
