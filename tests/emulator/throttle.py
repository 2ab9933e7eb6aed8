"""Azure Resource Manager request throttling: the token-bucket model of 2024.

Source: Microsoft Learn, "Understand how Azure Resource Manager throttles requests"
(azure-resource-manager/management/request-limits-and-throttling). Limits apply per subscription (tenant for
requests without one), per security principal and per operation type, as buckets that refill continuously:

    reads 250 (refill 25/s), writes 200 (refill 10/s), deletes 200 (refill 10/s)

A request that finds its bucket empty gets 429 Too Many Requests with `Retry-After` (seconds) and the error
code SubscriptionRequestsThrottled (TenantRequestsThrottled without a subscription), as ARM answers. Every
answer carries `x-ms-ratelimit-remaining-subscription-reads` / `-writes` / `-deletes` (tenant- for tenant
requests). The operation type follows the HTTP method: GET/HEAD read, DELETE delete, PUT/PATCH/POST write.

The emulator's settings (see scenarios.DEFAULT_SETTINGS) hold the sizes and refill rates so tests can use
small buckets; `throttle: False` turns it off. The per-region split and the 15x global subscription limit are
not modelled: one emulator is one region and one caller at a time.
"""

import base64
import hashlib
import json
import math
import re
import time

OPERATIONS = ("reads", "writes", "deletes")
_SUB = re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE)


def operation_of(method):
    method = method.upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


def scope_of(path):
    """("subscription", id) for /subscriptions/{id}/..., else ("tenant", None) (/subscriptions itself, /tenants,
    /providers/...)."""
    found = _SUB.match(path.rstrip("/") + "/")
    if found and path.rstrip("/").lower() != "/subscriptions":
        return "subscription", found.group(1).lower()
    return "tenant", None


def principal_of(authorization):
    """The caller's object id: the `oid` claim of the bearer JWT, else a digest of the token."""
    token = (authorization or "")[7:].strip() if (authorization or "").lower().startswith("bearer ") else ""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            if isinstance(claims, dict) and claims.get("oid"):
                return str(claims["oid"])
        except (ValueError, TypeError):
            pass
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:16]


class TokenBucket:
    """A bucket of `size` tokens refilling `refill` tokens per second, full at first."""

    def __init__(self, size, refill, clock=time.monotonic):
        self.size = float(size)
        self.refill = float(refill)
        self.clock = clock
        self.tokens = self.size
        self.updated = clock()

    def _fill(self, now):
        if now > self.updated:
            self.tokens = min(self.size, self.tokens + (now - self.updated) * self.refill)
        self.updated = now

    def take(self):
        """(allowed, remaining whole tokens, seconds until one token is back)."""
        now = self.clock()
        self._fill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, int(self.tokens), 0
        if self.refill <= 0:
            return False, 0, 3600
        return False, 0, max(1, math.ceil((1.0 - self.tokens) / self.refill))


class Throttle:
    """The buckets of one world: (scope, subscription, principal, operation) -> TokenBucket."""

    def __init__(self, settings, clock=time.monotonic):
        self.settings = settings
        self.clock = clock
        self.buckets = {}

    def reset(self):
        self.buckets.clear()

    def check(self, method, path, principal):
        """(allowed, headers, retry_after, operation, scope, subscription) for one ARM request."""
        operation = operation_of(method)
        scope, sub = scope_of(path)
        if not self.settings.get("throttle", True):
            return True, {}, 0, operation, scope, sub
        key = (scope, sub, principal, operation)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.settings[f"throttle_{operation}"],
                                                     self.settings[f"throttle_{operation}_refill"], self.clock)
        allowed, remaining, retry_after = bucket.take()
        headers = {f"x-ms-ratelimit-remaining-{scope}-{operation}": str(remaining)}
        if not allowed:
            headers["Retry-After"] = str(retry_after)
        return allowed, headers, retry_after, operation, scope, sub


def throttled_message(operation, scope, sub, principal, retry_after):
    """The ARM error (code, message) of a throttled request."""
    kind = operation[:-1]  # read | write | delete
    if scope == "subscription":
        return ("SubscriptionRequestsThrottled",
                f"Number of '{kind}' requests for subscription '{sub}' actor '{principal}' exceeded. Please try again "
                f"after '{retry_after}' seconds after additional tokens are available. Refer to "
                "https://aka.ms/arm-throttling for additional information.")
    return ("TenantRequestsThrottled",
            f"Number of '{kind}' requests for tenant actor '{principal}' exceeded. Please try again after "
            f"'{retry_after}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling "
            "for additional information.")
