-- make bench: one feedback event on a lead in sales' hands (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = post_feedback
