-- make bench: 80 % reads, 20 % writes (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = mixed
