"""Policy state in Redis (redis-py + Lua): budget counters, reservations, rate windows, overrides
and alert claims, shared by every process on every host (typically next to a PostgreSQL ledger).

Each step is one Lua script (atomic on the server). Keys live under `genops:` and expire after
their period length (+62 days, so last period's status stays readable) or, for rate windows, after two
windows of inactivity. The ledger remains the source of truth: a counter lost with Redis data is
rebuilt from the ledger's spend for the period on first use.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from ...ledger.base import redact
from . import redis_lua as lua
from .base import (
    CounterKey,
    CounterMissing,
    CounterState,
    CounterStore,
    Override,
    RateResult,
    ReserveResult,
    SettleResult,
    StoreError,
    from_nano,
    from_timestamp,
    new_id,
    threshold_label,
    to_nano,
    window_retry_after,
)  # fmt: skip

try:
    import redis
except ImportError:  # pragma: no cover - depends on the install
    redis = None  # type: ignore[assignment]

KEEP_AFTER_PERIOD = timedelta(days=62)
OVERRIDE_INDEX = "genops:override-policies"


class RedisStore(CounterStore):
    kind = "redis"

    def __init__(self, url: str, *, connect_timeout: float = 1.0, timeout: float = 5.0) -> None:
        if redis is None:
            raise StoreError("the Redis policy store needs redis-py: pip install 'genops-ai[redis]'")
        self.url = url
        self._client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=timeout)
        self._reserve = self._client.register_script(lua.RESERVE)
        self._settle = self._client.register_script(lua.SETTLE)
        self._release = self._client.register_script(lua.RELEASE)
        self._init = self._client.register_script(lua.INIT)
        self._rate_acquire = self._client.register_script(lua.RATE_ACQUIRE)
        self._rate_change = self._client.register_script(lua.RATE_CHANGE)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreError(f"Redis policy store {redact(self.url)} unavailable: {exc}") from exc

    # -- keys ---------------------------------------------------------------------------------

    @staticmethod
    def _tag(policy: str) -> str:
        return f"genops:{{b:{policy}}}"

    def _budget_keys(self, key: CounterKey) -> list[str]:
        tag, suffix = self._tag(key.policy), f"{key.scope}:{key.period_start.isoformat()}"
        return [f"{tag}:c:{suffix}", f"{tag}:rz:{suffix}", f"{tag}:ra:{suffix}", f"{tag}:ovl", f"{tag}:ovu"]

    @staticmethod
    def _ttl(key: CounterKey) -> int:
        """Key lifetime: the whole period plus KEEP_AFTER_PERIOD (relative, so clocks need not agree)."""
        return int((key.period_end - key.period_start + KEEP_AFTER_PERIOD).total_seconds())

    @staticmethod
    def _rate_keys(key: str) -> list[str]:
        tag = f"genops:{{r:{key}}}"
        return [f"{tag}:z", f"{tag}:w", f"{tag}:t"]

    # -- budgets ------------------------------------------------------------------------------

    def reserve(self, key: CounterKey, amount: int, limit: int, now: datetime, ttl_seconds: float) -> ReserveResult:
        t, rid = now.timestamp(), new_id()
        status, spent, reserved, lim = self._call(
            self._reserve, keys=self._budget_keys(key),
            args=[amount, limit, repr(t), repr(t + ttl_seconds), rid, key.scope, self._ttl(key)],
        )  # fmt: skip
        if status < 0:
            raise CounterMissing(key)
        return ReserveResult(status == 1, int(spent), int(reserved), int(lim), rid if status == 1 else None)

    def settle(self, key: CounterKey, reservation_id: str | None, amount: int | None, limit: int, now: datetime) -> SettleResult:
        status, before, after, lim = self._call(
            self._settle, keys=self._budget_keys(key),
            args=[reservation_id or "", "" if amount is None else amount, limit, repr(now.timestamp()), key.scope],
        )  # fmt: skip
        if status < 0:
            raise CounterMissing(key)
        return SettleResult(int(before), int(after), int(lim))

    def release(self, key: CounterKey, reservation_id: str) -> None:
        self._call(self._release, keys=self._budget_keys(key)[:3], args=[reservation_id])

    def _state(self, key: CounterKey, limit: int, t: float) -> CounterState | None:
        counter, rz, ra, ovl, ovu = self._budget_keys(key)
        pipe = self._client.pipeline(transaction=True)
        pipe.hget(counter, "spent")
        pipe.zrangebyscore(rz, f"({t!r}", "+inf")
        pipe.hgetall(ra)
        pipe.hmget(ovl, [key.scope, "*"])
        pipe.hmget(ovu, [key.scope, "*"])
        spent, live, amounts, ov_limits, ov_untils = self._call(pipe.execute)
        if spent is None:
            return None
        reserved = sum(int(amounts.get(rid, 0)) for rid in live)
        for ov_limit, until in zip(ov_limits, ov_untils):
            if until is not None and float(until) > t:
                limit = int(ov_limit)
                break
        return CounterState(key.scope, int(spent), reserved, limit)

    def read(self, key: CounterKey, limit: int, now: datetime) -> CounterState:
        state = self._state(key, limit, now.timestamp())
        if state is None:
            raise CounterMissing(key)
        return state

    def init_counter(self, key: CounterKey, spent: int) -> None:
        index = f"{self._tag(key.policy)}:idx:{key.period_start.isoformat()}"
        self._call(self._init, keys=[self._budget_keys(key)[0], index], args=[spent, self._ttl(key), key.scope])

    def counters(self, policy: str, period_start: datetime, limit: int, now: datetime) -> list[CounterState]:
        index = f"{self._tag(policy)}:idx:{period_start.isoformat()}"
        scopes = sorted(s.decode() for s in self._call(self._client.smembers, index))
        out = []
        for scope in scopes:
            state = self._state(CounterKey(policy, scope, period_start, period_start), limit, now.timestamp())
            if state is not None:
                out.append(state)
        return out

    # -- rate limits --------------------------------------------------------------------------

    def rate_acquire(self, key: str, now: datetime, window: float, weight: int,
                     max_requests: int | None, max_tokens: int | None) -> RateResult:  # fmt: skip
        t, entry = now.timestamp(), new_id()
        keys = self._rate_keys(key)
        args = [repr(t), repr(window), weight, "" if max_requests is None else max_requests,
                "" if max_tokens is None else max_tokens, entry]  # fmt: skip
        ok, count, tokens = self._call(self._rate_acquire, keys=keys, args=args)
        if ok:
            return RateResult(True, int(count), int(tokens), None, entry)
        pipe = self._client.pipeline(transaction=True)
        pipe.zrangebyscore(keys[0], f"({t - window!r}", "+inf", withscores=True)
        pipe.hgetall(keys[1])
        entries, weights = self._call(pipe.execute)
        log = [(float(score), int(weights.get(member, 0))) for member, score in entries]
        wait = window_retry_after(log, t, window, weight, max_requests, max_tokens)
        return RateResult(False, int(count), int(tokens), wait)

    def rate_adjust(self, key: str, entry_id: str, weight: int) -> None:
        self._call(self._rate_change, keys=self._rate_keys(key), args=[entry_id, weight])

    def rate_release(self, key: str, entry_id: str) -> None:
        self._call(self._rate_change, keys=self._rate_keys(key), args=[entry_id, ""])

    # -- alerts and overrides -------------------------------------------------------------------

    def claim_crossing(self, key: CounterKey, threshold: float, now: datetime) -> bool:
        name = f"{self._tag(key.policy)}:x:{key.scope}:{key.period_start.isoformat()}:{threshold_label(threshold)}"
        return bool(self._call(self._client.set, name, repr(now.timestamp()), nx=True, ex=self._ttl(key)))

    def set_override(self, override: Override) -> None:
        tag = self._tag(override.policy)
        meta = json.dumps({"created_at": override.created_at.timestamp(), "reason": override.reason})
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(f"{tag}:ovl", override.scope, to_nano(override.limit))
        pipe.hset(f"{tag}:ovu", override.scope, repr(override.until.timestamp()))
        pipe.hset(f"{tag}:ovm", override.scope, meta)
        pipe.sadd(OVERRIDE_INDEX, override.policy)
        self._call(pipe.execute)

    def overrides(self, policy: str | None = None) -> list[Override]:
        policies = [policy] if policy is not None else sorted(p.decode() for p in self._call(self._client.smembers, OVERRIDE_INDEX))
        out = []
        for name in policies:
            tag = self._tag(name)
            pipe = self._client.pipeline(transaction=True)
            for suffix in ("ovl", "ovu", "ovm"):
                pipe.hgetall(f"{tag}:{suffix}")
            limits, untils, metas = self._call(pipe.execute)
            for scope in sorted(limits):
                meta = json.loads(metas.get(scope) or "{}")
                out.append(Override(
                    name, scope.decode(), from_nano(int(limits[scope])),
                    from_timestamp(float(untils[scope])),
                    from_timestamp(float(meta.get("created_at", 0))), meta.get("reason"),
                ))  # fmt: skip
        return out

    def clear_override(self, policy: str, scope: str = "*") -> bool:
        tag = self._tag(policy)
        pipe = self._client.pipeline(transaction=True)
        for suffix in ("ovl", "ovu", "ovm"):
            pipe.hdel(f"{tag}:{suffix}", scope)
        removed = self._call(pipe.execute)
        return bool(removed[0])

    def close(self) -> None:
        with suppress(Exception):  # closing a dead connection
            self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({redact(self.url)!r})"
