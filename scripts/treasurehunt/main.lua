-- Treasure hunt rules. The Lua API (ctx, handlers, the sandbox, the budgets)
-- is described in docs/lua-api.md; the rules' tests are rules_test.lua.
--
-- Hunt state (ctx.state), kept small because it is stored on every action:
--   players  number of players who ever joined
--   first    beacon id -> id of the player who found it first
--   top      leaderboard: at most TOP_N {player=, score=}, best first
-- Player session: id, score, found (beacon id -> time found), joined_at,
-- moves, rejects, lat, lon, at (last accepted fix), last_seen, left_at.

local floor = math.floor
local sort = table.sort

local TOP_N = 10

local function count(t)
  local n = 0
  for _ in pairs(t) do
    n = n + 1
  end
  return n
end

local function by_rank(a, b)
  if a.score ~= b.score then
    return a.score > b.score
  end
  return a.player < b.player
end

-- Scores never decrease and every player enters the board at join with 0,
-- so updating the top N on every score change keeps it exact without
-- storing every player's score in the hunt state. Returns whether the
-- player is on the board (then the board changed).
local function update_top(state, player_id, score)
  local top = state.top or {}
  local listed = false
  for i = 1, #top do
    if top[i].player == player_id then
      top[i].score = score
      listed = true
      break
    end
  end
  if not listed then
    top[#top + 1] = { player = player_id, score = score }
  end
  sort(top, by_rank)
  for i = #top, TOP_N + 1, -1 do
    top[i] = nil
  end
  state.top = top
  -- Whether the player is on the board now: if so, it changed.
  for i = 1, #top do
    if top[i].player == player_id then
      return true
    end
  end
  return false
end

local function leaderboard(state)
  return { top = state.top or {} }
end

function on_join(ctx, player)
  local state = ctx.state
  local new = player.joined_at == nil
  local board_changed = false
  if new then
    player.score = 0
    player.found = {}
    player.joined_at = ctx.now
    player.moves = 0
    player.rejects = 0
    state.players = (state.players or 0) + 1
    board_changed = update_top(state, player.id, 0)
  end
  player.left_at = nil
  local hunt = ctx.hunt
  ctx.emit(player.id, "joined", {
    hunt = hunt.id,
    name = hunt.name,
    beacons = #(hunt.beacons or {}),
    radius_m = hunt.radius_m,
    score = player.score,
    found = count(player.found),
    top = state.top or {},
  })
  ctx.audit("join", { new = new })
  -- The joiner has the board in "joined"; the others hear of a join only
  -- when it changed their board: N joins would otherwise cost N^2/2 frames.
  if board_changed then
    ctx.broadcast("leaderboard", leaderboard(state))
  end
end

local function reject_move(ctx, player, pos, reason, speed)
  player.rejects = (player.rejects or 0) + 1
  ctx.audit("move_rejected", { reason = reason, speed_mps = speed, lat = pos.lat, lon = pos.lon, at = pos.at })
  ctx.reject(reason)
end

function on_move(ctx, player, pos)
  -- A player who left plays again after a new join.
  if player.joined_at == nil or player.left_at ~= nil then
    return ctx.reject("not_joined")
  end
  local hunt = ctx.hunt

  -- Speed is measured from the last accepted fix, so a rejected jump does
  -- not become the reference for the next move.
  if player.at ~= nil and player.lat ~= nil then
    local d = ctx.distance(player.lat, player.lon, pos.lat, pos.lon)
    local dt = (pos.at - player.at) / 1000
    if dt <= 0 then
      if d > 0 then
        return reject_move(ctx, player, pos, "time_not_monotonic", nil)
      end
    elseif hunt.max_speed_mps ~= nil and d / dt > hunt.max_speed_mps then
      return reject_move(ctx, player, pos, "too_fast", d / dt)
    end
  end
  player.lat, player.lon, player.at = pos.lat, pos.lon, pos.at
  player.moves = (player.moves or 0) + 1
  player.last_seen = ctx.now

  -- ctx.near returns the beacons within the radius in definition order: the
  -- same as testing every beacon with ctx.distance, but indexed. (A numeric
  -- loop: on most moves nothing is near, and ipairs would cost two calls.)
  local state = ctx.state
  local found = player.found
  local discovered = false
  local near = ctx.near(pos.lat, pos.lon, hunt.radius_m or 0)
  for i = 1, #near do
    local b = near[i]
    if found[b.id] == nil then
      local points = floor(10 * (b.difficulty or 1) + 5 * (b.terrain or 1) + 0.5)
      local first = state.first or {}
      state.first = first
      local is_first = first[b.id] == nil
      if is_first then
        points = points + (hunt.first_finder_bonus or 0)
        first[b.id] = player.id
      end
      found[b.id] = ctx.now
      player.score = player.score + points
      update_top(state, player.id, player.score)
      -- The event shows where the beacon is; the audit row keeps where the
      -- player was, as evidence.
      ctx.emit(player.id, "discovery", {
        beacon = b.id, name = b.name, points = points, first = is_first,
        score = player.score, lat = b.lat, lon = b.lon,
      })
      ctx.audit("discovery", { beacon = b.id, points = points, first = is_first, lat = pos.lat, lon = pos.lon })
      discovered = true
    end
  end
  if discovered then
    ctx.broadcast("leaderboard", leaderboard(ctx.state))
  end
end

function on_leave(ctx, player)
  if player.joined_at == nil then
    return ctx.reject("not_joined")
  end
  player.left_at = ctx.now
  ctx.audit("leave", { score = player.score, found = count(player.found) })
end

function on_end(ctx)
  local state = ctx.state
  local top = state.top or {}
  local winners = {}
  local best = top[1] and top[1].score or 0
  if best > 0 then
    for i = 1, #top do
      if top[i].score == best then
        winners[#winners + 1] = top[i].player
      end
    end
  end
  ctx.broadcast("hunt_ended", { top = top, winners = winners })
  ctx.audit("hunt_end", { players = state.players or 0, winners = winners }, "")
end
