-- Tests of the treasure hunt rules (main.lua). Run by `make test` (Go test
-- TestLuaScripts in games/treasurehunt) and by `veltrix hunt validate --tests`.
-- The API (t, game.new) is described in docs/lua-api.md, "Testing rules".

-- A small hunt around Paris: b1 and b2 are 378 m apart, b3 571 m east of b1.
local HUNT = {
  id = "paris", name = "Paris test", radius_m = 30, max_speed_mps = 10,
  first_finder_bonus = 5,
  beacons = {
    { id = "b1", name = "Hotel de Ville", lat = 48.8566, lon = 2.3522, difficulty = 2, terrain = 1.5 },
    { id = "b2", name = "North", lat = 48.8600, lon = 2.3522, difficulty = 1, terrain = 1 },
    { id = "b3", name = "East", lat = 48.8566, lon = 2.3600, difficulty = 3.5, terrain = 2 },
  },
}

local function new_game()
  return game.new { hunt = HUNT, step = 10000 } -- actions 10 s apart
end

function test_join_answers_with_the_hunt(t)
  local g = new_game()
  local r = g:join("alice")
  t.ok(r.ok, "join accepted")
  local joined = t.find(r.events, "type", "joined")
  t.eq(joined.to, "alice")
  t.eq(joined.data, { hunt = "paris", name = "Paris test", beacons = 3, radius_m = 30, score = 0, found = 0,
    top = { { player = "alice", score = 0 } } })
  local board = t.find(r.events, "type", "leaderboard")
  t.eq(board.to, nil, "the leaderboard goes to the whole hunt")
  t.eq(board.data.top, { { player = "alice", score = 0 } })
  t.eq(g:state().players, 1)
end

function test_join_broadcasts_only_when_the_board_changes(t)
  local g = new_game()
  for i = 1, 10 do
    g:join(string.format("p%02d", i))
  end
  -- p11 joins with 0 points behind ten players with 0: ties go by id, so
  -- the board keeps p01..p10 and nobody else needs to hear of it.
  local r = g:join("p11")
  t.eq(t.find(r.events, "type", "leaderboard"), nil, "no broadcast for an unchanged board")
  local joined = t.find(r.events, "type", "joined")
  t.eq(#joined.data.top, 10, "the joiner still gets the board")
  t.eq(joined.data.top[1], { player = "p01", score = 0 })
  -- A rejoin changes nothing either.
  r = g:join("p01")
  t.eq(t.find(r.events, "type", "leaderboard"), nil, "no broadcast for a rejoin")
  -- a00 sorts before p10: it enters the board, and the hunt hears of it.
  r = g:join("a00")
  local board = t.find(r.events, "type", "leaderboard")
  t.eq(board.data.top[1], { player = "a00", score = 0 })
  t.eq(#board.data.top, 10)
end

function test_rejoin_keeps_score_and_count(t)
  local g = new_game()
  g:join("alice")
  g:move("alice", 48.8566, 2.3522) -- at b1
  local r = g:join("alice")
  local joined = t.find(r.events, "type", "joined")
  t.eq(joined.data.score, 33)
  t.eq(joined.data.found, 1)
  t.eq(g:state().players, 1, "a rejoin is not a new player")
end

function test_points_and_first_finder_bonus(t)
  local g = new_game()
  g:join("alice")
  g:join("bob")
  -- 10 * 2 + 5 * 1.5 = 27.5, rounded to 28, plus the bonus of 5.
  local r = g:move("alice", 48.85655, 2.3522)
  local d = t.find(r.events, "type", "discovery")
  t.eq(d.data, { beacon = "b1", name = "Hotel de Ville", points = 33, first = true, score = 33, lat = 48.8566, lon = 2.3522 })
  t.eq(t.find(r.audit, "kind", "discovery").data.first, true)
  t.eq(g:state().first, { b1 = "alice" })
  -- The second finder gets no bonus.
  r = g:move("bob", 48.8566, 2.3521)
  d = t.find(r.events, "type", "discovery")
  t.eq(d.data.points, 28)
  t.eq(d.data.first, false)
  t.eq(g:state().first, { b1 = "alice" }, "the first finder stays")
end

function test_a_beacon_counts_once_per_player(t)
  local g = new_game()
  g:join("alice")
  g:move("alice", 48.8566, 2.3522)
  local r = g:move("alice", 48.85661, 2.3522)
  t.ok(r.ok)
  t.eq(t.find(r.events, "type", "discovery"), nil)
  t.eq(g:session("alice").score, 33)
end

function test_leaderboard_after_each_discovery(t)
  local g = new_game()
  g:join("alice")
  g:join("bob")
  g:move("bob", 48.8566, 2.3522)
  local r = g:move("alice", 48.8566, 2.3522)
  local board = t.find(r.events, "type", "leaderboard")
  t.eq(board.data.top, { { player = "bob", score = 33 }, { player = "alice", score = 28 } })
end

function test_leaderboard_keeps_ten(t)
  local g = new_game()
  for i = 1, 12 do
    g:join(string.format("p%02d", i))
  end
  g:move("p12", 48.8566, 2.3522)
  local top = g:state().top
  t.eq(#top, 10)
  t.eq(top[1].player, "p12")
  t.eq(top[2].player, "p01", "ties are broken by player id")
  t.eq(top[10].player, "p09")
end

function test_too_fast_is_rejected_and_audited(t)
  local g = game.new { hunt = HUNT, step = 1000 }
  g:join("alice")
  g:move("alice", 48.8566, 2.3522) -- at b1
  -- 378 m in 1 s.
  local r = g:move("alice", 48.8600, 2.3522)
  t.eq(r.ok, false)
  t.eq(r.reason, "too_fast")
  local a = t.find(r.audit, "kind", "move_rejected")
  t.eq(a.data.reason, "too_fast")
  t.ok(a.data.speed_mps > 370, "speed in the audit row")
  t.eq(t.find(r.events, "type", "discovery"), nil)
  -- The speed is measured from the last accepted fix, not the rejected one.
  local s = g:session("alice")
  t.eq(s.lat, 48.8566)
  t.eq(s.rejects, 1)
end

function test_time_must_not_go_back(t)
  local g = new_game()
  g:join("alice")
  g:move("alice", 48.8566, 2.3522, 50000)
  local r = g:move("alice", 48.8567, 2.3522, 40000)
  t.eq(r.reason, "time_not_monotonic")
end

function test_move_before_join(t)
  local g = new_game()
  local r = g:move("mallory", 48.8566, 2.3522)
  t.eq(r.ok, false)
  t.eq(r.reason, "not_joined")
  t.eq(g:session("mallory").score, nil)
end

function test_leave_and_end(t)
  local g = new_game()
  g:join("alice")
  g:join("bob")
  g:move("bob", 48.8566, 2.3522)
  g:move("alice", 48.8566, 2.3522)
  local r = g:leave("alice")
  t.eq(t.find(r.audit, "kind", "leave").data, { score = 28, found = 1 })
  t.ok(g:session("alice").left_at ~= nil)
  r = g:finish()
  local ended = nil
  for _, e in ipairs(r.events) do
    if e.type == "hunt_ended" then ended = e end
  end
  t.eq(ended.data, { top = { { player = "bob", score = 33 }, { player = "alice", score = 28 } }, winners = { "bob" } })
  r = g:move("bob", 48.8600, 2.3522)
  t.eq(r.reason, "hunt_over")
end

function test_whole_walk_scores_every_beacon(t)
  local g = new_game()
  g:join("walker")
  local total = 0
  -- b1, then north to b2 at 1 m/s, then to b3.
  for _, p in ipairs({ { 48.8566, 2.3522 }, { 48.8600, 2.3522 }, { 48.8566, 2.3600 } }) do
    g:advance(600000)
    local r = g:move("walker", p[1], p[2])
    t.ok(r.ok, r.reason)
    total = t.find(r.events, "type", "discovery").data.score
  end
  -- 33 + (10 + 5 + 5) + (35 + 10 + 5)
  t.eq(total, 103)
end

function test_moves_after_leave_are_refused_until_a_new_join(t)
  local g = new_game()
  g:join("alice")
  t.ok(g:leave("alice").ok, "leave accepted")
  local r = g:move("alice", 48.8566, 2.3522) -- at b1
  t.eq(r.ok, false)
  t.eq(r.reason, "not_joined")
  t.eq(t.find(r.events, "type", "discovery"), nil, "no discovery after leaving")
  g:join("alice")
  r = g:move("alice", 48.8566, 2.3522)
  t.ok(r.ok, "a move after joining again is played")
  t.eq(t.find(r.events, "type", "discovery").data.beacon, "b1")
end
