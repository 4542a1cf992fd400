"""A small client for the three Slack Web API methods Vigil uses (plus `auth.test`).

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`; this client
turns those, HTTP errors, rate limits and network errors into one `SlackError`. The bot token
goes only into the `Authorization` header: it is never part of an error message or a log line.
"""

import json
import re
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Slack's API never redirects; following one would carry the bearer token elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError(3xx)


_OPENER = urllib.request.build_opener(_NoRedirects)
MAX_NAME = 80
# Codes that no retry will fix: a person has to change the settings first.
PERMANENT = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "invalid_name",
    "invalid_name_specials",
    "invalid_name_required",
    "invalid_name_maxlength",
    "restricted_action",
    "team_access_not_granted",
    "ekm_access_denied",
}


class SlackError(Exception):
    """A failed Slack call. `code` is Slack's error code (or `http_<status>`, `unreachable`);
    `permanent` says whether retrying can help; `retry_after` is Slack's rate-limit wait."""

    def __init__(self, code: str, detail: str = "", *, retry_after: int | None = None):
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.permanent = code in PERMANENT
        super().__init__(f"Slack said {code}" + (f" ({detail})" if detail else ""))


def channel_name(prefix: str, key: str, suffix: str = "") -> str:
    """A Slack channel name from the incident key: lower-case letters, digits, `-` and `_`
    only, at most 80 characters (`suffix`, e.g. `-2`, is kept whole)."""
    raw = f"{prefix}{key}".lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", raw)
    name = re.sub(r"-{2,}", "-", name).strip("-_") or "incident"
    return name[: MAX_NAME - len(suffix)].rstrip("-_") + suffix


class SlackClient:
    def __init__(self, *, token: str, base_url: str):
        self._token = token
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def __repr__(self) -> str:  # never the token
        return f"<SlackClient {self.base_url}>"

    def call(self, method: str, payload: dict | None = None) -> dict:
        """POST `payload` as JSON to `<base_url><method>`; the answer when `ok` is true."""
        if not self.base_url.lower().startswith(("http://", "https://")):
            raise SlackError("bad_base_url", "the API base URL must be http(s)")
        request = urllib.request.Request(  # noqa: S310 — http(s) only, checked above
            self.base_url + method,
            data=json.dumps(payload or {}).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {self._token}",
                "User-Agent": "Vigil channels",
            },
        )
        try:
            with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
                body = response.read(1_000_000)
        except urllib.error.HTTPError as error:
            retry_after = None
            if error.code == 429:
                try:
                    retry_after = int(error.headers.get("Retry-After", "") or 0) or None
                except ValueError:
                    retry_after = None
                raise SlackError("ratelimited", retry_after=retry_after) from None
            raise SlackError(f"http_{error.code}", str(error.reason)[:100]) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SlackError("unreachable", str(reason)[:200]) from None
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            raise SlackError("bad_response", "the answer was not JSON") from None
        if not isinstance(answer, dict):
            raise SlackError("bad_response", "the answer was not a JSON object")
        if not answer.get("ok"):
            raise SlackError(str(answer.get("error") or "unknown_error")[:80])
        return answer

    def auth_test(self) -> dict:
        return self.call("auth.test")

    def create_channel(self, name: str, *, is_private: bool = False) -> dict:
        answer = self.call("conversations.create", {"name": name, "is_private": is_private})
        channel = answer.get("channel")
        if not isinstance(channel, dict):
            raise SlackError("bad_response", "no channel in the answer")
        return channel

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        try:
            self.call("conversations.invite", {"channel": channel_id, "users": ",".join(user_ids)})
        except SlackError as error:
            if error.code not in ("already_in_channel", "cant_invite_self"):
                raise

    def post_message(self, channel_id: str, text: str) -> str:
        answer = self.call("chat.postMessage", {"channel": channel_id, "text": text})
        return str(answer.get("ts", ""))
