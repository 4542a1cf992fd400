"""Stored tracker credentials, encrypted with Fernet. The key is TICKETING_ENCRYPTION_KEY (a
Fernet key: `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()
.decode())"`), else one derived from SECRET_KEY — so rotating SECRET_KEY without setting
TICKETING_ENCRYPTION_KEY makes stored credentials unreadable (re-enter them)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class CredentialUnavailable(Exception):
    """No usable credential: the environment variable is unset, or the stored one cannot be
    decrypted with the current key."""


def _fernet() -> Fernet:
    key = getattr(settings, "TICKETING_ENCRYPTION_KEY", "") or ""
    if not key:
        digest = hashlib.sha256(b"vigil-ticketing:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise CredentialUnavailable(
            "The stored credential cannot be decrypted with the current key; enter it again."
        ) from None
