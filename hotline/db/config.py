"""``database:``: where the service keeps its records."""

from __future__ import annotations

from pydantic import model_validator

from telephony.settings import Strict


class DatabaseSettings(Strict):
    # SQLite file by default; a postgresql+psycopg:// URL is accepted as well.
    url: str = "sqlite:///var/hotline.db"

    @model_validator(mode="after")
    def _scheme(self) -> DatabaseSettings:
        if not self.url.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError("url must be a sqlite:/// or postgresql:// URL")
        return self

    @property
    def display_url(self) -> str:
        """The URL to print: its password masked."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)
