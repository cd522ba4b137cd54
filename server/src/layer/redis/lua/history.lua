-- KEYS: epoch, head, stream. ARGV: candidate epoch, since epoch ('' =
-- none), since offset, limit, max bytes, oldest visible ts (ms, 0 = all).
-- Returns {epoch, head, recovered, entries}: the gap after `since` when it
-- can be filled exactly within max bytes (of message JSON), else the newest
-- visible entries within limit and max bytes (at least one), newest first.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local oldest_ts = tonumber(ARGV[6])
local function visible(e)
  return oldest_ts == 0 or tonumber(e[2][4] or '0') >= oldest_ts
end
-- The oldest visible offset (messages past the TTL do not count).
local oldest = head + 1
local cursor = '-'
while true do
  local rows = redis.call('XRANGE', KEYS[3], cursor, '+', 'COUNT', 64)
  local found = false
  for _, e in ipairs(rows) do
    if visible(e) then
      oldest = tonumber(string.match(e[1], '^(%d+)'))
      found = true
      break
    end
  end
  if found or #rows < 64 then
    break
  end
  cursor = '(' .. rows[#rows][1]
end
local since = tonumber(ARGV[3])
local max = tonumber(ARGV[5])
if ARGV[2] == epoch and since <= head and since + 1 >= oldest then
  local gap = redis.call('XRANGE', KEYS[3], string.format('%d', since + 1), '+')
  local bytes = 0
  for _, e in ipairs(gap) do
    bytes = bytes + #e[2][2]
  end
  if bytes <= max then
    return {epoch, head, 1, gap}
  end
end
local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[4])
local out, bytes = {}, 0
for _, e in ipairs(newest) do
  if not visible(e) then
    break
  end
  bytes = bytes + #e[2][2]
  if bytes > max and #out > 0 then
    break
  end
  out[#out + 1] = e
end
return {epoch, head, 0, out}
