"""Rate limits per API token, counted in Redis (shared by every web process): a fixed window
per minute. Over the limit: 429 with `Retry-After` (seconds to the next window). Redis
unreachable: 503 `unavailable` with `Retry-After` (not a 500, and not unthrottled)."""

import logging
import math
import time

import redis
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

RETRY_WHEN_DOWN = 30  # seconds


class Unavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "The API cannot count requests right now. Retry in a moment."

    def __init__(self):
        super().__init__()
        self.wait = RETRY_WHEN_DOWN  # DRF's handler sends it as `Retry-After`


_client = None


def now() -> float:
    """The clock the windows are counted by (tests pin it)."""
    return time.time()


def client():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
    return _client


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        token = request.auth
        if token is None:
            return True
        limit = settings.API_RATE_LIMIT_PER_MINUTE
        moment = now()
        window = int(moment // 60)
        key = f"vigil:api:rate:{token.pk}:{window}"
        try:
            pipe = client().pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = pipe.execute()
        except redis.RedisError as error:
            logger.warning("API rate limit: Redis unreachable (%s); answering 503", error)
            raise Unavailable() from error
        self._wait = max(1, math.ceil(60 - (moment % 60)))
        return count <= limit

    def wait(self):
        return getattr(self, "_wait", 60)
