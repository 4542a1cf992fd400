"""Rate limits per API token, counted in Redis (shared by every web process): a fixed window
per minute. Over the limit: 429 with `Retry-After` (seconds to the next window)."""

import math
import time

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

_client = None


def now() -> float:
    """The clock the windows are counted by (tests pin it)."""
    return time.time()


def client():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
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
        pipe = client().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
        self._wait = max(1, math.ceil(60 - (moment % 60)))
        return count <= limit

    def wait(self):
        return getattr(self, "_wait", 60)
