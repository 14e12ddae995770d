"""Failed staff sign-ins, kept in PostgreSQL so every API process counts the same failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class LoginFailure(Base):
    """One refused sign-in: the username as typed (lower case, whether or not it exists, so a
    lock says nothing about who has an account) and the address it came from."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_client_ip_at", "client_ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    username: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # password | totp
