-- make bench: one lead by id, random ids (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = get_lead
