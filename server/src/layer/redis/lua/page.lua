-- KEYS: stream. ARGV: newest id to include ('+' = the newest), limit, max
-- bytes, oldest visible ts (ms, 0 = all). Returns {more, entries}: the
-- newest visible entries up to that id within limit and max bytes (at
-- least one), newest first, and 1 when an older visible entry exists.
local oldest_ts = tonumber(ARGV[4])
local function visible(e)
  return oldest_ts == 0 or tonumber(e[2][4] or '0') >= oldest_ts
end
local rows = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])
local out, bytes = {}, 0
local max = tonumber(ARGV[3])
for _, e in ipairs(rows) do
  if not visible(e) then
    break
  end
  bytes = bytes + #e[2][2]
  if bytes > max and #out > 0 then
    break
  end
  out[#out + 1] = e
end
local more = 0
if #out > 0 then
  local older = redis.call('XREVRANGE', KEYS[1], '(' .. out[#out][1], '-', 'COUNT', 1)
  if #older > 0 and visible(older[1]) then
    more = 1
  end
end
return {more, out}
