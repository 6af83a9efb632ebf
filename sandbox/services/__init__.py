"""The seven sandbox services; ``build_app`` assembles one of them as an ASGI app."""

from __future__ import annotations

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


def build_app(name: str, store: Store, *, jwt_secret: str = auth.DEFAULT_JWT_SECRET) -> ServiceApp:
    """The ASGI app of one service, on ``store``."""
    if name == "auth":
        return ServiceApp(name, auth.AuthService(store, jwt_secret).routes(), auth.render_error)
    if name == "samples":
        return ServiceApp(name, samples.SamplesService(store).routes(), samples.render_error)
    if name == "storage":
        return ServiceApp(name, storage.StorageService(store).routes(), storage.render_error)
    if name == "templates":
        return ServiceApp(
            name,
            templates.TemplatesService(store).routes(),
            templates.render_error,
            malformed_path=templates.TemplatesService.malformed_path,
        )
    if name == "sequencing":
        return ServiceApp(
            name, sequencing.SequencingService(store).routes(), sequencing.render_error
        )
    if name == "notifications":
        return ServiceApp(
            name, notifications.NotificationsService(store).routes(), notifications.render_error
        )
    if name == "rag":
        return ServiceApp(name, rag.RagService(store).routes(), rag.render_error, fastapi=True)
    raise ValueError(f"unknown sandbox service {name!r}; choose from {', '.join(SERVICE_NAMES)}")
