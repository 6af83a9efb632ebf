"""The seven sandbox services; ``build_app`` assembles one of them as an ASGI app."""

from __future__ import annotations

from sandbox.options import RELEASE, Options
from sandbox.services import (
    auth,
    notifications,
    rag,
    samples,
    sequencing,
    storage,
    templates,
)
from sandbox.store import Store
from sandbox.web import ServiceApp

SERVICE_NAMES = ("auth", "samples", "storage", "templates", "sequencing", "notifications", "rag")


def build_app(
    name: str,
    store: Store,
    *,
    jwt_secret: str = auth.DEFAULT_JWT_SECRET,
    options: Options = RELEASE,
) -> ServiceApp:
    """The ASGI app of one service, on ``store``, as the release answers unless ``options``
    add extensions or fixes."""
    if name == "auth":
        return ServiceApp(
            name, auth.AuthService(store, jwt_secret, options).routes(), auth.render_error
        )
    if name == "samples":
        return ServiceApp(
            name, samples.SamplesService(store, options).routes(), samples.render_error
        )
    if name == "storage":
        return ServiceApp(
            name, storage.StorageService(store, options).routes(), storage.render_error
        )
    if name == "templates":
        return ServiceApp(
            name,
            templates.TemplatesService(store, options).routes(),
            templates.render_error,
            malformed_path=templates.TemplatesService.malformed_path,
        )
    if name == "sequencing":
        return ServiceApp(
            name, sequencing.SequencingService(store, options).routes(), sequencing.render_error
        )
    if name == "notifications":
        return ServiceApp(
            name,
            notifications.NotificationsService(store, options).routes(),
            notifications.render_error,
        )
    if name == "rag":
        return ServiceApp(
            name, rag.RagService(store, options).routes(), rag.render_error, fastapi=True
        )
    raise ValueError(f"unknown sandbox service {name!r}; choose from {', '.join(SERVICE_NAMES)}")
