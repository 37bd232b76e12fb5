-- DNS tunnelling and generated names: a client whose queries carry data in
-- their names (long or random-looking labels), or that asks more than
-- MAX_QUERIES names a minute under one domain, gets an alert and the answers
-- are dropped (they open nothing, and the tunnel gets no replies). Counts are
-- shared by all workers (tripline.incr). Needs [dns] resolvers: on_dns sees
-- only trusted answers that matched their query.

-- A label longer than this is data, not a name (DNS allows 63).
local MAX_LABEL = 40
-- A whole name longer than this is data (DNS allows 253).
local MAX_NAME = 120
-- Labels at least this long are judged by their entropy...
local ENTROPY_MIN_LEN = 20
-- ...and above this many bits per character they look random (English
-- host names stay below 3.5; base32/base64 data is about 4 to 5).
local MAX_ENTROPY = 3.9
-- Names one client may ask under one domain per minute.
local MAX_QUERIES = 100

-- The domain a name belongs to: its last two labels ("a.b.example.com" ->
-- "example.com"). Names under a public suffix of two labels (co.uk) are
-- counted under that suffix: a coarser count, never a missed one.
local function domain_of(name)
  local prev, last
  for label in name:gmatch("[^.]+") do prev, last = last, label end
  if prev then return prev .. "." .. last end
  return last or name
end

-- Shannon entropy of a string in bits per character.
local function entropy(s)
  local counts, n = {}, #s
  for i = 1, n do
    local c = s:byte(i)
    counts[c] = (counts[c] or 0) + 1
  end
  local h = 0
  for _, k in pairs(counts) do
    local p = k / n
    h = h - p * math.log(p, 2)
  end
  return h
end

-- Why a name looks like a tunnel's, or nil.
local function suspicious(name)
  if #name > MAX_NAME then return "name longer than " .. MAX_NAME end
  local rest = name:sub(1, #name - #domain_of(name))
  for label in rest:gmatch("[^.]+") do
    if #label > MAX_LABEL then return "label longer than " .. MAX_LABEL end
    if #label >= ENTROPY_MIN_LEN and entropy(label) > MAX_ENTROPY then
      return string.format("random-looking label (%.1f bits per character)", entropy(label))
    end
  end
  return nil
end

function on_dns(d)
  local domain = domain_of(d.qname)
  local why = suspicious(d.qname)
  if not why and tripline.incr("dnstun:n:" .. d.client .. ">" .. domain, 1, 60) > MAX_QUERIES then
    why = "more than " .. MAX_QUERIES .. " names a minute"
  end
  if not why then return nil end
  -- One alert per client and domain a minute; every such answer is dropped.
  if tripline.incr("dnstun:alerted:" .. d.client .. ">" .. domain, 1, 60) == 1 then
    tripline.alert{ signature = string.format("dns tunnel? %s under %s: %s", d.client, domain, why),
                    category = "Potentially Bad Traffic", severity = 2 }
  end
  return "drop"
end
