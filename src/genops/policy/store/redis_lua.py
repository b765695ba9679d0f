"""Lua scripts of the Redis policy store. Each runs atomically on the server.

Money is integer nanodollars; Lua numbers are doubles, so sums are exact up to 2^53 nanodollars
(about $9M) per counter. Keys of one budget share a hash tag (`{b:<policy>}`), keys of one rate
window share `{r:<key>}`, so the scripts also work on Redis Cluster.
"""

# Limit in force: an unexpired override for the scope value, else for '*', else ARGV limit.
_LIMIT = """
local function limit_in_force(ovl, ovu, scope, now, default)
  for _, s in ipairs({scope, '*'}) do
    local u = redis.call('HGET', ovu, s)
    if u and tonumber(u) > now then return tonumber(redis.call('HGET', ovl, s)) end
  end
  return default
end
"""

# KEYS: counter, reservations zset, amounts hash, override limits, override untils
# ARGV: amount, limit, now, expires_at, reservation id, scope, key TTL (seconds)
RESERVE = _LIMIT + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0, 0} end
local now = tonumber(ARGV[3])
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved'))
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #expired > 0 then
  for _, id in ipairs(expired) do
    local a = redis.call('HGET', KEYS[3], id)
    if a then reserved = reserved - tonumber(a); redis.call('HDEL', KEYS[3], id) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if reserved < 0 then reserved = 0 end
end
local lim = limit_in_force(KEYS[4], KEYS[5], ARGV[6], now, tonumber(ARGV[2]))
local amount = tonumber(ARGV[1])
if spent + reserved + amount > lim then
  redis.call('HSET', KEYS[1], 'reserved', string.format('%d', reserved))
  return {0, spent, reserved, lim}
end
if amount > 0 then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
redis.call('HSET', KEYS[1], 'reserved', string.format('%d', reserved + amount))
return {1, spent, reserved + amount, lim}
"""

# KEYS: counter, reservations zset, amounts hash, override limits, override untils
# ARGV: reservation id or '', amount or '' (= the reserved amount), limit, now, scope
SETTLE = _LIMIT + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0, 0} end
local held = 0
if ARGV[1] ~= '' then
  local a = redis.call('HGET', KEYS[3], ARGV[1])
  if a then
    held = tonumber(a)
    redis.call('HDEL', KEYS[3], ARGV[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
  end
end
local actual = held
if ARGV[2] ~= '' then actual = tonumber(ARGV[2]) end
local before = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved')) - held
if reserved < 0 then reserved = 0 end
redis.call('HSET', KEYS[1], 'spent', string.format('%d', before + actual), 'reserved', string.format('%d', reserved))
local lim = limit_in_force(KEYS[4], KEYS[5], ARGV[5], tonumber(ARGV[4]), tonumber(ARGV[3]))
return {1, before, before + actual, lim}
"""

# KEYS: counter, reservations zset, amounts hash ; ARGV: reservation id
RELEASE = """
local a = redis.call('HGET', KEYS[3], ARGV[1])
if not a then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved')) - tonumber(a)
  if reserved < 0 then reserved = 0 end
  redis.call('HSET', KEYS[1], 'reserved', string.format('%d', reserved))
end
return 1
"""

# KEYS: counter, scope index ; ARGV: spent, key TTL (seconds), scope
INIT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'reserved', '0')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

# KEYS: entries zset, weights hash, token total ; ARGV: now, window, weight, max requests or '',
# max tokens or '', entry id
RATE_ACQUIRE = """
local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if #old > 0 then
  local gone = 0
  for _, id in ipairs(old) do
    local w = redis.call('HGET', KEYS[2], id)
    if w then gone = gone + tonumber(w); redis.call('HDEL', KEYS[2], id) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  redis.call('DECRBY', KEYS[3], string.format('%d', gone))
end
local n = redis.call('ZCARD', KEYS[1])
local tokens = tonumber(redis.call('GET', KEYS[3]) or '0')
local weight = tonumber(ARGV[3])
if (ARGV[4] ~= '' and n + 1 > tonumber(ARGV[4])) or (ARGV[5] ~= '' and tokens + weight > tonumber(ARGV[5])) then
  return {0, n, tokens}
end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('HSET', KEYS[2], ARGV[6], ARGV[3])
redis.call('INCRBY', KEYS[3], ARGV[3])
local ttl = math.ceil(tonumber(ARGV[2]) * 2000)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
return {1, n + 1, tokens + weight}
"""

# KEYS: entries zset, weights hash, token total ; ARGV: entry id, new weight ('' = remove)
RATE_CHANGE = """
local w = redis.call('HGET', KEYS[2], ARGV[1])
if not w then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DECRBY', KEYS[3], w)
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('INCRBY', KEYS[3], string.format('%d', tonumber(ARGV[2]) - tonumber(w)))
end
return 1
"""
